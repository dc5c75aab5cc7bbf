#include "engine/calibration/calibrator.h"

#include <algorithm>

#include "engine/calibration/calibration_inputs.h"

namespace quench::calib {

Result<std::unique_ptr<ActivationCollector>> ActivationCollector::create(std::shared_ptr<const ir::Graph> g,
                                                                         int bins) {
  PlanOptions opt;
  opt.in_place = false;
  opt.concat_in_place = false;
  opt.reuse_memory = false;
  QUENCH_ASSIGN(ExecutionPlan plan, make_execution_plan(g, opt));
  auto c = std::unique_ptr<ActivationCollector>(new ActivationCollector());
  for (const PlannedValue& v : plan.values)
    if (!v.constant && v.dtype == DType::kF32) c->hist_.emplace(v.name, AbsHistogram(bins));
  QUENCH_ASSIGN(c->exec_, CpuExecutor::create(std::make_shared<const ExecutionPlan>(std::move(plan))));
  return c;
}

Status ActivationCollector::add(const TensorMap& inputs) {
  QUENCH_TRY(exec_->run(inputs, outputs_));
  for (auto& [name, h] : hist_) {
    const Tensor* t = exec_->find_value(name);
    if (!t) return error(StatusCode::kInternal, "calibration: tensor '", name, "' has no value after the run");
    h.add({t->data_as<float>(), static_cast<size_t>(t->numel())});
  }
  ++samples_;
  return {};
}

CalibrationTable ActivationCollector::table(CalibrationMethod method, double percentile) const {
  CalibrationTable t;
  t.method = method;
  t.percentile = percentile;
  t.samples = samples_;
  for (const auto& [name, h] : hist_) {
    CalibrationEntry e;
    e.amax = threshold(h, method, percentile);
    e.scale = scale_from_threshold(e.amax);
    t.tensors.emplace(name, e);
  }
  return t;
}

Result<CalibrationTable> calibrate(std::shared_ptr<const ir::Graph> g, const std::string& dir,
                                   const CalibrationOptions& opt) {
  QUENCH_ASSIGN(auto samples, list_calibration_samples(dir, *g));
  QUENCH_ASSIGN(auto collector, ActivationCollector::create(g, opt.bins));
  const size_t n = opt.max_samples > 0 ? std::min(samples.size(), static_cast<size_t>(opt.max_samples)) : samples.size();
  for (size_t k = 0; k < n; ++k) {
    QUENCH_ASSIGN(TensorMap feeds, load_calibration_sample(samples[k], *g));
    Status st = collector->add(feeds);
    if (!st.ok()) return st.with_context("calibration sample " + std::to_string(k));
    if (opt.progress) opt.progress(static_cast<int64_t>(k + 1), static_cast<int64_t>(n));
  }
  return collector->table(opt.method, opt.percentile);
}

}  // namespace quench::calib
