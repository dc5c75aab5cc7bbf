#include "engine/optimizer/launches.h"

#include "engine/optimizer/graph_edit.h"

namespace quench {

bool is_pure_alias(const ir::Node& n) {
  using optimizer::is_onnx;
  if (is_onnx(n, "Reshape") || is_onnx(n, "Flatten") || is_onnx(n, "Squeeze") || is_onnx(n, "Unsqueeze") ||
      is_onnx(n, "Identity"))
    return true;
  return is_onnx(n, "Dropout") && (n.outputs.size() < 2 || n.outputs[1].empty());
}

int64_t count_launches(const ExecutionPlan& plan) {
  int64_t launches = 0;
  for (const PlannedStep& s : plan.steps)
    if (!s.elided && !is_pure_alias(*s.node)) ++launches;
  return launches;
}

}  // namespace quench
