// Kernel launches per inference, the figure the fusion passes are judged by (docs/fusion.md).
#pragma once

#include <cstdint>

#include "engine/execution_plan.h"

namespace quench {

// A step whose output holds its input's bytes in the same order (Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, and Dropout without a mask output): a backend hands out a view instead
// of launching anything.
bool is_pure_alias(const ir::Node& n);

// Launches per inference of `plan`: one per step, except elided steps (a Concat whose inputs
// were written straight into its output) and pure aliases. A fused node is one step, so one
// launch; constants folded at build time are no steps at all.
int64_t count_launches(const ExecutionPlan& plan);

}  // namespace quench
