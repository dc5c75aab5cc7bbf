// INT8 calibration: runs the FP32 CPU reference over calibration inputs and keeps an |x|
// histogram of every float32 activation (graph inputs and outputs included), then turns the
// histograms into a calibration table by one of the scale methods.
//
// The graph is planned without in-place steps, Concat elision or arena reuse
// (PlanOptions{.in_place = false, .concat_in_place = false, .reuse_memory = false}), so after
// a run every activation still holds its own values and none is read twice or overwritten.
// Calibrate the graph the INT8 engine will quantize (after the optimizer's passes), so the
// tensors named in the table are the ones it looks up.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/calibration/calibration_table.h"
#include "engine/calibration/histogram.h"
#include "engine/cpu_executor.h"

namespace quench::calib {

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kEntropy;
  double percentile = 99.99;
  int bins = AbsHistogram::kDefaultBins;
  int64_t max_samples = 0;  // 0: every sample found
  // Called after each sample with (samples done, samples in all); may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

class ActivationCollector {
 public:
  // `g`: validated, schema-bound and shape-inferred.
  static Result<std::unique_ptr<ActivationCollector>> create(std::shared_ptr<const ir::Graph> g, int bins);

  // One run over `inputs` (every graph input), adding each float32 activation to its histogram.
  Status add(const TensorMap& inputs);

  const std::map<std::string, AbsHistogram, std::less<>>& histograms() const { return hist_; }
  int64_t samples() const { return samples_; }

  // A threshold and scale per tensor from the histograms so far.
  CalibrationTable table(CalibrationMethod method, double percentile = 99.99) const;

 private:
  std::unique_ptr<CpuExecutor> exec_;
  std::map<std::string, AbsHistogram, std::less<>> hist_;
  TensorMap outputs_;  // reused between runs
  int64_t samples_ = 0;
};

// list_calibration_samples + load + add for each sample (calibration_inputs.h), then table().
Result<CalibrationTable> calibrate(std::shared_ptr<const ir::Graph> g, const std::string& dir,
                                   const CalibrationOptions& opt = {});

}  // namespace quench::calib
