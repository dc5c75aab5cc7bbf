#include "engine/optimizer/inspect_report.h"

#include "engine/execution_plan.h"
#include "engine/optimizer/launches.h"

namespace quench {

Result<int64_t> launches_of(std::shared_ptr<const ir::Graph> g) {
  QUENCH_ASSIGN(auto plan, make_execution_plan(std::move(g)));
  return count_launches(plan);
}

Result<std::shared_ptr<const ir::Graph>> optimized_for_inspect(const ir::Graph& model_graph, const BuildOptions& opt,
                                                               const std::string& source, OptimizeReport* report) {
  ir::Graph g = model_graph;
  QUENCH_TRY(optimize_graph(g, OptimizeOptions::from(opt), report).with_context(source));
  return specialize_optimized(g, opt, opt.max_batch, source, report);
}

void describe_optimization(const OptimizeReport& report, const ir::Graph& g, ModelReport& r) {
  r.optimized = true;
  for (const PassRecord& p : report.passes) r.passes.push_back({p.pass, p.rewrites, p.details});
  // In graph order; a fused node folded away at this batch (all-constant inputs) is not shown.
  for (const ir::Node& n : g.nodes) {
    auto it = report.fused.find(n.name);
    if (it == report.fused.end()) continue;
    const std::string op = n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + "." + n.op_type;
    r.fusions.push_back({n.name, op, it->second});
  }
}

}  // namespace quench
