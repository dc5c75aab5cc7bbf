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

namespace quench::cuda {

struct DevicePlan {
  std::vector<int64_t> value_offsets;    // per plan value; -1 for constants
  std::vector<int64_t> scratch_offsets;  // per step; -1 when the step needs none
  std::vector<int64_t> op_workspace_offsets;  // per step: inside its scratch, after the conversions
  std::vector<int64_t> input_staging;    // per graph input: float32 NCHW staging, -1 when not float
  std::vector<int64_t> output_staging;   // per graph output: likewise
  std::vector<bool> in_place;            // per step: output 0 took input 0's bytes
  MemoryPlan memory;
};

// `op_workspace[i]` is step i's GpuPrepared::workspace_bytes. Without `reuse_memory` every tensor
// keeps its bytes for the whole run (the validation path reads them all afterwards).
Result<DevicePlan> plan_device_memory(const ExecutionPlan& plan, const LayoutPlan& layouts,
                                      std::span<const size_t> op_workspace, bool reuse_memory = true);

}  // namespace quench::cuda
