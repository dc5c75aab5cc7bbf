// The pass pipeline. Order matters: copies go first so patterns see through them; BatchNorm
// folds before activations (Conv -> BN -> Relu); activations fold before residual adds and
// again after (Conv -> Relu -> Add keeps the residual after the activation, Conv -> Add -> Relu
// puts it before); the block fusions take whole fused convs, the longest pattern first.
#include "engine/optimizer/optimizer.h"

#include "engine/batch_graph.h"
#include "engine/optimizer/passes.h"

namespace quench {
namespace {

Status finish(ir::Graph& g, const char* stage) {
  // Every rewrite keeps the graph valid; this proves it (and re-binds nothing that was bound).
  QUENCH_TRY(ir::validate(g).with_context(std::string("after ") + stage));
  for (const ir::Node& n : g.nodes)
    if (!n.schema) return error(StatusCode::kInternal, "after ", stage, ": ", n.where(), " has no schema");
  return {};
}

}  // namespace

OptimizeOptions OptimizeOptions::from(const BuildOptions& b) {
  OptimizeOptions o;
  o.max_batch = b.max_batch;
  o.input_shapes = b.input_shapes;
  return o;
}

Status optimize_graph(ir::Graph& g, const OptimizeOptions& opt, OptimizeReport* report) {
  using namespace optimizer;
  PassLog log(report);
  if (report) report->nodes_before = static_cast<int64_t>(g.nodes.size());
  QUENCH_TRY(fold_constants(g, log).status());
  QUENCH_TRY(remove_copies(g, log).status());
  QUENCH_TRY(fold_transpose_pairs(g, log).status());
  if (opt.fold_batchnorm) {
    QUENCH_TRY(fold_batchnorm(g, log).status());
    QUENCH_TRY(fold_affine(g, log).status());
  }
  if (opt.fuse_epilogues) {
    QUENCH_TRY(fold_activations(g, log).status());
    // Shapes are probed only now, on the graph the residual pass sees.
    QUENCH_TRY(fold_residual_adds(g, ShapeFacts::probe(g, opt), log).status());
    QUENCH_TRY(fold_activations(g, log).status());
  }
  if (opt.fuse_blocks) {
    QUENCH_TRY(fuse_inverted_residuals(g, log).status());
    QUENCH_TRY(fuse_dw_pw(g, log).status());
  }
  QUENCH_TRY(remove_dead_nodes(g, log).status());
  if (report) report->nodes_after = static_cast<int64_t>(g.nodes.size());
  return finish(g, "optimize_graph");
}

Status optimize_inferred_graph(ir::Graph& g, OptimizeReport* report) {
  using namespace optimizer;
  PassLog log(report);
  QUENCH_ASSIGN(bool reshaped, simplify_reshapes(g, log));
  if (reshaped) QUENCH_TRY(remove_dead_nodes(g, log).status());
  return finish(g, "optimize_inferred_graph");
}

Result<std::shared_ptr<const ir::Graph>> specialize_optimized(const ir::Graph& optimized, const BuildOptions& opt,
                                                              int64_t batch, const std::string& source,
                                                              OptimizeReport* report) {
  QUENCH_ASSIGN(auto specialized, specialize_for_batch(optimized, opt, batch, source));
  auto g = std::make_shared<ir::Graph>(*specialized);
  QUENCH_TRY(optimize_inferred_graph(*g, report).with_context(source));
  return std::shared_ptr<const ir::Graph>(std::move(g));
}

}  // namespace quench
