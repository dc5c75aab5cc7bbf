// Runs a shape-inferred graph on the CPU reference ops through its execution plan: every
// activation lives in one host arena at the offset the memory planner chose, so the CPU run
// checks the plan as well as the ops. Everything is prepared once; run() allocates nothing
// for the graph itself.
#pragma once

#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "engine/execution_plan.h"
#include "quench/quench.h"

namespace quench {

class CpuExecutor {
 public:
  // Runs `plan`, which may be shared by several executors. Without `arena` the executor
  // allocates its own; with one (at least plan.memory.arena_bytes of `arena_capacity`,
  // 256-byte aligned, outliving the executor) it works there, so that executors for several
  // batch sizes can take turns in one context's arena.
  static Result<std::unique_ptr<CpuExecutor>> create(std::shared_ptr<const ExecutionPlan> plan,
                                                     std::byte* arena = nullptr, int64_t arena_capacity = 0);
  // Plans `g` (shape-inferred) for this executor alone.
  static Result<std::unique_ptr<CpuExecutor>> create(std::shared_ptr<const ir::Graph> g, const PlanOptions& opt = {});

  // Inputs are checked against the graph's shapes; outputs are (re)allocated when their
  // dtype or shape does not match.
  Status run(const TensorMap& inputs, TensorMap& outputs);

  // When one step ran, in seconds on the host's steady clock: `start` from the beginning of
  // run_profiled (after the inputs' copy into the arena, so step 0 starts a little after 0).
  struct StepTime {
    double start = 0, seconds = 0;
  };
  // run() with every step timed, for the profiler: `times` has one entry per executed step,
  // in plan order with elided steps left out (see executed_steps()). run() itself stays
  // untimed.
  Status run_profiled(const TensorMap& inputs, TensorMap& outputs, std::span<StepTime> times);
  // The plan steps run() executes, in order: those not elided.
  size_t executed_steps() const { return steps_.size(); }

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
  // The body of run() and run_profiled(); run_step(step, index) runs one step.
  template <class RunStep>
  Status run_with(const TensorMap& inputs, TensorMap& outputs, RunStep&& run_step);
  std::shared_ptr<const ExecutionPlan> plan_;
  std::unique_ptr<std::byte, FreeDeleter> owned_arena_;
  std::byte* arena_ = nullptr;
  std::vector<Tensor> constants_;                        // aligned copies of unaligned weights
  std::map<std::string, Tensor, std::less<>> views_;     // every value, by name
  std::vector<Step> steps_;
};

}  // namespace quench
