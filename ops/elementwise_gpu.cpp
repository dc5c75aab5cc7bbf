// The CUDA kernels for the element-wise families (ops/binary.cpp, ops/unary.cpp):
// kernels/elementwise's broadcast binary ops, its activations and Sqrt, on float16.
//
// Layouts: an element-wise op does not care how its operands lie as long as all are described
// in the same dim order. On NHWC data every operand is described in memory order ([N, H, W, C]):
// a 4-D operand by its NHWC dims, a lower-rank one (ONNX order) by its shape right-aligned to
// 4-D and permuted the same way, which describes its bytes only when the permutation moves
// nothing of size > 1 (a [C, 1, 1] bias, a scalar, a [W] row). Any other mix runs on ONNX-order
// copies (accepts_nhwc says no and the engine converts).
#include <limits>

#include "kernels/elementwise/elementwise.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace ke = kernels::elementwise;

// ---- binary --------------------------------------------------------------------------------

bool binary_op_of(std::string_view op, ke::BinaryOp* out) {
  static constexpr std::pair<std::string_view, ke::BinaryOp> kMap[] = {
      {"Add", ke::BinaryOp::kAdd}, {"Sub", ke::BinaryOp::kSub}, {"Mul", ke::BinaryOp::kMul},
      {"Div", ke::BinaryOp::kDiv}, {"Max", ke::BinaryOp::kMax}, {"Min", ke::BinaryOp::kMin},
      {"Pow", ke::BinaryOp::kPow}};
  for (auto [name, o] : kMap)
    if (name == op) {
      *out = o;
      return true;
    }
  return false;
}

// A lower-rank operand right-aligned to 4-D [a, b, c, d]: its bytes read as NHWC [a, c, d, b]
// when b or c * d is 1.
bool reads_as_nhwc(const Shape& s) {
  if (s.size() >= 4) return false;
  Shape p(4 - s.size(), 1);
  p.insert(p.end(), s.begin(), s.end());
  return p[1] == 1 || p[2] * p[3] == 1;
}

// The operand's dims in the order the op runs in (memory order of the output).
Result<ke::Dims> operand_dims(const NodeDesc& n, const GpuValueDesc& v, bool nhwc) {
  Shape s = v.shape;
  if (nhwc) {
    if (v.layout != GpuLayout::kNHWC) {
      s.insert(s.begin(), 4 - s.size(), 1);
    }
    s = physical_shape(GpuLayout::kNHWC, s);
  }
  if (s.size() > static_cast<size_t>(ke::kMaxDims)) return gpu_unsupported(n, "operands of rank ", s.size());
  ke::Dims d;
  d.rank = static_cast<int>(s.size());
  for (int i = 0; i < d.rank; ++i) d.d[i] = s[i];
  return d;
}

bool binary_accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  if (out[0].layout != GpuLayout::kNHWC) return false;
  for (const GpuValueDesc& v : in)
    if (v.layout != GpuLayout::kNHWC && !reads_as_nhwc(v.shape)) return false;
  return true;
}

Result<ke::BinaryArgs<__half>> binary_args(const NodeDesc& n, std::span<const GpuValueDesc> in,
                                           std::span<const GpuValueDesc> out) {
  ke::BinaryArgs<__half> b;
  if (in.size() != 2) return gpu_unsupported(n, in.size(), " operands (two only)");
  if (!binary_op_of(n.op_type, &b.op)) return gpu_unsupported(n, "the op ", n.op_type);
  for (const GpuValueDesc& v : in)
    if (v.dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(v.dtype));
  const bool nhwc = out[0].layout == GpuLayout::kNHWC;
  QUENCH_ASSIGN(b.a_shape, operand_dims(n, in[0], nhwc));
  QUENCH_ASSIGN(b.b_shape, operand_dims(n, in[1], nhwc));
  return b;
}

Status binary_prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  QUENCH_ASSIGN(auto b, binary_args(a.node, a.inputs, a.outputs));
  b.a = probe_ptr<__half>(0);
  b.b = probe_ptr<__half>(1);
  b.y = probe_ptr<__half>(2);
  return ke::can_implement(b).with_context(a.node.where());
}

