// quench.Int8Conv: the INT8 convolution reference, in the "quench" domain (made by the INT8
// quantization pass, never by exporters).
//
//   Int8Conv  X int8, W int8 [M, C/group, k...], W_scale float32 [M], [B int32 [M]], [R]
//
// Conv's geometry attributes (group, strides, pads, dilations, auto_pad, kernel_shape) keep
// their ONNX names and meaning and go through the same checks (ops/conv.h), so depthwise is
// Int8Conv with group = C. The epilogue (bias, residual, activation, requantization to INT8
// or dequantization to float) and its attributes are ops/quant_epilogue.h's.
//
// The loop is Conv's direct loop in integers: one task per output row, INT32 accumulators on
// the stack, the valid range of the last output index computed per kernel position so the
// inner loop is a branch-free multiply-add. Integer sums are exact, so any order gives the
// same bits, which is what lets the GPU kernels be compared bit for bit.
#include <algorithm>

#include "ops/conv.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/quant_epilogue.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

constexpr int64_t kTile = 256;  // output positions per accumulator tile
constexpr size_t kResidual = 4;

int64_t reduction_of(const ConvGeom& g) {
  int64_t k = g.in_ch / g.group;
  for (int d = 0; d < g.win.rank; ++d) k *= g.win.kernel[d];
  return k;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, in[0].shape, in[1].shape));
  out[0].shape = conv_output_shape(g);
  QUENCH_TRY(check_quant_operands(n, in, g.out_ch, reduction_of(g), kResidual, out[0]));
  return check_output_size(n, out[0].shape, out[0].dtype);
}

// acc[i] += w * x[i * stride] for i in [0, len).
inline void axpy(int32_t* acc, const int8_t* x, int64_t stride, int64_t len, int32_t w) {
  if (stride == 1) {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * int32_t{x[i]};
  } else {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * int32_t{x[i * stride]};
  }
}

struct Operands {
  const int8_t* x;
  const int8_t* w;
  const float* w_scale;
  const int32_t* bias;  // may be null
  const void* residual;  // may be null; int8 or float as the output
  void* y;
};

void qconv_cpu(const NodeDesc& n, const ConvGeom& g, const QuantAttrs& a, const Operands& op) {
  Window win = g.win;
  // A 1x1 kernel with unit strides and no pads maps the spatial dims one to one: one long row.
  bool pointwise = true;
  for (int d = 0; d < win.rank; ++d)
    pointwise = pointwise && win.kernel[d] == 1 && win.stride[d] == 1 && win.pad_begin[d] == 0 && win.pad_end[d] == 0;
  if (pointwise) {
    int64_t plane = 1;
    for (int d = 0; d < win.rank; ++d) plane *= win.in[d];
    win.rank = 1;
    win.in[0] = win.out[0] = plane;
  }
  const int last = win.rank - 1;
  int64_t in_rows = 1, out_rows = 1, k_rows = 1;
  for (int d = 0; d < last; ++d) {
    in_rows *= win.in[d];
    out_rows *= win.out[d];
    k_rows *= win.kernel[d];
  }
  const int64_t in_w = win.in[last], out_w = win.out[last], k_w = win.kernel[last];
  const int64_t s_w = win.stride[last], d_w = win.dilation[last], p_w = win.pad_begin[last];
  const int64_t in_plane = in_rows * in_w, k_size = k_rows * k_w;
  const int64_t cg = g.in_ch / g.group, mg = g.out_ch / g.group;
  const int64_t tasks = g.batch * g.out_ch * out_rows;
  const int64_t task_cost = std::max<int64_t>(1, cg * k_size * std::min(out_w, kTile));
  const bool int8_out = a.out_dtype == DType::kI8;

  parallel_for(tasks, std::max<int64_t>(1, (int64_t{1} << 16) / task_cost), [&](int64_t t_begin, int64_t t_end) {
    int32_t acc[kTile];
    for (int64_t t = t_begin; t < t_end; ++t) {
      const int64_t r = t % out_rows, m = (t / out_rows) % g.out_ch, nb = t / (out_rows * g.out_ch);
      Index o{};
      for (int64_t d = last - 1, rem = r; d >= 0; --d) {
        o[d] = rem % win.out[d];
        rem /= win.out[d];
      }
      // The scales were checked before the loop, so this cannot fail.
      const ChannelQuant cq = channel_quant(n, a, op.w_scale[m], m).value();
      const int32_t bias = op.bias ? op.bias[m] : 0;
      const int8_t* xg = op.x + (nb * g.in_ch + (m / mg) * cg) * in_plane;
      const int8_t* wm = op.w + m * cg * k_size;
      for (int64_t o0 = 0; o0 < out_w; o0 += kTile) {
        const int64_t o1 = std::min(out_w, o0 + kTile);
        std::fill(acc, acc + (o1 - o0), 0);
        for (int64_t kr = 0; kr < k_rows; ++kr) {
          int64_t row = 0;
          bool inside = true;
          for (int64_t d = 0, rem = kr, div = k_rows; d < last; ++d) {
            div /= win.kernel[d];
            const int64_t k = rem / div;
            rem %= div;
            const int64_t i = o[d] * win.stride[d] - win.pad_begin[d] + k * win.dilation[d];
            inside = inside && i >= 0 && i < win.in[d];
            row = row * win.in[d] + i;
          }
          if (!inside) continue;
          for (int64_t kw = 0; kw < k_w; ++kw) {
            const int64_t base = kw * d_w - p_w;
            const int64_t lo = std::max(o0, ceil_div(-base, s_w)), hi = std::min(o1, ceil_div(in_w - base, s_w));
            if (lo >= hi) continue;
            for (int64_t c = 0; c < cg; ++c) {
              const int32_t wv = wm[c * k_size + kr * k_w + kw];
              axpy(acc + (lo - o0), xg + (c * in_plane + row * in_w + base + lo * s_w), s_w, hi - lo, wv);
            }
          }
        }
        const int64_t first = t * out_w;
        for (int64_t i = o0; i < o1; ++i) {
          const int64_t e = first + i;
          if (int8_out) {
            const int8_t* res = static_cast<const int8_t*>(op.residual);
            const int32_t total =
                quant::epilogue_accumulator(acc[i - o0], bias, res ? res[e] : 0, res != nullptr, cq.residual);
            static_cast<int8_t*>(op.y)[e] = epilogue_int8(a, cq, total);
          } else {
            const float* res = static_cast<const float*>(op.residual);
            const int32_t total = quant::epilogue_accumulator(acc[i - o0], bias, 0, false, cq.residual);
            static_cast<float*>(op.y)[e] = epilogue_float(a, cq, total, res ? res + e : nullptr);
          }
        }
      }
    }
  });
}

const void* data_or_null(std::span<const TensorView> in, size_t i) { return in.size() > i ? in[i].data : nullptr; }

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, in[0].shape, in[1].shape));
  const void* residual = data_or_null(in, kResidual);
  QUENCH_ASSIGN(QuantAttrs a, read_quant_attrs(n, residual != nullptr));
  const float* w_scale = in[2].as<const float>();
  for (int64_t m = 0; m < g.out_ch; ++m) QUENCH_TRY(channel_quant(n, a, w_scale[m], m).status());
  const Operands op{in[0].as<const int8_t>(), in[1].as<const int8_t>(), w_scale,
                    static_cast<const int32_t*>(data_or_null(in, 3)), residual, out[0].data};
  qconv_cpu(n, g, a, op);
  return {};
}

const OpSchema kSchemas[] = {
    {"Int8Conv", 3, 5, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> quant_conv_schemas() { return kSchemas; }

}  // namespace quench::ops
