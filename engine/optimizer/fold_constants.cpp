// Nodes whose inputs are all constants (Constant nodes, arithmetic on initializers) are evaluated
// once here, on the CPU reference, so the passes after it see their values: an exporter's Clip
// bounds arrive as Constant nodes, and a fold needs them as constants. Shape inference would
// fold them too, but only after the passes and once per batch.
#include <cstdint>

#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

// As shape inference's default fold limit: bigger results stay nodes.
constexpr size_t kFoldLimitBytes = size_t{1} << 22;

ops::ValueDesc desc_of(const Tensor& t) {
  ops::ValueDesc d;
  d.dtype = t.dtype();
  d.shape = t.shape();
  d.constant = &t;
  return d;
}

// The node's outputs, when it can be evaluated now; nullopt leaves it to shape inference.
Result<std::optional<std::vector<Tensor>>> evaluate(const ir::Graph& g, const ir::Node& n) {
  std::vector<ops::ValueDesc> ins;
  std::vector<Tensor> aligned;  // copies of unaligned (memory-mapped) weights
  aligned.reserve(n.inputs.size());
  std::vector<ops::TensorView> in_views;
  for (const auto& name : n.inputs) {
    ops::ValueDesc d;
    ops::TensorView v;
    if (name.empty()) {
      d.present = false;
    } else {
      const Tensor* t = constant_of(g, name);
      if (!t) return std::optional<std::vector<Tensor>>();
      const Tensor& a = t->aligned() ? *t : aligned.emplace_back(t->clone());
      d = desc_of(a);
      v = {a.dtype(), a.shape(), const_cast<void*>(a.data())};
    }
    ins.push_back(d);
    in_views.push_back(v);
  }
  std::vector<ops::ValueDesc> outs(n.outputs.size());
  for (size_t i = 0; i < outs.size(); ++i) outs[i].present = !n.outputs[i].empty();
  QUENCH_TRY(n.schema->infer(n, ins, outs));
  size_t bytes = 0;
  for (const auto& o : outs) {
    for (int64_t d : o.shape)
      if (d < 0) return std::optional<std::vector<Tensor>>();
    bytes += static_cast<size_t>(shape_numel(o.shape)) * dtype_size(o.dtype);
  }
  if (bytes > kFoldLimitBytes) return std::optional<std::vector<Tensor>>();
  std::vector<Tensor> results;
  std::vector<ops::TensorView> out_views;
  for (const auto& o : outs) {
    results.push_back(Tensor::zeros(o.dtype, o.shape));
    out_views.push_back({o.dtype, o.shape, results.back().mutable_data()});
  }
  std::vector<std::byte> workspace;
  void* ws = nullptr;
  if (n.schema->workspace_bytes) {
    workspace.resize(n.schema->workspace_bytes(n, ins, outs) + 64);
    ws = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(workspace.data()) + 63) & ~uintptr_t{63});
  }
  QUENCH_TRY(n.schema->run_cpu(n, in_views, out_views, ws).with_context("folding " + n.where()));
  return std::optional<std::vector<Tensor>>(std::move(results));
}

bool foldable(const ir::Node& n, const GraphIndex& idx) {
  if (n.outputs.empty() || !n.schema) return false;
  if (n.inputs.empty() && !is_onnx(n, "Constant")) return false;
  // A graph output stays a node's output: shape inference decides what becomes of it.
  for (const auto& o : n.outputs)
    if (o.empty() || idx.is_graph_output(o)) return false;
  return true;
}

}  // namespace

Result<bool> fold_constants(ir::Graph& g, PassLog& log) {
  log.begin("fold_constants");
  const GraphIndex idx(g);
  std::vector<bool> folded(g.nodes.size(), false);
  // In order: a folded node's outputs are constants for the nodes after it.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (!foldable(n, idx)) continue;
    QUENCH_ASSIGN(auto results, evaluate(g, n));
    if (!results) continue;
    for (size_t k = 0; k < n.outputs.size(); ++k) add_constant(g, n.outputs[k], std::move((*results)[k]));
    folded[i] = true;
    log.rewrite(n.op_type + " '" + n.name + "' evaluated to a constant");
  }
  if (log.rewrites() == 0) return false;
  std::vector<ir::Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!folded[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  return true;
}

}  // namespace quench::optimizer
