// Add(p, r) where p is a Conv / Gemm / MatMul output read by nothing else and r has p's exact
// shape at every batch (no broadcast): r becomes the fused op's residual input, added before
// the producer's activation or, when it already has one, after it (as the graph had it).
#include "engine/optimizer/fusable.h"
#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& shapes, size_t i, PassLog& log) {
  const ir::Node& add = g.nodes[i];
  if (!is_onnx(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1) return false;
  // Of the two operands, the one made later, so the other exists when the fused node runs.
  int best = -1, best_k = -1;
  for (int k = 0; k < 2; ++k) {
    const std::string& y = add.inputs[k];
    const std::string& r = add.inputs[1 - k];
    const int p = idx.producer(y);
    if (p < 0 || y == r || idx.uses(y) != 1 || !shapes.same(y, r)) continue;
    auto e = epilogue_of(g, g.nodes[p]);
    if (!e || e->has_residual) continue;
    if (p > best) {
      best = p;
      best_k = k;
    }
  }
  if (best < 0) return false;
  const ir::Node& p = g.nodes[best];
  const bool after = epilogue_of(g, p)->has_activation;
  ir::Node fused = to_fused(p);
  const size_t ri = epilogue_of(g, p)->residual_index;
  fused.inputs.resize(ri + 1);  // an omitted bias stays "" before the residual
  fused.inputs[ri] = add.inputs[1 - best_k];
  if (after) fused.attrs.set(std::string(ops::kResidualAfterAttr), int_attribute(1));
  fused.outputs[0] = add.outputs[0];
  const std::string what = "Add '" + add.name + "' folded into " + p.op_type + " '" + p.name + "' as its residual" +
                           (after ? " (after the activation)" : "");
  log.absorb(p.name, add.name);
  replace_nodes(g, {static_cast<size_t>(best), i}, std::move(fused));
  log.rewrite(what);
  return true;
}

}  // namespace

Result<bool> fold_residual_adds(ir::Graph& g, const ShapeFacts& shapes, PassLog& log) {
  log.begin("fold_residual_adds");
  if (!shapes.known()) {
    log.note("skipped: " + shapes.why());
    return false;
  }
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, shapes, i, log);
  });
}

}  // namespace quench::optimizer
