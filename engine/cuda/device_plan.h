// The device memory of one batch's plan: the memory planner (engine/memory_planner.h) run on the
// GPU's byte sizes (float16, NHWC), so that a context holds one device arena sized for its
// largest batch. Besides the activations it places, per step, the step's scratch (layout
// conversions, then the op's workspace for intermediates), and the float32 staging buffers the
// graph inputs and outputs pass through at the boundary.
#pragma once

#include <span>
#include <vector>

#include "engine/cuda/layout.h"
#include "engine/execution_plan.h"
#include "engine/memory_planner.h"
#include "engine/stream_schedule.h"

namespace quench::cuda {

struct DevicePlan {
  std::vector<int64_t> value_offsets;    // per plan value; -1 for constants
  std::vector<int64_t> scratch_offsets;  // per step; -1 when the step needs none
  std::vector<int64_t> op_workspace_offsets;  // per step: inside its scratch, after the conversions
  std::vector<int64_t> input_staging;    // per graph input: float32 NCHW staging, -1 when not float
  std::vector<int64_t> output_staging;   // per graph output: likewise
  std::vector<bool> in_place;            // per step: output 0 took input 0's bytes
  MemoryPlan memory;
  // What was planned: the planner's tensors, and per tensor the steps touching it (-1: the copies
  // in, before every step; the step count: the copies out, after every step).
  std::vector<PlanTensor> tensors;
  std::vector<std::vector<int>> accesses;
};

// `op_workspace[i]` is step i's GpuPrepared::workspace_bytes. Without `reuse_memory` every tensor
// keeps its bytes for the whole run (the validation path reads them all afterwards). With a
// `schedule` of several streams, a tensor's bytes are given to another only once every step that
// touches it happens before the other's producer (StreamSchedule::last_overlapping_step), and an
// output takes its input's bytes in place only when every other reader happens before; the plan
// is then also safe on one stream. Null: the steps run one after another.
Result<DevicePlan> plan_device_memory(const ExecutionPlan& plan, const LayoutPlan& layouts,
                                      std::span<const size_t> op_workspace, bool reuse_memory = true,
                                      const StreamSchedule* schedule = nullptr);

// Independent check of a plan against its schedule: any two arena ranges that share bytes belong
// to tensors of which one is done (every step touching it happens before) when the other is first
// written, or to an in-place pair whose other readers happen before the in-place step.
// kInternal naming both tensors otherwise.
Status verify_stream_safety(const DevicePlan& device, const StreamSchedule& schedule);

// Which steps each step waits for: the producers of its inputs (the schedule's dependencies).
std::vector<std::vector<int>> step_dependencies(const ExecutionPlan& plan);

}  // namespace quench::cuda
