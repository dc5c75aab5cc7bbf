#include "engine/optimizer/fusable.h"

#include <limits>

#include "ops/registry.h"

namespace quench::optimizer {
namespace {

bool all_equal(const std::optional<std::vector<int64_t>>& v, int64_t x) {
  if (!v) return true;  // absent: the default
  for (int64_t e : *v)
    if (e != x) return false;
  return true;
}

// A constant bound that a float attribute holds exactly, so the fused op clips where Clip did.
std::optional<float> exact_float(const Tensor* t) {
  if (!t || t->numel() != 1 || !dtype_is_float(t->dtype())) return std::nullopt;
  const double v = t->value_as_double(0);
  const float f = static_cast<float>(v);
  if (static_cast<double>(f) != v) return std::nullopt;
  return f;
}

std::optional<float> float_attr_or(const ir::Node& n, std::string_view name, float dflt) {
  const ops::Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind != ops::Attribute::Kind::kFloat) return std::nullopt;
  return a->f;
}

}  // namespace

std::optional<Epilogue> epilogue_of(const ir::Graph& g, const ir::Node& n) {
  Epilogue e;
  if (n.outputs.size() != 1 || n.inputs.size() < 2) return std::nullopt;
  if (is_onnx(n, "Conv") || is_onnx(n, "Gemm")) {
    e.residual_index = 3;
    return e;
  }
  if (is_onnx(n, "MatMul")) {
    // MatMul also multiplies integers; the fused form computes floating types only.
    const ir::Value* a = g.find(n.inputs[0]);
    const ir::Value* b = g.find(n.inputs[1]);
    const bool is_float = (a && dtype_is_float(a->dtype)) || (b && dtype_is_float(b->dtype));
    if (!is_float) return std::nullopt;
    e.residual_index = 2;
    return e;
  }
  if (!is_quench(n, "FusedConv") && !is_quench(n, "FusedGemm") && !is_quench(n, "FusedMatMul")) return std::nullopt;
  e.residual_index = is_quench(n, "FusedMatMul") ? 2 : 3;
  const ops::Attribute* act = n.attrs.find(ops::kActivationAttrs.kind);
  e.has_activation = act && !act->s.empty();
  e.has_residual = n.inputs.size() > e.residual_index && !n.inputs[e.residual_index].empty();
  return e;
}

ir::Node to_fused(const ir::Node& n) {
  if (n.domain == ops::kQuenchDomain) return n;
  ir::Node f = n;
  f.domain = std::string(ops::kQuenchDomain);
  f.op_type = "Fused" + n.op_type;
  f.opset = 0;
  f.schema = ops::find_schema(f.op_type, f.domain);
  return f;
}

std::optional<ActivationSpec> activation_of(const ir::Graph& g, const ir::Node& n) {
  if (n.inputs.empty() || n.outputs.size() != 1) return std::nullopt;
  ActivationSpec a;
  if (is_onnx(n, "Relu")) {
    a.kind = ops::ActKind::kRelu;
  } else if (is_onnx(n, "HardSwish")) {
    a.kind = ops::ActKind::kHardSwish;
  } else if (is_onnx(n, "Sigmoid")) {
    a.kind = ops::ActKind::kSigmoid;
  } else if (is_onnx(n, "LeakyRelu")) {
    a.kind = ops::ActKind::kLeakyRelu;
    a.alpha = float_attr_or(n, "alpha", 0.01f);
    if (!a.alpha) return std::nullopt;
  } else if (is_onnx(n, "HardSigmoid")) {
    a.kind = ops::ActKind::kHardSigmoid;
    a.alpha = float_attr_or(n, "alpha", 0.2f);
    a.beta = float_attr_or(n, "beta", 0.5f);
    if (!a.alpha || !a.beta) return std::nullopt;
  } else if (is_onnx(n, "Clip")) {
    a.kind = ops::ActKind::kClip;
    const float inf = std::numeric_limits<float>::infinity();
    if (n.opset > 0 && n.opset < 11) {
      a.alpha = float_attr_or(n, "min", -inf);
      a.beta = float_attr_or(n, "max", inf);
      if (!a.alpha || !a.beta) return std::nullopt;
    } else {
      // Bounds are optional inputs from opset 11; each must be a constant scalar.
      a.alpha = -inf;
      a.beta = inf;
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) a.alpha = exact_float(constant_of(g, n.inputs[1]));
      if (n.inputs.size() > 2 && !n.inputs[2].empty()) a.beta = exact_float(constant_of(g, n.inputs[2]));
      if (!a.alpha || !a.beta) return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  return a;
}

void set_activation(ir::Node& n, const ops::StageAttrs& names, const ActivationSpec& a) {
  n.attrs.set(std::string(names.kind), string_attribute(std::string(ops::act_kind_name(a.kind))));
  if (a.alpha) n.attrs.set(std::string(names.alpha), float_attribute(*a.alpha));
  if (a.beta) n.attrs.set(std::string(names.beta), float_attribute(*a.beta));
}

void copy_activation(const ir::Node& from, ir::Node& to, const ops::StageAttrs& names) {
  const ops::StageAttrs& src = ops::kActivationAttrs;
  if (const ops::Attribute* a = from.attrs.find(src.kind)) to.attrs.set(std::string(names.kind), *a);
  if (const ops::Attribute* a = from.attrs.find(src.alpha)) to.attrs.set(std::string(names.alpha), *a);
  if (const ops::Attribute* a = from.attrs.find(src.beta)) to.attrs.set(std::string(names.beta), *a);
}

std::optional<ConvInfo> conv_info(const ir::Graph& g, const ir::Node& n) {
  if (!is_onnx(n, "Conv") && !is_quench(n, "FusedConv")) return std::nullopt;
  if (n.inputs.size() < 2 || n.outputs.size() != 1) return std::nullopt;
  ConvInfo c;
  c.weight = constant_of(g, n.inputs[1]);
  if (!c.weight || c.weight->shape().size() < 3) return std::nullopt;
  c.has_residual = n.inputs.size() > 3 && !n.inputs[3].empty();
  return c;
}

bool is_pointwise(const ir::Graph& g, const ir::Node& n) {
  auto c = conv_info(g, n);
  if (!c) return false;
  const Shape& w = c->weight->shape();
  for (size_t d = 2; d < w.size(); ++d)
    if (w[d] != 1) return false;
  auto group = int_of(n, "group", 1);
  return group && *group == 1 && all_equal(ints_of(n, "strides"), 1) && all_equal(ints_of(n, "pads"), 0) &&
         all_equal(ints_of(n, "kernel_shape"), 1) && (!n.attrs.has("strides") || ints_of(n, "strides")) &&
         (!n.attrs.has("pads") || ints_of(n, "pads"));
}

bool is_depthwise(const ir::Graph& g, const ir::Node& n) {
  auto c = conv_info(g, n);
  if (!c) return false;
  const Shape& w = c->weight->shape();
  auto group = int_of(n, "group", 1);
  return group && w[1] == 1 && *group == w[0] && w[0] > 1;
}

}  // namespace quench::optimizer
