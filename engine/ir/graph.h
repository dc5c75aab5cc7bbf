// The graph IR: named values with dtype and static shape, nodes in topological order,
// initializers held as constant tensors (views into the mapped model file where possible).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/op.h"
#include "quench/status.h"
#include "quench/tensor.h"

namespace quench::ir {

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  // Unknown dims are -1 (with their symbolic name in dim_params, if the model gave one);
  // has_shape is false while even the rank is unknown.
  Shape shape;
  std::vector<std::string> dim_params;
  bool has_shape = false;
  Tensor constant;  // defined for initializers and values folded at build time

  bool is_constant() const { return constant.defined(); }
  bool shape_is_static() const;
};

struct Node : ops::NodeDesc {
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  const ops::OpSchema* schema = nullptr;  // bound by bind_schemas()
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::map<std::string, Value, std::less<>> values;
  std::vector<std::string> inputs;   // runtime inputs (initializers excluded)
  std::vector<std::string> outputs;
  std::map<std::string, int64_t, std::less<>> opsets;  // domain ("" = ai.onnx) -> version

  Value* find(std::string_view name);
  const Value* find(std::string_view name) const;
  Value& get_or_add(const std::string& name);  // creates an empty Value on first use
};

struct Model {
  Graph graph;
  int64_t ir_version = 0;
  std::string producer_name, producer_version, doc;
  std::string source;  // file it came from, for messages
  // Keeps the mapped file (and any external-data files) alive while tensors view them.
  std::vector<std::shared_ptr<const void>> keep_alive;
};

// Structural checks: every value produced once, every input defined (by a graph input, an
// initializer or an earlier node) and no cycles. Re-orders nodes topologically when the file
// listed them out of order. Errors name the node and value.
Status validate(Graph& g);

// Binds every node to its OpSchema and checks input/output counts; an unknown op fails with
// "unsupported operator <type> at node <name>".
Status bind_schemas(Graph& g);

// Opset version in force for a domain ("" and "ai.onnx" are the same).
int64_t opset_for(const Graph& g, std::string_view domain);

}  // namespace quench::ir
