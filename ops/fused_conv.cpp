// Fused convolution ops in the "quench" domain, made by the graph optimizer
// (engine/optimizer/) from ONNX node sequences; never written by exporters.
//
//   FusedConv         X, W, [B], [R]              Conv + epilogue (activation, residual R)
//   DwPwConv          X, Wd, [Bd], Wp, [Bp], [R]  depthwise KxK conv + activation, then a
//                                                 pointwise 1x1 conv + epilogue
//   InvertedResidual  X, We, [Be], Wd, [Bd], Wp, [Bp], [R]
//                     pointwise expand + activation, depthwise KxK + activation, pointwise
//                     project + epilogue (MobileNetV2's block; R is usually X)
//
// The Conv attributes (group, strides, pads, dilations, auto_pad, kernel_shape) keep their
// ONNX names and describe the one KxK conv; the pointwise stages are always 1x1, stride 1,
// no pads, group 1. Activations per stage follow ops/epilogue.h under the prefixes "",
// "dw_"/"pw_" and "expand_"/"dw_"/"project_". The CPU reference runs each stage with the
// Conv reference (ops/conv.h) and keeps the intermediates in the planner's workspace, so it
// equals the unfused sequence up to float rounding.
#include <algorithm>

#include "ops/conv.h"
#include "ops/epilogue.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

constexpr StageAttrs kDw{"dw_activation", "dw_activation_alpha", "dw_activation_beta"};
constexpr StageAttrs kPw{"pw_activation", "pw_activation_alpha", "pw_activation_beta"};
constexpr StageAttrs kExpand{"expand_activation", "expand_activation_alpha", "expand_activation_beta"};
constexpr StageAttrs kProject{"project_activation", "project_activation_alpha", "project_activation_beta"};

// Workspace regions start 64-byte aligned, like the workspace itself.
constexpr size_t align64(size_t b) { return (b + 63) & ~size_t{63}; }

// A stage's output dims [N, C, spatial...], on the stack: run functions allocate nothing.
struct Dims {
  int rank = 0;
  Index d{};
  std::span<const int64_t> span() const { return {d.data(), static_cast<size_t>(rank)}; }
  Shape shape() const { return Shape(d.begin(), d.begin() + rank); }
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < rank; ++i) p *= d[i];
    return p;
  }
};

Dims out_dims(const ConvGeom& g) {
  Dims r;
  r.rank = g.win.rank + 2;
  r.d[0] = g.batch;
  r.d[1] = g.out_ch;
  for (int i = 0; i < g.win.rank; ++i) r.d[i + 2] = g.win.out[i];
  return r;
}

// An intermediate tensor (kept in the workspace) as the next stage's checks see it.
ValueDesc intermediate(DType t, const Dims& d) {
  ValueDesc v;
  v.dtype = t;
  v.shape = d.shape();
  return v;
}

Shape span_shape(std::span<const int64_t> s) { return Shape(s.begin(), s.end()); }

const TensorView* optional_input(std::span<const TensorView> in, size_t i) {
  return in.size() > i && in[i].data ? &in[i] : nullptr;
}
bool has_input(std::span<const ValueDesc> in, size_t i) { return in.size() > i && in[i].present; }

// A stage's operands (input, weight, optional bias) as Conv's own checks see them.
Status check_stage(const NodeDesc& n, const ValueDesc& x, std::span<const ValueDesc> in, size_t w, size_t b,
                   int64_t out_ch) {
  ValueDesc absent;
  absent.present = false;
  ValueDesc ops[3] = {x, in[w], has_input(in, b) ? in[b] : absent};
  return check_conv_operands(n, ops, out_ch);
}

// A pointwise stage over input `x` with weight `w`: [M, C, 1, ...] of x's rank, C = x's channels.
Result<ConvGeom> pointwise(const NodeDesc& n, std::string_view stage, std::span<const int64_t> x,
                           std::span<const int64_t> w) {
  bool ok = w.size() == x.size() && x.size() >= 3 && x.size() <= kMaxRank && w[1] == x[1];
  for (size_t d = 2; ok && d < w.size(); ++d) ok = w[d] == 1;
  if (!ok)
    return error(StatusCode::kShapeError, n.where(), ": the ", stage, " weight has shape ", shape_str(span_shape(w)),
                 "; a 1x1 conv over an input of shape ", shape_str(span_shape(x)), " needs [M, ",
                 x.size() >= 2 ? x[1] : 0, ", 1...]");
  return pointwise_geometry(x[0], x[1], w[0], x.subspan(2));
}

// The KxK stage must be depthwise: one input channel per group, as many outputs as inputs.
Result<ConvGeom> depthwise(const NodeDesc& n, std::span<const int64_t> x, std::span<const int64_t> w) {
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, x, w));
  if (g.group != g.in_ch || g.out_ch != g.in_ch)
    return error(StatusCode::kShapeError, n.where(), ": the KxK stage must be depthwise (group = channels = ",
                 g.in_ch, "), got group ", g.group, " and ", g.out_ch, " output channels");
  return g;
}

