// What the public handles (Model, Engine, Context) hold.
#pragma once

#include <memory>

#include "engine/calibration/calibration_table.h"
#include "engine/cpu_executor.h"
#include "engine/cuda/cuda_context.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/execution_plan.h"
#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench::detail {

struct ModelImpl {
  ir::Model model;
  std::vector<TensorInfo> inputs, outputs;
  static Result<Model> make(ir::Model m);
};

// Everything build() decides, made once and read-only afterwards, so contexts on many
// threads share it without locks.
struct EngineImpl {
  BuildOptions options;
  std::string source;  // the model file, for messages
  std::vector<TensorInfo> inputs, outputs;
  MemoryReport memory;
  // INT8 engines: the activation scales (saved in the plan file) and what was quantized.
  calib::CalibrationTable calibration;
  Int8Report int8;
  // plans[b - 1] runs batch b; every plan fits in one arena of memory.arena_bytes.
  std::vector<std::shared_ptr<const ExecutionPlan>> plans;
  // Backend kCuda: the layouts, device plans and uploaded weights of those plans (engine/cuda/).
  std::shared_ptr<const cuda::CudaEngine> cuda;
  // Whatever the weight tensors view (the mapped model or plan file) stays alive with them;
  // this only documents the owner for a reader of a core dump.
  std::shared_ptr<const void> keep_alive;

  Result<std::shared_ptr<const ExecutionPlan>> plan_for_batch(int64_t batch) const;
  // Fills inputs, outputs and memory from the plans.
  Status finish();
  static Result<Engine> make(const Model& m, const BuildOptions& opt);
  static Engine wrap(std::shared_ptr<const EngineImpl> impl);
  static Result<Context> make_context(std::shared_ptr<const EngineImpl> self, const ContextOptions& options);
};

struct ContextImpl {
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::shared_ptr<const EngineImpl> engine;
  // One arena for every batch size: the executors take turns in it.
  std::unique_ptr<std::byte, FreeDeleter> arena;
  std::vector<std::unique_ptr<CpuExecutor>> executors;  // [b - 1], made at creation
  std::unique_ptr<cuda::CudaContext> cuda;  // backend kCuda: runs instead of the executors
  // Backend kCpu: submit() runs at once into slot[submitted % depth]; collect() copies
  // slot[collected % depth] out. The slots keep their tensors, so runs allocate nothing after
  // each slot's first.
  std::vector<TensorMap> slots = std::vector<TensorMap>(1);  // ContextOptions::pipeline: 2
  int64_t submitted = 0, collected = 0;
};

}  // namespace quench::detail
