// The optimizer's part of the inspect report (include/quench/inspect.h): the optimized graph
// at a batch, launches per inference, pass records and fused nodes.
#pragma once

#include <memory>

#include "engine/ir/graph.h"
#include "engine/optimizer/optimizer.h"
#include "quench/inspect.h"

namespace quench {

// Launches per inference of a specialized graph, by the rule stated at ModelReport::launches.
Result<int64_t> launches_of(std::shared_ptr<const ir::Graph> g);

// The graph inspect --optimized shows: `model_graph` optimized and specialized at `batch`.
Result<std::shared_ptr<const ir::Graph>> optimized_for_inspect(const ir::Graph& model_graph, const BuildOptions& opt,
                                                               const std::string& source, OptimizeReport* report);

// Copies the passes and fused nodes of `report` into `r`; `g` is the graph shown.
void describe_optimization(const OptimizeReport& report, const ir::Graph& g, ModelReport& r);

}  // namespace quench