// The residual input, when present, must have the output's exact type and shape.
Status check_residual(const NodeDesc& n, std::span<const ValueDesc> in, size_t r, const ValueDesc& out) {
  if (!has_input(in, r)) return {};
  if (in[r].dtype != out.dtype || in[r].shape != out.shape)
    return error(StatusCode::kShapeError, n.where(), ": the residual input is ", dtype_name(in[r].dtype),
                 shape_str(in[r].shape), " but the output is ", dtype_name(out.dtype), shape_str(out.shape),
                 "; they must match exactly");
  QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
  if (after != 0 && after != 1)
    return error(StatusCode::kInvalidArgument, n.where(), ": ", kResidualAfterAttr, " must be 0 or 1, got ", after);
  return {};
}

Result<bool> residual_after(const NodeDesc& n) {
  QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
  return after != 0;
}

const void* data_or_null(const TensorView* v) { return v ? v->data : nullptr; }

// ---- FusedConv: X, W, [B], [R] ---------------------------------------------------------------

Status fused_conv_infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, in[0].shape, in[1].shape));
  QUENCH_TRY(check_stage(n, in[0], in, 1, 2, g.out_ch));
  QUENCH_TRY(check_activation(n, kActivationAttrs));
  out[0].dtype = in[0].dtype;
  out[0].shape = conv_output_shape(g);
  QUENCH_TRY(check_output_size(n, out[0].shape, out[0].dtype));
  return check_residual(n, in, 3, out[0]);
}

Status fused_conv_run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, in[0].shape, in[1].shape));
  QUENCH_ASSIGN(Activation act, read_activation(n, kActivationAttrs));
  QUENCH_ASSIGN(bool after, residual_after(n));
  QUENCH_TRY(conv_forward(n, in[0].dtype, g, in[0].data, in[1].data, data_or_null(optional_input(in, 2)), out[0].data));
  return apply_epilogue(n, in[0].dtype, out[0].data, data_or_null(optional_input(in, 3)), out[0].numel(), act, after);
}

// ---- DwPwConv: X, Wd, [Bd], Wp, [Bp], [R] ----------------------------------------------------

struct DwPwGeom {
  ConvGeom dw, pw;
};

Result<DwPwGeom> dw_pw_geometry(const NodeDesc& n, const Shape& x, const Shape& wd, const Shape& wp) {
  DwPwGeom g;
  QUENCH_ASSIGN(g.dw, depthwise(n, x, wd));
  QUENCH_ASSIGN(g.pw, pointwise(n, "pointwise", out_dims(g.dw).span(), wp));
  return g;
}

Status dw_pw_infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(DwPwGeom g, dw_pw_geometry(n, in[0].shape, in[1].shape, in[3].shape));
  QUENCH_TRY(check_stage(n, in[0], in, 1, 2, g.dw.out_ch));
  const ValueDesc mid = intermediate(in[0].dtype, out_dims(g.dw));
  QUENCH_TRY(check_output_size(n, mid.shape, mid.dtype));
  QUENCH_TRY(check_stage(n, mid, in, 3, 4, g.pw.out_ch));
  QUENCH_TRY(check_activation(n, kDw));
  QUENCH_TRY(check_activation(n, kPw));
  out[0].dtype = in[0].dtype;
  out[0].shape = conv_output_shape(g.pw);
  QUENCH_TRY(check_output_size(n, out[0].shape, out[0].dtype));
  return check_residual(n, in, 5, out[0]);
}

size_t dw_pw_workspace(const NodeDesc& n, std::span<const ValueDesc> in, std::span<const ValueDesc>) {
  auto g = dw_pw_geometry(n, in[0].shape, in[1].shape, in[3].shape);
  if (!g.ok()) return 0;  // infer has refused the node already
  return align64(static_cast<size_t>(out_dims(g->dw).numel()) * dtype_size(in[0].dtype));
}

Status dw_pw_run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void* ws) {
  QUENCH_ASSIGN(DwPwGeom g, dw_pw_geometry(n, in[0].shape, in[1].shape, in[3].shape));
  QUENCH_ASSIGN(Activation dw_act, read_activation(n, kDw));
  QUENCH_ASSIGN(Activation pw_act, read_activation(n, kPw));
  QUENCH_ASSIGN(bool after, residual_after(n));
  if (!ws) return error(StatusCode::kInternal, n.where(), ": no workspace for the depthwise output");
  const DType t = in[0].dtype;
  QUENCH_TRY(conv_forward(n, t, g.dw, in[0].data, in[1].data, data_or_null(optional_input(in, 2)), ws));
  QUENCH_TRY(apply_epilogue(n, t, ws, nullptr, out_dims(g.dw).numel(), dw_act, false));
  QUENCH_TRY(conv_forward(n, t, g.pw, ws, in[3].data, data_or_null(optional_input(in, 4)), out[0].data));
  return apply_epilogue(n, t, out[0].data, data_or_null(optional_input(in, 5)), out[0].numel(), pw_act, after);
}

