// Activation shapes for passes that run before batch specialization: the graph is shape-
// inferred (as specialize_for_batch does) at every batch worth probing, and two values count as
// the same shape only when they agree at all of them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "engine/optimizer/optimizer.h"

namespace quench::optimizer {

class ShapeFacts {
 public:
  // Probes batch 1, 2 and max_batch (each at most max_batch). When inference fails at any of
  // them (a shape the options do not give), nothing is known and why() says so.
  static ShapeFacts probe(const ir::Graph& g, const OptimizeOptions& opt);

  bool known() const { return !probes_.empty(); }
  const std::string& why() const { return why_; }
  // Same dtype and same static shape at every probed batch.
  bool same(std::string_view a, std::string_view b) const;

 private:
  struct Facts {
    DType dtype;
    Shape shape;
  };
  std::vector<std::map<std::string, Facts, std::less<>>> probes_;
  std::string why_;
};

}  // namespace quench::optimizer
