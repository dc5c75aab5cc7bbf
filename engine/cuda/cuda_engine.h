// The CUDA backend's share of an engine: for every batch's execution plan, the layouts
// (layout.h), what each op prepared (its weights, its workspace) and the device memory plan;
// and the weights, uploaded once and read by every context. Made by build_cuda_engine, then
// read-only, so contexts on many threads share it.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/cuda/device_plan.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/layout.h"
#include "engine/execution_plan.h"
#include "quench/quench.h"

namespace quench::cuda {

struct CudaBatch {
  std::shared_ptr<const ExecutionPlan> plan;
  LayoutPlan layouts;
  std::vector<ops::GpuPrepared> prepared;  // per step
  // Per step, per input: the weight holding a constant input the op did not claim (uploaded in
  // the layout the step sees), else -1.
  std::vector<std::vector<int>> constant_inputs;
  StreamSchedule schedule;  // which stream runs each step (one stream unless built for more)
  DevicePlan memory;        // safe under `schedule`
  int64_t pinned_bytes = 0;  // host staging for this batch's inputs and outputs
};

struct CudaEngine {
  std::vector<std::unique_ptr<CudaBatch>> batches;  // [b - 1]; null where the plan is
  DeviceWeights weights;
  DeviceInfo device;
  int64_t arena_bytes = 0;       // the largest batch's
  size_t persistent_bytes = 0;   // split-K workspace, the largest step's
  int64_t pinned_bytes = 0;      // the largest batch's host staging
  int streams = 1;               // the most streams a batch's schedule uses
};

// Checks that every op of `plan` has a CUDA kernel for its form and decides the batch's layouts,
// weights and workspaces (into `weights`), on the host. `multiprocessors` sizes split-K
// workspaces. The coverage check of build_cuda_engine, usable without a device.
Result<std::unique_ptr<CudaBatch>> prepare_batch(std::shared_ptr<const ExecutionPlan> plan, DeviceWeights& weights,
                                                 int multiprocessors);

// Prepares every batch (kUnsupported naming the first node without a CUDA kernel), then needs a
// device (kUnavailable "no CUDA device: ..." without one), schedules the steps over at most
// `max_streams` streams (engine/stream_schedule.h), plans device memory and uploads the weights.
// `plans[b - 1]` may be null (a fixed-batch model). `source` names the model in errors.
Result<std::shared_ptr<const CudaEngine>> build_cuda_engine(std::span<const std::shared_ptr<const ExecutionPlan>> plans,
                                                            const std::string& source, int max_streams = 1);

// The schedule and device memory of one prepared batch, as build_cuda_engine makes them (no
// device needed).
Status plan_batch(CudaBatch& batch, int max_streams);

// The device memory an engine fixed: the arena of its largest batch (the lower bound and the
// naive size of the largest batch's plan beside it) and the uploaded weights.
MemoryReport memory_report(const CudaEngine& engine);

}  // namespace quench::cuda
