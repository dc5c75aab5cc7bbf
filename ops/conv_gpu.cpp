// The CUDA kernels for the convolution family (ops/conv.cpp, ops/fused_conv.cpp):
//
//   Conv, FusedConv    one stage
//   DwPwConv           one kernels/fused/dw_pw launch (the depthwise output stays on chip) when
//                      that kernel accepts the shapes; else depthwise stage -> arena workspace ->
//                      pointwise stage
//   InvertedResidual   expand -> workspace -> one dw_pw launch (depthwise + project) when that
//                      kernel accepts the shapes; else expand -> workspace -> depthwise ->
//                      workspace -> project
//
// A stage is a 2-D convolution on NHWC float16. Depthwise stages (group = C = Cout, square 3x3
// or 5x5 kernel, equal strides 1 or 2, no dilation) run kernels/depthwise; every other stage
// runs kernels/conv, whose own plan picks the 1x1 GEMM path, the vectorized or the general
// implicit GEMM. A depthwise stage followed by the node's last, pointwise stage (all of DwPwConv,
// InvertedResidual's depthwise + project) runs as one fused kernel when kernels/fused/dw_pw's
// can_implement accepts its shapes (C % 8 == 0, square 3x3/5x5, stride 1 or 2, no dilation),
// reading the same packed weights as the stages; otherwise the stages run in sequence. The
// stored intermediates live in the node's arena workspace.
//
// Weights are transformed once at build: kernels/conv's packed [Cout][KH][KW][Cin/g] rows or
// depthwise [KH][KW][C], biases in float32. A HardSigmoid activation without a residual
// (MobileNetV3's squeeze-excite gate) has no kernel form, but clip(alpha * y + beta, 0, 1) is a
// Clip(0, 1) of a convolution whose weights are scaled by alpha and bias is alpha * b + beta:
// that is what is packed.
#include <cfloat>
#include <sstream>

#include "kernels/conv/conv.cuh"
#include "kernels/depthwise/depthwise.cuh"
#include "kernels/fused/dw_pw.cuh"
#include "ops/conv.h"
#include "ops/conv_gpu_shape.h"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kc = kernels::conv;
namespace kd = kernels::depthwise;
namespace kf = kernels::dw_pw;

constexpr StageAttrs kDw{"dw_activation", "dw_activation_alpha", "dw_activation_beta"};
constexpr StageAttrs kPw{"pw_activation", "pw_activation_alpha", "pw_activation_beta"};
constexpr StageAttrs kExpand{"expand_activation", "expand_activation_alpha", "expand_activation_beta"};
constexpr StageAttrs kProject{"project_activation", "project_activation_alpha", "project_activation_beta"};

// Where a stage's operands sit among the node's inputs, and which attributes name its activation.
struct StageSpec {
  size_t weight, bias;  // input indices
  StageAttrs act;
  bool kxk;             // the conv the node's attributes describe; else a pointwise 1x1 stage
  bool last;            // the node's output stage: takes the residual
};

// One convolution stage, decided at build.
struct Stage {
  bool depthwise = false;
  kc::ConvShape shape;
  kernels::EpilogueParams epilogue;
  float scale = 1.0f, shift = 0.0f;  // folded HardSigmoid: w * scale, b * scale + shift
  int64_t out_h = 0, out_w = 0;

  int64_t out_numel() const { return shape.n * out_h * out_w * shape.out_c; }
};

size_t residual_index(std::string_view op) {
  if (op == "FusedConv") return 3;
  if (op == "DwPwConv") return 5;
  if (op == "InvertedResidual") return 7;
  return SIZE_MAX;  // Conv
}

std::vector<StageSpec> stage_specs(std::string_view op) {
  if (op == "DwPwConv") return {{1, 2, kDw, true, false}, {3, 4, kPw, false, true}};
  if (op == "InvertedResidual")
    return {{1, 2, kExpand, false, false}, {3, 4, kDw, true, false}, {5, 6, kProject, false, true}};
  return {{1, 2, kActivationAttrs, true, true}};
}

bool has(std::span<const GpuValueDesc> in, size_t i) { return i < in.size() && in[i].present; }

