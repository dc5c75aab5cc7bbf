// What the public handles (Model, Engine, Context) hold.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "engine/cpu_executor.h"
#include "engine/execution_plan.h"
#include "engine/ir/graph.h"
#include "engine/shape_inference.h"
#include "quench/quench.h"

namespace quench::detail {

struct ModelImpl {
  ir::Model model;
  std::vector<TensorInfo> inputs, outputs;
  static Result<Model> make(ir::Model m);
};

struct EngineImpl {
  std::shared_ptr<const ModelImpl> model;
  BuildOptions options;
  std::vector<TensorInfo> inputs, outputs;
  MemoryReport memory;
  // The graph inferred and folded at each batch size, built on first use.
  Result<std::shared_ptr<const ir::Graph>> graph_for_batch(int64_t batch) const;
  // The execution plan at each batch size, made once and shared by every context.
  Result<std::shared_ptr<const ExecutionPlan>> plan_for_batch(int64_t batch) const;
  static Result<Engine> make(const Model& m, const BuildOptions& opt);
  static Result<Context> make_context(std::shared_ptr<const EngineImpl> self);

 private:
  mutable std::mutex mu_;
  mutable std::map<int64_t, std::shared_ptr<const ir::Graph>> graphs_;
  mutable std::mutex plans_mu_;
  mutable std::map<int64_t, std::shared_ptr<const ExecutionPlan>> plans_;
};

struct ContextImpl {
  std::shared_ptr<const EngineImpl> engine;
  std::map<int64_t, std::unique_ptr<CpuExecutor>> executors;  // by batch
};

}  // namespace quench::detail