Result<GpuLaunch> binary_bind(const GpuBindArgs& a) {
  const auto descs = descs_of(a.inputs), out = descs_of(a.outputs);
  QUENCH_ASSIGN(auto b, binary_args(a.node, descs, out));
  b.a = half_ptr(a.inputs[0].data);
  b.b = half_ptr(a.inputs[1].data);
  b.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(ke::can_implement(b).with_context(a.node.where()));
  return GpuLaunch([b](cudaStream_t s) { return ke::run(b, nullptr, s); });
}

// ---- unary ---------------------------------------------------------------------------------

// Clip's bounds: attributes before opset 11, constant inputs from 11 on.
Result<Activation> unary_activation(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  Activation act;
  if (n.op_type == "Relu") {
    act.kind = ActKind::kRelu;
  } else if (n.op_type == "Sigmoid") {
    act.kind = ActKind::kSigmoid;
  } else if (n.op_type == "HardSwish") {
    act.kind = ActKind::kHardSwish;
  } else if (n.op_type == "LeakyRelu") {
    act.kind = ActKind::kLeakyRelu;
    QUENCH_ASSIGN(float alpha, float_attr(n, "alpha", 0.01f));
    act.params.alpha = alpha;
  } else if (n.op_type == "Clip") {
    act.kind = ActKind::kClip;
    if (n.opset > 0 && n.opset < 11) {
      QUENCH_ASSIGN(float lo, float_attr(n, "min", -std::numeric_limits<float>::infinity()));
      QUENCH_ASSIGN(float hi, float_attr(n, "max", std::numeric_limits<float>::infinity()));
      act.params.lo = lo;
      act.params.hi = hi;
    } else {
      for (size_t i = 1; i < 3 && i < in.size(); ++i) {
        if (!in[i].present) continue;
        if (!in[i].constant || in[i].constant->numel() != 1) return gpu_unsupported(n, "Clip bounds that are not constants");
        (i == 1 ? act.params.lo : act.params.hi) = in[i].constant->value_as_double(0);
      }
    }
  } else {
    return gpu_unsupported(n, "the op ", n.op_type);
  }
  return act;
}

bool any_layout(const NodeDesc&, std::span<const GpuValueDesc>, std::span<const GpuValueDesc>) { return true; }

Result<ke::UnaryArgs<__half>> unary_args(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  if (in[0].dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  ke::UnaryArgs<__half> u;
  u.count = shape_numel(in[0].shape);
  if (n.op_type == "Sqrt") {  // a math function, no activation
    u.fn = ke::UnaryFn::kSqrt;
    return u;
  }
  QUENCH_ASSIGN(Activation act, unary_activation(n, in));
  QUENCH_ASSIGN(u.activation, kernel_epilogue(n, act, false));
  return u;
}

Status unary_prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_ASSIGN(auto u, unary_args(a.node, a.inputs));
  for (size_t i = 1; i < a.inputs.size(); ++i)
    if (a.inputs[i].present) out.claim(i);  // Clip's bounds, read here
  u.x = probe_ptr<__half>(0);
  u.y = probe_ptr<__half>(1);
  return ke::can_implement(u).with_context(a.node.where());
}

Result<GpuLaunch> unary_bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto u, unary_args(a.node, descs_of(a.inputs)));
  u.x = half_ptr(a.inputs[0].data);
  u.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(ke::can_implement(u).with_context(a.node.where()));
  return GpuLaunch([u](cudaStream_t s) { return ke::run(u, nullptr, s); });
}

constexpr GpuOp binary(std::string_view op) { return {op, "", binary_accepts_nhwc, binary_prepare, binary_bind}; }
constexpr GpuOp unary(std::string_view op) { return {op, "", any_layout, unary_prepare, unary_bind}; }

const GpuOp kOps[] = {
    binary("Add"),  binary("Sub"),     binary("Mul"),       binary("Div"),     binary("Max"),
    binary("Min"),  binary("Pow"),     unary("Relu"),       unary("LeakyRelu"), unary("Clip"),
    unary("Sigmoid"), unary("HardSwish"), unary("Sqrt"),
};

}  // namespace

std::span<const GpuOp> elementwise_gpu_ops() { return kOps; }

}  // namespace quench::ops
