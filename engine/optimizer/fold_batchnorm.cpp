// BatchNormalization after a Conv or Gemm, in inference mode, is an affine map per output
// channel c: y = (p - mean) * s + bias with s = scale / sqrt(var + epsilon). Folded into the
// product: W'[c, ...] = W[c, ...] * s[c] and b'[c] = (b[c] - mean[c]) * s[c] + bias[c]. The new
// weights are computed once, in double, and rounded to the weight's element type; the old
// ones stay while another node reads them.
#include <cmath>

#include "engine/optimizer/passes.h"
#include "ops/op_util.h"

namespace quench::optimizer {
namespace {

struct BnParams {
  std::vector<double> s, shift;  // y = p * s + shift, per channel
  std::vector<double> mean;
};

// The BatchNormalization's per-channel map, when its parameters are constants of `channels`.
std::optional<BnParams> bn_params(const ir::Graph& g, const ir::Node& bn, int64_t channels) {
  if (bn.inputs.size() != 5) return std::nullopt;
  for (size_t i = 1; i < bn.outputs.size(); ++i)
    if (!bn.outputs[i].empty()) return std::nullopt;  // training-mode outputs: BN's own error stands
  auto training = int_of(bn, "training_mode", 0);
  if (!training || *training != 0) return std::nullopt;
  const ops::Attribute* eps_attr = bn.attrs.find("epsilon");
  if (eps_attr && eps_attr->kind != ops::Attribute::Kind::kFloat) return std::nullopt;
  const double eps = eps_attr ? eps_attr->f : 1e-5f;  // the float attribute, widened as BN's run widens it
  const Tensor* p[4];
  for (size_t i = 0; i < 4; ++i) {
    p[i] = constant_of(g, bn.inputs[i + 1]);
    if (!p[i] || !dtype_is_float(p[i]->dtype()) || p[i]->shape() != Shape{channels}) return std::nullopt;
  }
  BnParams r;
  for (int64_t c = 0; c < channels; ++c) {
    const double scale = p[0]->value_as_double(c), bias = p[1]->value_as_double(c);
    const double mean = p[2]->value_as_double(c), var = p[3]->value_as_double(c);
    const double s = scale / std::sqrt(var + eps);
    r.s.push_back(s);
    r.mean.push_back(mean);
    r.shift.push_back(bias - mean * s);
  }
  return r;
}

Tensor scaled_rows(const Tensor& w, const std::vector<double>& s, bool per_column) {
  Tensor out = Tensor::zeros(w.dtype(), w.shape());
  const int64_t rows = w.shape()[0], cols = w.numel() / std::max<int64_t>(1, rows);
  const size_t esz = dtype_size(w.dtype());
  auto* dst = static_cast<std::byte*>(out.mutable_data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      ops::store_value_as(w.value_as_double(i) * s[per_column ? c : r], w.dtype(), dst + i * esz);
    }
  return out;
}

bool float_weight(const Tensor* t) { return t && dtype_is_float(t->dtype()); }

// The product node's folded inputs, or nullopt when its operands are not constant.
std::optional<ir::Node> fold_conv(ir::Graph& g, const ir::Node& conv, const ir::Node& bn) {
  const Tensor* w = constant_of(g, conv.inputs[1]);
  if (!float_weight(w) || w->shape().size() < 3) return std::nullopt;
  const int64_t m = w->shape()[0];
  const bool has_b = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  const Tensor* b = has_b ? constant_of(g, conv.inputs[2]) : nullptr;
  if (has_b && (!b || b->dtype() != w->dtype() || b->shape() != Shape{m})) return std::nullopt;
  auto p = bn_params(g, bn, m);
  if (!p) return std::nullopt;
  Tensor bias = Tensor::zeros(w->dtype(), {m});
  for (int64_t c = 0; c < m; ++c) {
    const double b0 = b ? b->value_as_double(c) : 0.0;
    ops::store_value_as(b0 * p->s[c] + p->shift[c], w->dtype(),
                        static_cast<std::byte*>(bias.mutable_data()) + c * dtype_size(w->dtype()));
  }
  ir::Node folded = conv;
  folded.inputs.resize(3);
  folded.inputs[1] = unique_value_name(g, conv.inputs[1] + "/bn_folded");
  add_constant(g, folded.inputs[1], scaled_rows(*w, p->s, false));
  folded.inputs[2] = unique_value_name(g, conv.name + "/bn_folded_bias");
  add_constant(g, folded.inputs[2], std::move(bias));
  return folded;
}

// Gemm: Y = alpha * A * B + beta * C, channels are Y's columns. B's columns (rows when
// transposed) scale; C becomes (beta * C - mean) * s + bias, broadcast to [N] or [M, N].
std::optional<ir::Node> fold_gemm(ir::Graph& g, const ir::Node& gemm, const ir::Node& bn) {
  const Tensor* b = constant_of(g, gemm.inputs[1]);
  if (!float_weight(b) || b->shape().size() != 2) return std::nullopt;
  auto trans_b = int_of(gemm, "transB", 0);
  const ops::Attribute* beta_attr = gemm.attrs.find("beta");
  if (!trans_b || (beta_attr && beta_attr->kind != ops::Attribute::Kind::kFloat)) return std::nullopt;
  const double beta = beta_attr ? beta_attr->f : 1.0;
  const int64_t n = *trans_b ? b->shape()[0] : b->shape()[1];
  const bool has_c = gemm.inputs.size() > 2 && !gemm.inputs[2].empty();
  const Tensor* c = has_c ? constant_of(g, gemm.inputs[2]) : nullptr;
  if (has_c && (!c || c->dtype() != b->dtype() || c->shape().size() > 2)) return std::nullopt;
  // C's rows and columns (1 = broadcast); its columns must be 1 or N.
  const int64_t c_rows = c && c->shape().size() == 2 ? c->shape()[0] : 1;
  const int64_t c_cols = c && !c->shape().empty() ? c->shape().back() : 1;
  if (c_cols != 1 && c_cols != n) return std::nullopt;
  auto p = bn_params(g, bn, n);
  if (!p) return std::nullopt;
  const Shape c_shape = c_rows == 1 ? Shape{n} : Shape{c_rows, n};
  Tensor new_c = Tensor::zeros(b->dtype(), c_shape);
  for (int64_t i = 0; i < c_rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double c0 = c ? c->value_as_double(i * c_cols + (c_cols == 1 ? 0 : j)) : 0.0;
      ops::store_value_as((beta * c0) * p->s[j] + p->shift[j], b->dtype(),
                          static_cast<std::byte*>(new_c.mutable_data()) + (i * n + j) * dtype_size(b->dtype()));
    }
  ir::Node folded = gemm;
  folded.inputs.resize(3);
  folded.inputs[1] = unique_value_name(g, gemm.inputs[1] + "/bn_folded");
  add_constant(g, folded.inputs[1], scaled_rows(*b, p->s, !*trans_b));
  folded.inputs[2] = unique_value_name(g, gemm.name + "/bn_folded_bias");
  add_constant(g, folded.inputs[2], std::move(new_c));
  folded.attrs.set("beta", float_attribute(1.0f));
  return folded;
}

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& bn = g.nodes[i];
  if (!is_onnx(bn, "BatchNormalization") || bn.inputs.size() != 5 || bn.outputs.empty()) return false;
  const int j = idx.producer(bn.inputs[0]);
  if (j < 0) return false;
  const ir::Node& prod = g.nodes[j];
  if (prod.outputs.size() != 1 || idx.uses(prod.outputs[0]) != 1 || prod.inputs.size() < 2) return false;
  std::optional<ir::Node> folded;
  if (is_onnx(prod, "Conv")) folded = fold_conv(g, prod, bn);
  else if (is_onnx(prod, "Gemm")) folded = fold_gemm(g, prod, bn);
  if (!folded) return false;
  folded->outputs[0] = bn.outputs[0];
  const std::string prod_name = prod.name, bn_name = bn.name, what = prod.op_type + " '" + prod.name + "'";
  replace_nodes(g, {static_cast<size_t>(j), i}, std::move(*folded));
  log.absorb(prod_name, bn_name);
  log.rewrite("BatchNormalization '" + bn_name + "' folded into " + what);
  return true;
}

}  // namespace

Result<bool> fold_batchnorm(ir::Graph& g, PassLog& log) {
  log.begin("fold_batchnorm");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