// The stage's geometry from the ONNX rules (ops/conv.h) over the logical input dims `x`.
Result<Stage> make_stage(const NodeDesc& n, const Shape& x, const GpuValueDesc& w, const StageSpec& spec,
                         bool residual, bool residual_after) {
  ConvGeom g;
  if (!spec.kxk) {  // the fused ops' 1x1 stages (ops/fused_conv.cpp): stride 1, no pads, group 1
    if (x.size() != 4 || w.shape.size() != 4 || w.shape[1] != x[1] || w.shape[2] != 1 || w.shape[3] != 1)
      return gpu_unsupported(n, "a pointwise stage that is not a 2-D 1x1 convolution");
    g = pointwise_geometry(x[0], x[1], w.shape[0], std::span<const int64_t>(x.data() + 2, 2));
  } else {
    QUENCH_ASSIGN(g, conv_geometry(n, x, w.shape));
  }
  Stage s;
  QUENCH_ASSIGN(s.shape, kernel_conv_shape(n, g));
  s.out_h = g.win.out[0];
  s.out_w = g.win.out[1];
  s.depthwise = depthwise_form(s.shape);

  QUENCH_ASSIGN(Activation act, read_activation(n, spec.act));
  const bool has_residual = spec.last && residual;
  if (act.kind == ActKind::kHardSigmoid) {
    if (has_residual) return gpu_unsupported(n, "HardSigmoid with a residual input");
    s.scale = static_cast<float>(act.params.alpha);
    s.shift = static_cast<float>(act.params.beta);
    act = Activation{};
    act.kind = ActKind::kClip;
    act.params.lo = 0.0;
    act.params.hi = 1.0;
  }
  QUENCH_ASSIGN(s.epilogue, kernel_epilogue(n, act, spec.last && residual_after));
  return s;
}

// Names the transform of a weight (with its shape, since reshaped views share their bytes).
std::string transform_name(const char* base, const Stage& s, const Tensor& t) {
  std::ostringstream os;
  os << base << shape_str(t.shape());
  if (s.scale != 1.0f || s.shift != 0.0f) os << ".affine(" << s.scale << "," << s.shift << ")";
  return os.str();
}

kd::DepthwiseArgs<__half> depthwise_args(const Stage& s) {
  kd::DepthwiseArgs<__half> a;
  a.n = s.shape.n;
  a.h = s.shape.h;
  a.w = s.shape.w;
  a.c = s.shape.c;
  a.kernel = s.shape.kernel_h;
  a.stride = s.shape.stride_h;
  a.pad_top = s.shape.pad_top;
  a.pad_left = s.shape.pad_left;
  a.pad_bottom = s.shape.pad_bottom;
  a.pad_right = s.shape.pad_right;
  a.epilogue = s.epilogue;
  return a;
}

kc::ConvArgs<__half> conv_args(const Stage& s) {
  kc::ConvArgs<__half> a;
  a.shape = s.shape;
  a.epilogue = s.epilogue;
  return a;
}

// Packs the stage's weight and bias into the sink; appends their indices to `out.weights`.
Status prepare_weights(const NodeDesc& n, const Stage& s, const GpuValueDesc& w, const GpuValueDesc* b,
                       WeightSink& sink, GpuPrepared& out) {
  if (!w.constant) return gpu_unsupported(n, "a convolution whose weight is not a constant");
  if (b && !b->constant) return gpu_unsupported(n, "a convolution whose bias is not a constant");
  const Tensor& wt = *w.constant;
  QUENCH_ASSIGN(int wi, find_or_add_weight(sink, wt.data(), transform_name(s.depthwise ? "depthwise.khwc" : "conv.packed", s, wt),
                                           [&]() -> Result<std::vector<std::byte>> {
    QUENCH_ASSIGN(std::vector<float> f, host_floats(n, wt));
    for (float& v : f) v *= s.scale;
    if (s.depthwise) {  // ONNX [C, 1, KH, KW] -> [KH, KW, C]
      const int64_t c = s.shape.c, kk = int64_t{s.shape.kernel_h} * s.shape.kernel_w;
      std::vector<float> t(f.size());
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t k = 0; k < kk; ++k) t[k * c + ch] = f[ch * kk + k];
      return as_bytes_vector(to_half_bits(t));
    }
    std::vector<__half> packed(static_cast<size_t>(kc::packed_weight_count(s.shape)));
    QUENCH_TRY(kc::pack_weights<__half>(s.shape, f.data(), packed.data()).with_context(n.where()));
    return as_bytes_vector(packed);
  }));
  out.weights.push_back(wi);
  if (!b && s.shift == 0.0f) {
    out.weights.push_back(-1);  // no bias
    return {};
  }
  const void* source = b ? b->constant->data() : wt.data();
  QUENCH_ASSIGN(int bi, find_or_add_weight(sink, source, transform_name(b ? "bias.f32" : "bias.none.f32", s, b ? *b->constant : wt),
                                           [&]() -> Result<std::vector<std::byte>> {
    std::vector<float> f(static_cast<size_t>(s.shape.out_c), 0.0f);
    if (b) {
      QUENCH_ASSIGN(f, host_floats(n, *b->constant));
      if (static_cast<int64_t>(f.size()) != s.shape.out_c) return gpu_unsupported(n, "a bias that is not [Cout]");
    }
    for (float& v : f) v = v * s.scale + s.shift;
    return as_bytes_vector(f);
  }));
  out.weights.push_back(bi);
  return {};
}

