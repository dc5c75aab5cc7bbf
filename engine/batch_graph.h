// The graph an engine runs at one batch size: the model graph with every input's batch dim
// fixed, shapes inferred and build-time constants folded. An engine holds one per batch
// 1..max_batch; they share the weight tensors (copies of a Tensor share its bytes).
#pragma once

#include <memory>

#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench {

// Whether the model leaves its batch open: some input's leading dim (or whole shape) is
// unknown. A model exported at a fixed batch runs at that batch only.
bool batch_is_open(const ir::Graph& model_graph);

// `source` names the model in error messages. Unknown leading dims of the inputs become
// `batch`; static ones stay as the model declares them.
Result<std::shared_ptr<const ir::Graph>> specialize_for_batch(const ir::Graph& model_graph, const BuildOptions& opt,
                                                              int64_t batch, const std::string& source);

}  // namespace quench
