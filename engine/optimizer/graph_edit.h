// Small graph-editing vocabulary shared by the optimizer passes: who produces and who reads
// each value, rewiring readers, unique names, attributes, and the log a pass writes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ir/graph.h"
#include "engine/optimizer/optimizer.h"

namespace quench::optimizer {

// Producer and readers of every value, for the graph as it is when built; rebuild after an edit.
class GraphIndex {
 public:
  explicit GraphIndex(const ir::Graph& g);
  int producer(std::string_view value) const;  // node index, -1 for inputs and constants
  // Reads of `value`: one per node input slot, plus one if it is a graph output.
  int uses(std::string_view value) const;
  const std::vector<size_t>& readers(std::string_view value) const;  // node indices, with repeats
  bool is_graph_output(std::string_view value) const;

 private:
  std::map<std::string, int, std::less<>> producer_;
  std::map<std::string, std::vector<size_t>, std::less<>> readers_;
  std::map<std::string, int, std::less<>> outputs_;
};

// The log a pass writes into: counts rewrites and tracks which original nodes a node stands for.
class PassLog {
 public:
  explicit PassLog(OptimizeReport* report) : report_(report) {}
  void begin(std::string pass);         // starts a PassRecord
  void rewrite(std::string detail);     // one rewrite in the current pass
  void note(std::string detail);        // a remark that is no rewrite (why a pass did not run)
  // `into` now also stands for `absorbed` (and whatever `absorbed` stood for).
  void absorb(const std::string& into, const std::string& absorbed);
  int64_t rewrites() const { return current_ ? current_->rewrites : 0; }

 private:
  OptimizeReport* report_;
  PassRecord scratch_;  // when there is no report
  PassRecord* current_ = nullptr;
};

// The loop every local rewrite pass runs: `rewrite(g, index, i)` is tried at each node until
// it applies once, the index is rebuilt, and so on until it applies nowhere. True when the
// current pass (`log`) rewrote anything.
template <class Rewrite>
bool rewrite_to_fixed_point(ir::Graph& g, PassLog& log, Rewrite&& rewrite) {
  for (bool changed = true; changed;) {
    changed = false;
    const GraphIndex idx(g);
    for (size_t i = 0; i < g.nodes.size() && !changed; ++i) changed = rewrite(g, idx, i);
  }
  return log.rewrites() > 0;
}

// An ONNX-domain node of this type ("" or "ai.onnx").
bool is_onnx(const ir::Node& n, std::string_view op_type);
// A node of the quench domain with this type.
bool is_quench(const ir::Node& n, std::string_view op_type);

// The constant tensor of `name`, or null when it is not a constant (or is "").
const Tensor* constant_of(const ir::Graph& g, std::string_view name);

// Node `i` is removed and its output 0 replaced by its input 0 (a copy or a no-op). Readers of
// the output read the input instead; when the output is a graph output its name is kept by
// renaming the input (which must then come from a node and be no graph output itself).
// Returns false, leaving the graph alone, when neither is possible.
bool bypass_node(ir::Graph& g, const GraphIndex& idx, size_t i);

// Replaces nodes `absorbed` (indices, any order) by `fused`, placed at the position of the last
// of them; `fused` gets its schema bound. Indices are into g.nodes before the call.
void replace_nodes(ir::Graph& g, const std::vector<size_t>& absorbed, ir::Node fused);

// A value name not yet in the graph: `base`, or `base` with a numeric suffix.
std::string unique_value_name(const ir::Graph& g, const std::string& base);
// Adds a constant value (dtype, shape and data from `t`).
void add_constant(ir::Graph& g, const std::string& name, Tensor t);

ops::Attribute string_attribute(std::string s);
ops::Attribute float_attribute(float f);
ops::Attribute int_attribute(int64_t i);
ops::Attribute ints_attribute(std::vector<int64_t> v);

// An ints attribute's values, nullopt when absent or of another kind.
std::optional<std::vector<int64_t>> ints_of(const ir::Node& n, std::string_view name);
// An int attribute's value, `dflt` when absent, nullopt when of another kind.
std::optional<int64_t> int_of(const ir::Node& n, std::string_view name, int64_t dflt);

}  // namespace quench::optimizer