struct Geometry {
  std::vector<Stage> stages;
  std::vector<size_t> region;  // workspace offset of each stage's output (all but the last)
  size_t workspace = 0;
  // The depthwise stage that runs fused with the pointwise stage after it (the node's last) as
  // one kernels/fused/dw_pw launch, its output never stored; none when the kernel refuses them.
  static constexpr size_t kNone = SIZE_MAX;
  size_t fused = kNone;
};

// The fused depthwise-separable kernel's arguments for a depthwise stage and the pointwise stage
// after it (pointers unset).
kf::DwPwArgs<__half> fused_args(const Stage& dw, const Stage& pw) {
  kf::DwPwArgs<__half> a;
  a.n = dw.shape.n;
  a.h = dw.shape.h;
  a.w = dw.shape.w;
  a.c = dw.shape.c;
  a.out_c = pw.shape.out_c;
  a.kernel = dw.shape.kernel_h;
  a.stride = dw.shape.stride_h;
  a.dilation = dw.shape.dilation_h;
  a.pad_top = dw.shape.pad_top;
  a.pad_left = dw.shape.pad_left;
  a.pad_bottom = dw.shape.pad_bottom;
  a.pad_right = dw.shape.pad_right;
  a.dw_epilogue = dw.epilogue;
  a.ldw = kc::packed_k(pw.shape);
  a.epilogue = pw.epilogue;
  return a;
}

// Which depthwise stage runs fused with the final pointwise stage: DwPwConv's first, or
// InvertedResidual's second (its expand stage stays a separate launch), when the fused kernel
// accepts the shapes. Decided on the shapes alone (stand-in pointers, all aligned), so that
// prepare and bind agree; bind checks the real pointers again.
size_t fused_stage(std::string_view op, const std::vector<Stage>& stages) {
  size_t i = Geometry::kNone;
  if (op == "DwPwConv" && stages.size() == 2) i = 0;
  if (op == "InvertedResidual" && stages.size() == 3) i = 1;
  if (i == Geometry::kNone || !stages[i].depthwise || stages[i + 1].depthwise) return Geometry::kNone;
  kf::DwPwArgs<__half> a = fused_args(stages[i], stages[i + 1]);
  a.x = probe_ptr<__half>(0);
  a.y = probe_ptr<__half>(1);
  a.dw_weight = probe_ptr<__half>(2);
  a.pw_weight = probe_ptr<__half>(3);
  return kf::can_implement(a).ok() ? i : Geometry::kNone;
}

Result<Geometry> geometry(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  if (in[0].layout != GpuLayout::kNHWC || in[0].shape.size() != 4)
    return gpu_unsupported(n, "a convolution over a ", in[0].shape.size(), "-D input (2-D NHWC only)");
  if (in[0].dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  const size_t r = residual_index(n.op_type);
  const bool residual = has(in, r);
  QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
  Geometry geo;
  Shape x = in[0].shape;
  const auto specs = stage_specs(n.op_type);
  for (size_t i = 0; i < specs.size(); ++i) {
    QUENCH_ASSIGN(Stage s, make_stage(n, x, in[specs[i].weight], specs[i], residual, after != 0));
    x = {s.shape.n, s.shape.out_c, s.out_h, s.out_w};
    geo.stages.push_back(s);
  }
  if (residual && (in[r].layout != GpuLayout::kNHWC || in[r].shape != x))
    return gpu_unsupported(n, "a residual input of another shape or layout");
  geo.fused = fused_stage(n.op_type, geo.stages);
  // Workspace regions for the intermediates that are stored: every stage's output but the last
  // and the fused depthwise stage's.
  for (size_t i = 0; i + 1 < geo.stages.size(); ++i) {
    geo.region.push_back(geo.workspace);
    if (i != geo.fused) geo.workspace += align_up_256(static_cast<size_t>(geo.stages[i].out_numel()) * sizeof(__half));
  }
  return geo;
}

bool accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  return in[0].layout == GpuLayout::kNHWC;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(Geometry geo, geometry(n, a.inputs));
  const auto specs = stage_specs(n.op_type);
  for (size_t i = 0; i < geo.stages.size(); ++i) {
    const Stage& s = geo.stages[i];
    const GpuValueDesc* b = has(a.inputs, specs[i].bias) ? &a.inputs[specs[i].bias] : nullptr;
    // The same packed weights serve the fused kernel and the stages.
    QUENCH_TRY(prepare_weights(n, s, a.inputs[specs[i].weight], b, a.weights, out));
    out.claim(specs[i].weight);
    if (b) out.claim(specs[i].bias);
    if (geo.fused != Geometry::kNone && (i == geo.fused || i == geo.fused + 1)) continue;  // checked by fused_stage
    // The kernels' own contracts, on the shapes (pointers are stand-ins: nothing runs).
    if (s.depthwise) {
      kd::DepthwiseArgs<__half> d = depthwise_args(s);
      d.x = probe_ptr<__half>(0);
      d.y = probe_ptr<__half>(1);
      d.weight = probe_ptr<__half>(2);
      QUENCH_TRY(kd::can_implement(d).with_context(n.where()));
    } else {
      kc::ConvArgs<__half> c = conv_args(s);
      c.x = probe_ptr<__half>(0);
      c.y = probe_ptr<__half>(1);
      c.weight = probe_ptr<__half>(2);
      QUENCH_TRY(kc::can_implement(c).with_context(n.where()));
      out.persistent_bytes = std::max(out.persistent_bytes, kc::workspace_bytes(c, a.multiprocessors));
    }
  }
  out.workspace_bytes = geo.workspace;
  return {};
}

