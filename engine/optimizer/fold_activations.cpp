// An activation whose input is a Conv / Gemm / MatMul output read by nothing else moves into the
// producer's epilogue. Two written-out forms are recognized as one activation: SiLU as
// y * Sigmoid(y) (y read by exactly that Sigmoid and that Mul, the Sigmoid's output by the Mul
// alone) and HardSwish as y * Clip(y + 3, 0, 6) / 6.
#include <algorithm>

#include "engine/optimizer/fusable.h"
#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

// The Mul of a y * Sigmoid(y) pattern on y, whose readers are `readers`.
struct SiluMatch {
  size_t sigmoid, mul;
};

std::optional<SiluMatch> match_silu(const ir::Graph& g, const GraphIndex& idx, const std::string& y) {
  const auto& r = idx.readers(y);
  if (r.size() != 2 || idx.is_graph_output(y)) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    const ir::Node& s = g.nodes[r[k]];
    const ir::Node& m = g.nodes[r[1 - k]];
    if (!is_onnx(s, "Sigmoid") || !is_onnx(m, "Mul") || s.outputs.size() != 1 || m.inputs.size() != 2) continue;
    const std::string& sy = s.outputs[0];
    const bool operands = (m.inputs[0] == y && m.inputs[1] == sy) || (m.inputs[1] == y && m.inputs[0] == sy);
    if (operands && idx.uses(sy) == 1) return SiluMatch{r[k], r[1 - k]};
  }
  return std::nullopt;
}

// A scalar constant equal to `v`.
bool is_scalar(const ir::Graph& g, const std::string& name, double v) {
  const Tensor* t = constant_of(g, name);
  return t && t->numel() == 1 && dtype_is_float(t->dtype()) && t->value_as_double(0) == v;
}

// The only reader of `value`, reading it once.
std::optional<size_t> only_reader(const GraphIndex& idx, const std::string& value) {
  if (idx.uses(value) != 1 || idx.readers(value).size() != 1) return std::nullopt;
  return idx.readers(value)[0];
}

// The other operand of a two-input node that reads `value` once.
std::optional<std::string> other_operand(const ir::Node& n, const std::string& value) {
  if (n.inputs.size() != 2 || n.outputs.size() != 1 || n.inputs[0] == n.inputs[1]) return std::nullopt;
  if (n.inputs[0] == value) return n.inputs[1];
  if (n.inputs[1] == value) return n.inputs[0];
  return std::nullopt;
}

// HardSwish written out: y * Clip(y + 3, 0, 6) / 6, y read by exactly that Add and that Mul.
// Returns the Add, Clip, Mul and Div, in graph order.
std::optional<std::vector<size_t>> match_hardswish(const ir::Graph& g, const GraphIndex& idx, const std::string& y) {
  const auto& r = idx.readers(y);
  if (r.size() != 2 || idx.is_graph_output(y)) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    const ir::Node& add = g.nodes[r[k]];
    const ir::Node& mul = g.nodes[r[1 - k]];
    auto three = other_operand(add, y);
    if (!is_onnx(add, "Add") || !three || !is_scalar(g, *three, 3.0)) continue;
    auto ci = only_reader(idx, add.outputs[0]);
    if (!ci) continue;
    const ir::Node& clip = g.nodes[*ci];
    auto act = is_onnx(clip, "Clip") && clip.inputs[0] == add.outputs[0] ? activation_of(g, clip) : std::nullopt;
    if (!act || *act->alpha != 0.0f || *act->beta != 6.0f) continue;
    auto clipped = other_operand(mul, y);
    if (!is_onnx(mul, "Mul") || !clipped || *clipped != clip.outputs[0] || idx.uses(clip.outputs[0]) != 1) continue;
    auto di = only_reader(idx, mul.outputs[0]);
    if (!di) continue;
    const ir::Node& div = g.nodes[*di];
    auto six = other_operand(div, mul.outputs[0]);
    if (!is_onnx(div, "Div") || !six || div.inputs[0] != mul.outputs[0] || !is_scalar(g, *six, 6.0)) continue;
    return std::vector<size_t>{r[k], *ci, r[1 - k], *di};
  }
  return std::nullopt;
}

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& p = g.nodes[i];
  auto e = epilogue_of(g, p);
  // An activation after a residual added after an activation would need a second one.
  if (!e || e->has_activation) return false;
  if (e->has_residual) {
    auto after = int_of(p, ops::kResidualAfterAttr, 0);
    if (!after || *after != 0) return false;
  }
  const std::string& y = p.outputs[0];
  if (idx.is_graph_output(y)) return false;
  std::vector<size_t> absorbed;
  ActivationSpec spec;
  if (auto silu = match_silu(g, idx, y)) {
    spec.kind = ops::ActKind::kSiLU;
    absorbed = {silu->sigmoid, silu->mul};
  } else if (auto hswish = match_hardswish(g, idx, y)) {
    spec.kind = ops::ActKind::kHardSwish;
    absorbed = *hswish;
  } else {
    if (idx.uses(y) != 1) return false;
    const size_t a = idx.readers(y)[0];
    if (g.nodes[a].inputs[0] != y) return false;  // Clip's bound, not its input
    auto act = activation_of(g, g.nodes[a]);
    if (!act) return false;
    spec = *act;
    absorbed = {a};
  }
  ir::Node fused = to_fused(p);
  set_activation(fused, ops::kActivationAttrs, spec);
  fused.outputs[0] = g.nodes[absorbed.back()].outputs[0];
  std::string what = std::string(ops::act_kind_name(spec.kind)) + " (";
  for (size_t a : absorbed) {
    log.absorb(p.name, g.nodes[a].name);
    what += (a == absorbed.front() ? "'" : ", '") + g.nodes[a].name + "'";
  }
  what += ") folded into " + p.op_type + " '" + p.name + "'";
  absorbed.push_back(i);
  replace_nodes(g, absorbed, std::move(fused));
  log.rewrite(std::move(what));
  return true;
}

}  // namespace

Result<bool> fold_activations(ir::Graph& g, PassLog& log) {
  log.begin("fold_activations");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
