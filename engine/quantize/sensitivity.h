// The sensitivity pass of mixed precision: which layers must stay float for an INT8 engine to
// keep its outputs within an error budget.
//
//   1. each candidate layer alone in INT8 (the rest float): its error is its sensitivity;
//   2. all candidates in INT8: if the error is within the budget, done;
//   3. otherwise the k most sensitive layers stay float, for the smallest k that meets the
//      budget, found by doubling k and then bisecting (error falls as k grows, close enough to
//      monotonically that this needs O(log n) measurements instead of n).
// Errors are mean_relative_l2 of the outputs against the float graph on the same samples.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/calibration/calibration_table.h"
#include "engine/ir/graph.h"
#include "engine/quantize/quantize_graph.h"
#include "quench/quench.h"

namespace quench::quant_pass {

struct SensitivityInputs {
  const ir::Graph* graph = nullptr;  // optimized, float
  const calib::CalibrationTable* table = nullptr;
  const BuildOptions* build = nullptr;  // for specialization
  int64_t batch = 1;                    // the samples' batch
  std::string source;
  std::vector<TensorMap> samples;
  double budget = 0;
  NameSet keep_float;  // the user's, never quantized
  std::function<void(const std::string&)> progress;
};

struct SensitivityResult {
  NameSet for_accuracy;  // the layers kept float to meet the budget (the user's not included)
  std::map<std::string, double, std::less<>> sensitivity;  // per candidate layer
  double error = 0;  // of the engine with both sets float
};

Result<SensitivityResult> choose_float_layers(const SensitivityInputs& in);

}  // namespace quench::quant_pass