enum class StageKernel { kDepthwise, kConv, kFused };

struct BoundStage {
  StageKernel kernel = StageKernel::kConv;
  kc::ConvArgs<__half> conv;
  kd::DepthwiseArgs<__half> dw;
  kf::DwPwArgs<__half> fused;
};

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(Geometry geo, geometry(n, descs_of(a.inputs)));
  const size_t r = residual_index(n.op_type);
  const __half* residual = r < a.inputs.size() && a.inputs[r].present() ? half_ptr(a.inputs[r].data) : nullptr;
  std::vector<BoundStage> bound;
  const __half* x = half_ptr(a.inputs[0].data);
  for (size_t i = 0; i < geo.stages.size(); ++i) {
    const Stage& s = geo.stages[i];
    BoundStage bs;
    if (i == geo.fused) {  // this depthwise stage and the last, pointwise one: one launch
      bs.kernel = StageKernel::kFused;
      bs.fused = fused_args(s, geo.stages[i + 1]);
      bs.fused.x = x;
      bs.fused.dw_weight = static_cast<const __half*>(a.weights[2 * i]);
      bs.fused.dw_bias = static_cast<const float*>(a.weights[2 * i + 1]);
      bs.fused.pw_weight = static_cast<const __half*>(a.weights[2 * i + 2]);
      bs.fused.pw_bias = static_cast<const float*>(a.weights[2 * i + 3]);
      bs.fused.residual = residual;
      bs.fused.y = half_ptr(a.outputs[0].data);
      QUENCH_TRY(kf::can_implement(bs.fused).with_context(n.where()));
      bound.push_back(bs);
      break;
    }
    const bool last = i + 1 == geo.stages.size();
    __half* y = last ? half_ptr(a.outputs[0].data) : half_ptr(static_cast<std::byte*>(a.workspace) + geo.region[i]);
    const auto* w = static_cast<const __half*>(a.weights[2 * i]);
    const auto* b = static_cast<const float*>(a.weights[2 * i + 1]);
    if (s.depthwise) {
      bs.kernel = StageKernel::kDepthwise;
      bs.dw = depthwise_args(s);
      bs.dw.x = x;
      bs.dw.weight = w;
      bs.dw.bias = b;
      bs.dw.residual = last ? residual : nullptr;
      bs.dw.y = y;
      QUENCH_TRY(kd::can_implement(bs.dw).with_context(n.where()));
    } else {
      bs.kernel = StageKernel::kConv;
      bs.conv = conv_args(s);
      bs.conv.x = x;
      bs.conv.weight = w;
      bs.conv.bias = b;
      bs.conv.residual = last ? residual : nullptr;
      bs.conv.y = y;
      QUENCH_TRY(kc::can_implement(bs.conv).with_context(n.where()));
      const size_t need = kc::workspace_bytes(bs.conv);
      if (need > a.persistent_bytes)
        return error(StatusCode::kInternal, n.where(), ": the split-K workspace holds ", a.persistent_bytes,
                     " bytes; the convolution needs ", need);
    }
    bound.push_back(bs);
    x = y;
  }
  void* ws = a.persistent;
  return GpuLaunch([bound = std::move(bound), ws](cudaStream_t stream) -> Status {
    for (const BoundStage& s : bound) {
      switch (s.kernel) {
        case StageKernel::kDepthwise: QUENCH_TRY(kd::run(s.dw, nullptr, stream)); break;
        case StageKernel::kConv: QUENCH_TRY(kc::run(s.conv, ws, stream)); break;
        case StageKernel::kFused: QUENCH_TRY(kf::run(s.fused, nullptr, stream)); break;
      }
    }
    return {};
  });
}

const GpuOp kOps[] = {
    {"Conv", "", accepts_nhwc, prepare, bind},
    {"FusedConv", "quench", accepts_nhwc, prepare, bind},
    {"DwPwConv", "quench", accepts_nhwc, prepare, bind},
    {"InvertedResidual", "quench", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> conv_gpu_ops() { return kOps; }

}  // namespace quench::ops
