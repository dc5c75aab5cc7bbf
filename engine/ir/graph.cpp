#include "engine/ir/graph.h"

#include <queue>
#include <set>
#include <unordered_map>

#include "ops/registry.h"

namespace quench::ir {

bool Value::shape_is_static() const {
  if (!has_shape) return false;
  for (int64_t d : shape)
    if (d < 0) return false;
  return true;
}

Value* Graph::find(std::string_view name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

const Value* Graph::find(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

Value& Graph::get_or_add(const std::string& name) {
  auto [it, inserted] = values.try_emplace(name);
  if (inserted) it->second.name = name;
  return it->second;
}

int64_t opset_for(const Graph& g, std::string_view domain) {
  if (domain == "ai.onnx") domain = "";
  auto it = g.opsets.find(domain);
  return it == g.opsets.end() ? 0 : it->second;
}

Status validate(Graph& g) {
  // Who produces each value.
  std::unordered_map<std::string, size_t> producer;
  std::set<std::string> sources;  // graph inputs and initializers
  for (const auto& name : g.inputs) {
    if (!sources.insert(name).second) return error(StatusCode::kInvalidArgument, "graph input '", name, "' is listed twice");
  }
  for (const auto& [name, v] : g.values)
    if (v.is_constant()) sources.insert(name);
  std::set<std::string> node_names;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.name.empty() && !node_names.insert(n.name).second)
      return error(StatusCode::kInvalidArgument, "node name '", n.name, "' is used by two nodes");
    for (const auto& out : n.outputs) {
      if (out.empty()) continue;
      if (sources.count(out))
        return error(StatusCode::kInvalidArgument, n.where(), " writes '", out, "', which is a graph input or initializer");
      if (!producer.emplace(out, i).second)
        return error(StatusCode::kInvalidArgument, "value '", out, "' is produced by two nodes ('",
                     g.nodes[producer[out]].name, "' and '", n.name, "')");
    }
  }
  // Kahn's algorithm, stable: keeps the file's order where it is already topological.
  const size_t n_nodes = g.nodes.size();
  std::vector<int> missing(n_nodes, 0);
  std::vector<std::vector<size_t>> users(n_nodes);
  for (size_t i = 0; i < n_nodes; ++i) {
    const Node& n = g.nodes[i];
    for (const auto& in : n.inputs) {
      if (in.empty() || sources.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return error(StatusCode::kInvalidArgument, n.where(), " reads '", in,
                     "', which no node, graph input or initializer defines");
      ++missing[i];
      users[it->second].push_back(i);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < n_nodes; ++i)
    if (missing[i] == 0) ready.push(i);
  std::vector<size_t> order;
  order.reserve(n_nodes);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t u : users[i])
      if (--missing[u] == 0) ready.push(u);
  }
  if (order.size() != n_nodes) {
    for (size_t i = 0; i < n_nodes; ++i)
      if (missing[i] > 0) return error(StatusCode::kInvalidArgument, "the graph has a cycle through ", g.nodes[i].where());
  }
  std::vector<Node> sorted;
  sorted.reserve(n_nodes);
  for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
  for (const auto& out : g.outputs) {
    if (!sources.count(out) && !producer.count(out))
      return error(StatusCode::kInvalidArgument, "graph output '", out, "' is never produced");
  }
  // Every name mentioned has a Value entry.
  for (const auto& name : g.inputs) g.get_or_add(name);
  for (const Node& n : g.nodes) {
    for (const auto& v : n.inputs) if (!v.empty()) g.get_or_add(v);
    for (const auto& v : n.outputs) if (!v.empty()) g.get_or_add(v);
  }
  return {};
}

Status bind_schemas(Graph& g) {
  for (Node& n : g.nodes) {
    n.schema = ops::find_schema(n.op_type, n.domain);
    if (!n.schema) {
      std::string type = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
      return error(StatusCode::kUnsupported, "unsupported operator ", type, " at node '", n.name, "'");
    }
    n.opset = opset_for(g, n.domain);
    const auto& s = *n.schema;
    const int n_in = static_cast<int>(n.inputs.size());
    const int n_out = static_cast<int>(n.outputs.size());
    if (n_in < s.min_inputs || (s.max_inputs >= 0 && n_in > s.max_inputs))
      return error(StatusCode::kInvalidArgument, n.where(), " has ", n_in, " inputs; ", n.op_type, " takes ",
                   s.min_inputs, s.max_inputs < 0 ? " or more" : (" to " + std::to_string(s.max_inputs)));
    if (n_out < s.min_outputs || (s.max_outputs >= 0 && n_out > s.max_outputs))
      return error(StatusCode::kInvalidArgument, n.where(), " has ", n_out, " outputs; ", n.op_type, " gives ",
                   s.min_outputs, s.max_outputs < 0 ? " or more" : (" to " + std::to_string(s.max_outputs)));
  }
  return {};
}

}  // namespace quench::ir