// ---- InvertedResidual: X, We, [Be], Wd, [Bd], Wp, [Bp], [R] ----------------------------------

struct IrGeom {
  ConvGeom expand, dw, project;
  size_t expand_bytes = 0, dw_bytes = 0;  // workspace regions, aligned
};

Result<IrGeom> ir_geometry(const NodeDesc& n, const Shape& x, const Shape& we, const Shape& wd,
                           const Shape& wp, DType t) {
  IrGeom g;
  QUENCH_ASSIGN(g.expand, pointwise(n, "expand", x, we));
  QUENCH_ASSIGN(g.dw, depthwise(n, out_dims(g.expand).span(), wd));
  QUENCH_ASSIGN(g.project, pointwise(n, "project", out_dims(g.dw).span(), wp));
  g.expand_bytes = align64(static_cast<size_t>(out_dims(g.expand).numel()) * dtype_size(t));
  g.dw_bytes = align64(static_cast<size_t>(out_dims(g.dw).numel()) * dtype_size(t));
  return g;
}

Status ir_infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(IrGeom g, ir_geometry(n, in[0].shape, in[1].shape, in[3].shape, in[5].shape, in[0].dtype));
  QUENCH_TRY(check_stage(n, in[0], in, 1, 2, g.expand.out_ch));
  const ValueDesc expanded = intermediate(in[0].dtype, out_dims(g.expand));
  QUENCH_TRY(check_output_size(n, expanded.shape, expanded.dtype));
  QUENCH_TRY(check_stage(n, expanded, in, 3, 4, g.dw.out_ch));
  const ValueDesc filtered = intermediate(in[0].dtype, out_dims(g.dw));
  QUENCH_TRY(check_output_size(n, filtered.shape, filtered.dtype));
  QUENCH_TRY(check_stage(n, filtered, in, 5, 6, g.project.out_ch));
  QUENCH_TRY(check_activation(n, kExpand));
  QUENCH_TRY(check_activation(n, kDw));
  QUENCH_TRY(check_activation(n, kProject));
  out[0].dtype = in[0].dtype;
  out[0].shape = conv_output_shape(g.project);
  QUENCH_TRY(check_output_size(n, out[0].shape, out[0].dtype));
  return check_residual(n, in, 7, out[0]);
}

size_t ir_workspace(const NodeDesc& n, std::span<const ValueDesc> in, std::span<const ValueDesc>) {
  auto g = ir_geometry(n, in[0].shape, in[1].shape, in[3].shape, in[5].shape, in[0].dtype);
  return g.ok() ? g->expand_bytes + g->dw_bytes : 0;
}

Status ir_run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void* ws) {
  const DType t = in[0].dtype;
  QUENCH_ASSIGN(IrGeom g, ir_geometry(n, in[0].shape, in[1].shape, in[3].shape, in[5].shape, t));
  QUENCH_ASSIGN(Activation expand_act, read_activation(n, kExpand));
  QUENCH_ASSIGN(Activation dw_act, read_activation(n, kDw));
  QUENCH_ASSIGN(Activation project_act, read_activation(n, kProject));
  QUENCH_ASSIGN(bool after, residual_after(n));
  if (!ws) return error(StatusCode::kInternal, n.where(), ": no workspace for the expanded tensors");
  void* expanded = ws;
  void* filtered = static_cast<std::byte*>(ws) + g.expand_bytes;
  QUENCH_TRY(conv_forward(n, t, g.expand, in[0].data, in[1].data, data_or_null(optional_input(in, 2)), expanded));
  QUENCH_TRY(apply_epilogue(n, t, expanded, nullptr, out_dims(g.expand).numel(), expand_act, false));
  QUENCH_TRY(conv_forward(n, t, g.dw, expanded, in[3].data, data_or_null(optional_input(in, 4)), filtered));
  QUENCH_TRY(apply_epilogue(n, t, filtered, nullptr, out_dims(g.dw).numel(), dw_act, false));
  QUENCH_TRY(conv_forward(n, t, g.project, filtered, in[5].data, data_or_null(optional_input(in, 6)), out[0].data));
  return apply_epilogue(n, t, out[0].data, data_or_null(optional_input(in, 7)), out[0].numel(), project_act, after);
}

const OpSchema kSchemas[] = {
    {"FusedConv", 2, 4, 1, 1, fused_conv_infer, fused_conv_run, nullptr},
    {"DwPwConv", 4, 6, 1, 1, dw_pw_infer, dw_pw_run, dw_pw_workspace},
    {"InvertedResidual", 6, 8, 1, 1, ir_infer, ir_run, ir_workspace},
};

}  // namespace

std::span<const OpSchema> fused_conv_schemas() { return kSchemas; }

}  // namespace quench::ops
