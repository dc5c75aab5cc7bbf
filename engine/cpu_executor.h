// Runs a shape-inferred graph on the CPU reference ops. Everything is prepared once (buffers,
// tensor views, workspace), so run() allocates nothing for the graph itself.
#pragma once

#include <memory>
#include <vector>

#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench {

class CpuExecutor {
 public:
  // `g` must be shape-inferred; the executor keeps a pointer to it.
  static Result<std::unique_ptr<CpuExecutor>> create(std::shared_ptr<const ir::Graph> g);

  // Inputs are checked against the graph's shapes; outputs are (re)allocated when their
  // dtype or shape does not match.
  Status run(const TensorMap& inputs, TensorMap& outputs);

  // Every value's tensor after the last run (for per-layer validation).
  const Tensor* find_value(std::string_view name) const;

 private:
  struct Step {
    const ir::Node* node;
    std::vector<ops::TensorView> inputs, outputs;
  };
  std::shared_ptr<const ir::Graph> graph_;
  std::map<std::string, Tensor, std::less<>> buffers_;  // one per value (constants: aligned copies)
  std::vector<Step> steps_;
  std::vector<std::byte> workspace_;
  void* workspace_aligned_ = nullptr;
};

}  // namespace quench
