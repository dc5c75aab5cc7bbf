// Conv: N-d convolution over NCHW-style input (1 to 6 spatial dims) with groups (depthwise
// included), strides, dilations, explicit pads or auto_pad, and an optional bias.
//
// The CPU reference is ops/conv_loop.h's direct loop, accumulating in doubles.
#include <algorithm>

#include "ops/conv.h"
#include "ops/conv_loop.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

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

template <class T>
void conv_cpu(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  conv_direct<double>(g, x, w, [&](int64_t first, int64_t m, int64_t o0, int64_t o1, const double* acc) {
    const double bias = b ? static_cast<double>(b[m]) : 0.0;
    for (int64_t i = o0; i < o1; ++i) y[first + i] = static_cast<T>(acc[i - o0] + bias);
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
