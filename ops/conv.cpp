// Conv: N-d convolution over NCHW-style input (1 to 6 spatial dims) with groups (depthwise
// included), strides, dilations, explicit pads or auto_pad, and an optional bias.
//
// The CPU reference is a direct loop, no im2col: one task per output row (n, m, all spatial
// indices but the last), accumulating in doubles. For every kernel position the valid range of
// the last output index is computed up front, so the innermost loop is a branch-free
// acc[i] += w * x[i * stride] that the compiler vectorizes.
#include <algorithm>

#include "ops/conv.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

// Output positions accumulated at once, per task, on the stack.
constexpr int64_t kTile = 256;

// Checks the input and weight shapes against each other and the attributes; shared by infer
// and run so both see the same geometry.
// Spans, so that fused ops can pass an intermediate's dims from the stack.
Result<ConvGeom> geometry(const NodeDesc& n, std::span<const int64_t> x, std::span<const int64_t> w) {
  if (x.size() < 3 || x.size() > kMaxRank)
    return error(StatusCode::kShapeError, n.where(), ": input has shape ", shape_str(Shape(x.begin(), x.end())),
                 "; Conv needs [N, C, spatial...] with 1 to ", kMaxRank - 2, " spatial dims");
  if (w.size() != x.size())
    return error(StatusCode::kShapeError, n.where(), ": weight has shape ", shape_str(Shape(w.begin(), w.end())),
                 " but input has rank ", x.size(), "; the weight must be [M, C/group, kernel...] of the same rank");
  ConvGeom g;
  QUENCH_ASSIGN(g.group, int_attr(n, "group", 1));
  if (g.group < 1) return error(StatusCode::kInvalidArgument, n.where(), ": group must be >= 1, got ", g.group);
  g.batch = x[0];
  g.in_ch = x[1];
  g.out_ch = w[0];
  if (x[1] % g.group != 0 || w[1] != x[1] / g.group)
    return error(StatusCode::kShapeError, n.where(), ": weight has ", w[1], " input channels but input has ", x[1],
                 " (group ", g.group, ")");
  if (g.out_ch % g.group != 0)
    return error(StatusCode::kShapeError, n.where(), ": weight has ", g.out_ch,
                 " output channels, which group ", g.group, " does not divide");
  const int rank = static_cast<int>(x.size()) - 2;
  QUENCH_ASSIGN(WindowAttrs a, parse_window(n, rank, w.subspan(2), false));
  QUENCH_ASSIGN(g.win, resolve_window(n, a, x.subspan(2)));
  return g;
}

Shape output_shape(const ConvGeom& g) {
  Shape s{g.batch, g.out_ch};
  for (int d = 0; d < g.win.rank; ++d) s.push_back(g.win.out[d]);
  return s;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(ConvGeom g, geometry(n, in[0].shape, in[1].shape));
  QUENCH_TRY(check_conv_operands(n, in, g.out_ch));
  out[0].dtype = in[0].dtype;
  out[0].shape = output_shape(g);
  return check_output_size(n, out[0].shape, out[0].dtype);
}

// acc[i] += w * x[i * stride] for i in [0, len): the one hot loop, kept trivial for the vectorizer.
template <class T>
inline void axpy(double* acc, const T* x, int64_t stride, int64_t len, double w) {
  if (stride == 1) {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * static_cast<double>(x[i]);
  } else {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * static_cast<double>(x[i * stride]);
  }
}

template <class T>
void conv_cpu(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  Window win = g.win;
  // A 1x1 kernel with unit strides and no pads maps the spatial dims one to one: treat them as
  // one long row, so the inner loop runs over the whole plane instead of one short row.
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

  parallel_for(tasks, std::max<int64_t>(1, (int64_t{1} << 16) / task_cost), [&](int64_t t_begin, int64_t t_end) {
    double acc[kTile];
    for (int64_t t = t_begin; t < t_end; ++t) {
      const int64_t r = t % out_rows, m = (t / out_rows) % g.out_ch, nb = t / (out_rows * g.out_ch);
      Index o{};  // output index of this row, spatial dims but the last
      for (int64_t d = last - 1, rem = r; d >= 0; --d) {
        o[d] = rem % win.out[d];
        rem /= win.out[d];
      }
      const T* xg = x + (nb * g.in_ch + (m / mg) * cg) * in_plane;  // first input channel of m's group
      const T* wm = w + m * cg * k_size;
      T* yrow = y + t * out_w;
      const double bias = b ? static_cast<double>(b[m]) : 0.0;
      for (int64_t o0 = 0; o0 < out_w; o0 += kTile) {
        const int64_t o1 = std::min(out_w, o0 + kTile);
        std::fill(acc, acc + (o1 - o0), 0.0);
        for (int64_t kr = 0; kr < k_rows; ++kr) {
          // The input row this kernel row reads, or none when it falls in the padding.
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
            // Output ow reads input column ow * s_w + base; keep those inside [0, in_w).
            const int64_t base = kw * d_w - p_w;
            const int64_t lo = std::max(o0, ceil_div(-base, s_w)), hi = std::min(o1, ceil_div(in_w - base, s_w));
            if (lo >= hi) continue;
            for (int64_t c = 0; c < cg; ++c) {
              const double wv = static_cast<double>(wm[c * k_size + kr * k_w + kw]);
              axpy(acc + (lo - o0), xg + (c * in_plane + row * in_w + base + lo * s_w), s_w, hi - lo, wv);
            }
          }
        }
        for (int64_t i = o0; i < o1; ++i) yrow[i] = static_cast<T>(acc[i - o0] + bias);
      }
    }
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(ConvGeom g, geometry(n, in[0].shape, in[1].shape));
  const bool has_bias = in.size() > 2 && in[2].data != nullptr;
  return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    conv_cpu<T>(g, in[0].as<T>(), in[1].as<T>(), has_bias ? in[2].as<T>() : nullptr, out[0].as<T>());
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"Conv", 2, 3, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> conv_schemas() { return kSchemas; }

Result<ConvGeom> conv_geometry(const NodeDesc& n, std::span<const int64_t> x, std::span<const int64_t> w) {
  return geometry(n, x, w);
}

ConvGeom pointwise_geometry(int64_t batch, int64_t in_ch, int64_t out_ch, std::span<const int64_t> spatial) {
  ConvGeom g;
  g.batch = batch;
  g.in_ch = in_ch;
  g.out_ch = out_ch;
  g.win.rank = static_cast<int>(spatial.size());
  for (int d = 0; d < g.win.rank; ++d) {
    g.win.kernel[d] = g.win.stride[d] = g.win.dilation[d] = 1;
    g.win.in[d] = g.win.out[d] = spatial[d];
  }
  return g;
}

Shape conv_output_shape(const ConvGeom& g) { return output_shape(g); }

Status conv_forward(const NodeDesc& n, DType dtype, const ConvGeom& g, const void* x, const void* w, const void* b,
                    void* y) {
  return dispatch_float(dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    conv_cpu<T>(g, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b), static_cast<T*>(y));
    return {};
  });
}

}  // namespace quench::ops
