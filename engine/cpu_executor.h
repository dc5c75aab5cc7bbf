// Runs a shape-inferred graph on the CPU reference ops through its execution plan: every
// activation lives in one host arena at the offset the memory planner chose, so the CPU run
// checks the plan as well as the ops. Everything is prepared once; run() allocates nothing
// for the graph itself.
#pragma once

#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/execution_plan.h"
#include "quench/quench.h"

namespace quench {

class CpuExecutor {
 public:
  // Runs `plan`, which may be shared by several executors (each has its own arena).
  static Result<std::unique_ptr<CpuExecutor>> create(std::shared_ptr<const ExecutionPlan> plan);
  // Plans `g` (shape-inferred) for this executor alone.
  static Result<std::unique_ptr<CpuExecutor>> create(std::shared_ptr<const ir::Graph> g, const PlanOptions& opt = {});

  // Inputs are checked against the graph's shapes; outputs are (re)allocated when their
  // dtype or shape does not match.
  Status run(const TensorMap& inputs, TensorMap& outputs);

  // A value's tensor after the last run (for per-layer validation). An activation's bytes may
  // since have been reused by a later tensor, unless the plan was made without reuse.
  const Tensor* find_value(std::string_view name) const;
  const ExecutionPlan& plan() const { return *plan_; }

 private:
  struct Step {
    const PlannedStep* planned;
    std::vector<ops::TensorView> inputs, outputs;
    void* workspace;
  };
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::shared_ptr<const ExecutionPlan> plan_;
  std::unique_ptr<std::byte, FreeDeleter> arena_;
  std::vector<Tensor> constants_;                        // aligned copies of unaligned weights
  std::map<std::string, Tensor, std::less<>> views_;     // every value, by name
  std::vector<Step> steps_;
};

}  // namespace quench
