// The cost of one layer from its shapes and dtypes alone: FLOPs (by the rules stated in
// include/quench/inspect.h, which `inspect` and the profiler both count through here) and the
// minimum bytes it must move. With a measured time these give the achieved rates.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "engine/execution_plan.h"
#include "engine/ir/graph.h"

namespace quench::profiler {

// One input or output of a layer as the cost model sees it. An omitted optional operand has
// an empty name.
struct Operand {
  std::string_view name;
  DType dtype = DType::kUndefined;
  const Shape* shape = nullptr;  // null for an omitted operand
  bool constant = false;         // a weight (initializer or folded value)

  bool present() const { return shape != nullptr; }
};

struct LayerCost {
  int64_t flops = 0;
  // The least traffic the layer can have: every distinct input read once (weights included),
  // every output written once, at the operands' dtypes.
  int64_t input_bytes = 0;   // activations and weights together
  int64_t weight_bytes = 0;  // the constant part of input_bytes
  int64_t output_bytes = 0;
  int64_t bytes() const;  // input_bytes + output_bytes (saturating)
};

// Saturating counts: a hostile shape gives a huge cost, never signed overflow.
LayerCost layer_cost(const ir::Node& node, std::span<const Operand> inputs, std::span<const Operand> outputs);

// The cost of a plan step, at the dtypes the plan gives its values, or at `dtypes` (one per plan
// value) when given: a backend that holds values in another type (float16 on the GPU).
LayerCost step_cost(const ExecutionPlan& plan, const PlannedStep& step, std::span<const DType> dtypes = {});

// What a layer achieved in `seconds`: 0 for a non-positive time.
struct Achieved {
  double flop_per_s = 0;
  double bytes_per_s = 0;
};
Achieved achieved(const LayerCost& cost, double seconds);

}  // namespace quench::profiler
