// A per-channel scale or shift right after a Conv, written as Mul / Add with a constant (what
// some exporters emit instead of a BatchNormalization, and what is left of one folded by hand):
// y = conv(x) * c  ->  W'[m] = W[m] * c[m], b'[m] = b[m] * c[m];   y = conv(x) + d  ->  b'[m] = b[m] + d[m].
// The constant must vary along the channel dim at most (shape all 1 but that dim), so the Mul or
// Add never broadcasts the conv's output to a bigger shape.
#include "engine/optimizer/passes.h"
#include "ops/op_util.h"

namespace quench::optimizer {
namespace {

// c[m] for m in [0, channels), when `t` broadcasts along the channel dim (dim 1) of a rank-`rank`
// output only.
std::optional<std::vector<double>> per_channel(const Tensor* t, DType dtype, size_t rank, int64_t channels) {
  if (!t || t->dtype() != dtype || t->shape().size() > rank) return std::nullopt;
  const Shape& s = t->shape();
  int64_t along = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t axis = rank - s.size() + i;
    if (axis == 1 && (s[i] == 1 || s[i] == channels)) along = s[i];
    else if (s[i] != 1) return std::nullopt;
  }
  std::vector<double> c(static_cast<size_t>(channels));
  for (int64_t m = 0; m < channels; ++m) c[m] = t->value_as_double(along == 1 ? 0 : m);
  return c;
}

Tensor from_values(DType dtype, const Shape& shape, const std::vector<double>& v) {
  Tensor t = Tensor::zeros(dtype, shape);
  for (size_t i = 0; i < v.size(); ++i)
    ops::store_value_as(v[i], dtype, static_cast<std::byte*>(t.mutable_data()) + i * dtype_size(dtype));
  return t;
}

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& conv = g.nodes[i];
  if (!is_onnx(conv, "Conv") || conv.inputs.size() < 2 || conv.outputs.size() != 1) return false;
  const Tensor* w = constant_of(g, conv.inputs[1]);
  if (!w || !dtype_is_float(w->dtype()) || w->shape().size() < 3) return false;
  const std::string& y = conv.outputs[0];
  if (idx.uses(y) != 1 || idx.readers(y).size() != 1) return false;
  const size_t j = idx.readers(y)[0];
  const ir::Node& op = g.nodes[j];
  const bool mul = is_onnx(op, "Mul");
  if ((!mul && !is_onnx(op, "Add")) || op.inputs.size() != 2 || op.outputs.size() != 1) return false;
  const std::string& other = op.inputs[0] == y ? op.inputs[1] : op.inputs[0];
  const int64_t m = w->shape()[0];
  auto c = per_channel(constant_of(g, other), w->dtype(), w->shape().size(), m);
  const bool has_b = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  const Tensor* b = has_b ? constant_of(g, conv.inputs[2]) : nullptr;
  if (!c || (has_b && (!b || b->shape() != Shape{m}))) return false;

  std::vector<double> bias(static_cast<size_t>(m), 0.0);
  for (int64_t k = 0; k < m; ++k) {
    const double b0 = b ? b->value_as_double(k) : 0.0;
    bias[k] = mul ? b0 * (*c)[k] : b0 + (*c)[k];
  }
  ir::Node folded = conv;
  if (b || !mul) folded.inputs.resize(3);
  if (mul) {
    const int64_t per_row = w->numel() / m;
    std::vector<double> scaled(static_cast<size_t>(w->numel()));
    for (int64_t k = 0; k < w->numel(); ++k) scaled[k] = w->value_as_double(k) * (*c)[k / per_row];
    folded.inputs[1] = unique_value_name(g, conv.inputs[1] + "/scale_folded");
    add_constant(g, folded.inputs[1], from_values(w->dtype(), w->shape(), scaled));
  }
  if (b || !mul) {
    folded.inputs[2] = unique_value_name(g, conv.name + "/" + (mul ? "scale" : "shift") + "_folded_bias");
    add_constant(g, folded.inputs[2], from_values(w->dtype(), {m}, bias));
  }
  folded.outputs[0] = op.outputs[0];
  const std::string what =
      op.op_type + " '" + op.name + "' by a per-channel constant folded into Conv '" + conv.name + "'";
  log.absorb(conv.name, op.name);
  replace_nodes(g, {i, j}, std::move(folded));
  log.rewrite(what);
  return true;
}

}  // namespace

Result<bool> fold_affine(ir::Graph& g, PassLog& log) {
  log.begin("fold_affine");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
