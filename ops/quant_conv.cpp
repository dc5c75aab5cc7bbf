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
// The loop is Conv's direct loop (ops/conv_loop.h) in INT32 accumulators. Integer sums are
// exact, so any order gives the same bits, which is what lets the GPU kernels be compared
// bit for bit.
#include <algorithm>

#include "ops/conv.h"
#include "ops/conv_loop.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/quant_epilogue.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

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

struct Operands {
  const int8_t* x;
  const int8_t* w;
  const float* w_scale;
  const int32_t* bias;  // may be null
  const void* residual;  // may be null; int8 or float as the output
  void* y;
};

void qconv_cpu(const NodeDesc& n, const ConvGeom& g, const QuantAttrs& a, const Operands& op) {
  const bool int8_out = a.out_dtype == DType::kI8;
  conv_direct<int32_t>(g, op.x, op.w, [&](int64_t first, int64_t m, int64_t o0, int64_t o1, const int32_t* acc) {
    // The scales were checked before the loop, so this cannot fail.
    const ChannelQuant cq = channel_quant(n, a, op.w_scale[m], m).value();
    const int32_t bias = op.bias ? op.bias[m] : 0;
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
