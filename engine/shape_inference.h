// Shape inference over a validated, schema-bound graph, with folding of every node whose
// inputs are all known at build time (the Shape -> Gather -> Unsqueeze -> Concat -> Reshape
// chains exporters emit), so that models become fully static.
#pragma once

#include <map>
#include <string>

#include "engine/ir/graph.h"

namespace quench {

struct InferOptions {
  // Shapes for graph inputs, replacing what the model declares (needed where it leaves
  // dims other than the batch unknown).
  std::map<std::string, Shape, std::less<>> input_shapes;
  // Value for an unknown leading (batch) dim of a graph input.
  int64_t batch = 1;
  // Nodes whose inputs are all constant are evaluated at build time when their outputs
  // together take at most this many bytes.
  size_t fold_limit_bytes = size_t{1} << 22;
};

// Fills every value's dtype and static shape; errors name the node and the value.
Status infer_shapes(ir::Graph& g, const InferOptions& opt);

// Removes nodes whose outputs are all constants (folded by infer_shapes) and values that no
// node, graph input or graph output uses any more.
void remove_folded_nodes(ir::Graph& g);

}  // namespace quench
