// Memory planner: places every activation of an execution order in one arena so that no two
// tensors live at the same step overlap. Pure arithmetic over lifetimes: it knows nothing of
// ops or devices, so the CPU and CUDA backends share it and property tests can drive it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "quench/status.h"

namespace quench {

inline constexpr int64_t kArenaAlignment = 256;

// One tensor to place. Steps index the execution order; a tensor is live from the step that
// writes it (first_step) through the last step that reads it (last_step), both inclusive.
// Graph inputs use first_step = 0 and graph outputs last_step = the final step, so the caller
// can copy them in and out around a run.
struct PlanTensor {
  std::string name;   // for error messages
  int64_t bytes = 0;
  int first_step = 0;
  int last_step = 0;
  // In-place: this tensor may take the buffer of `reuse_of` (an input of its producing step)
  // when that tensor's last reader is this tensor's producing step and it is at least as large.
  int reuse_of = -1;
  // Concat elimination: this tensor lives inside tensor `slice_of` at byte `slice_offset`.
  // The parent's buffer then lives from the earliest child's first step.
  int slice_of = -1;
  int64_t slice_offset = 0;
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per tensor, bytes from the arena start
  int64_t arena_bytes = 0;
  // The largest sum of live bytes at any single step: no placement can use less.
  int64_t lower_bound_bytes = 0;
  // Every tensor its own buffer (aligned), as a framework without a planner would allocate.
  int64_t naive_bytes = 0;
  int reused_in_place = 0;  // tensors that took their input's buffer
  int sliced = 0;           // tensors placed inside a concat output
};

// Places the tensors (greedy by size, best fit among the gaps left by tensors whose lifetimes
// overlap). Fails with kInvalidArgument naming the tensor when the input is inconsistent
// (negative size, first_step > last_step, slice outside its parent, chains of slices).
// `concurrent(a, b)` (tensor indices), when given, says that a and b may be in use at the same time
// although their lifetimes do not overlap (steps on different streams, engine/stream_schedule.h):
// such tensors never share bytes either.
Result<MemoryPlan> plan_memory(std::span<const PlanTensor> tensors, int64_t alignment = kArenaAlignment,
                               const std::function<bool(int, int)>& concurrent = {});

// Independent check of a plan: alignment, bounds, and no two tensors that are live at the
// same step share bytes unless one is a slice of the other or an allowed in-place reuse.
Status verify_plan(std::span<const PlanTensor> tensors, const MemoryPlan& plan, int64_t alignment = kArenaAlignment);

}  // namespace quench
