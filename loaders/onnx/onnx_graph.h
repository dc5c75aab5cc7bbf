// GraphProto and NodeProto -> ir::Graph, and AttributeProto -> ops::Attribute (which may hold
// subgraphs, hence one header for the mutual recursion).
#pragma once

#include <string>

#include "engine/ir/graph.h"
#include "loaders/onnx/parse_context.h"

namespace quench::loaders::onnx {

// Parses a GraphProto payload into `g`: nodes (unnamed ones named "<OpType>_<index>"),
// initializers as constant values, inputs (initializers excluded), outputs, value_info, and
// ctx.opsets as the graph's opsets.
Status parse_graph(ParseContext& ctx, const uint8_t* data, size_t size, const Path& path, ir::Graph* g);

// Parses the AttributeProto payload of `f`, the `index`th attribute of the node at `node_path`.
Status parse_attribute(ParseContext& ctx, const wire::Field& f, const Path& node_path, int64_t index,
                       std::string* name, ops::Attribute* out);

}  // namespace quench::loaders::onnx
