// quench::validate (include/quench/validate.h): the engine's plan and the model's own graph,
// each run keeping every tensor (no memory reuse), compared by name. The reference is a CPU
// executor; a CPU engine runs on another, timed step by step, a CUDA engine through
// cuda::run_keeping_every_tensor, with its layers' times from quench::profile.
#include "quench/validate.h"

#include <algorithm>

#include "engine/api_impl.h"
#include "engine/batch_graph.h"
#include "engine/calibration/calibration_inputs.h"
#include "engine/cuda/debug_run.h"
#include "engine/relative_l2.h"
#include "ops/attributes.h"
#include "quench/profile.h"

namespace quench {
namespace {

// A layer's error here is accumulated from the inputs on (the engine's tensors against the FP32
// graph's), so it bounds drift, not one kernel: the FP16 kernels' own 2e-3 is checked by the GPU
// kernel tests, and 2e-2 is what the whole-model GPU test allows a zoo model's outputs.
double default_tolerance(Precision p) {
  switch (p) {
    case Precision::kFP32: return 1e-5;
    case Precision::kFP16: return 2e-2;
    case Precision::kINT8: return 0.1;
  }
  return 1e-5;
}

// An INT8 tensor "t.int8" (or "t.int8_2") stands for float tensor "t"; its scale is the
// producing node's output scale.
std::string float_name(const std::string& tensor) {
  const size_t at = tensor.rfind(".int8");
  return at == std::string::npos ? tensor : tensor.substr(0, at);
}

float output_scale(const ir::Node& n) {
  const char* key = n.op_type == "Int8Quantize" ? "scale" : "y_scale";
  const ops::Attribute* a = n.attrs.find(key);
  return a && a->kind == ops::Attribute::Kind::kFloat ? a->f : 1.0f;
}

bool comparable(const Tensor* got, const Tensor* ref) {
  return got && ref && ref->dtype() == DType::kF32 && (got->dtype() == DType::kF32 || got->dtype() == DType::kI8) &&
         got->numel() == ref->numel() && ref->numel() > 0;
}

Result<std::vector<TensorMap>> load_samples(const ValidateOptions& opt, const ir::Graph& g) {
  if (!opt.samples.empty() && !opt.samples_dir.empty())
    return error(StatusCode::kInvalidArgument, "validate: give samples or a samples folder, not both");
  std::vector<TensorMap> samples = opt.samples;
  if (!opt.samples_dir.empty()) {
    QUENCH_ASSIGN(auto files, calib::list_calibration_samples(opt.samples_dir, g));
    for (const auto& f : files) {
      if (opt.max_samples > 0 && static_cast<int64_t>(samples.size()) >= opt.max_samples) break;
      QUENCH_ASSIGN(TensorMap s, calib::load_calibration_sample(f, g));
      samples.push_back(std::move(s));
    }
  } else if (opt.max_samples > 0 && static_cast<int64_t>(samples.size()) > opt.max_samples) {
    samples.resize(static_cast<size_t>(opt.max_samples));
  }
  if (samples.empty()) return error(StatusCode::kInvalidArgument, "validate: no sample inputs");
  return samples;
}

void add_output_metrics(const Tensor& got, const Tensor& ref, double iou_threshold, OutputValidation& o,
                        std::vector<double>& ious) {
  const Shape& s = ref.shape();
  if (s.size() == 2 && s[1] > 1) {
    for (int64_t row = 0; row < s[0]; ++row) {
      const float* r = ref.data_as<float>() + row * s[1];
      const float* g = got.data_as<float>() + row * s[1];
      o.top1_agree += std::max_element(r, r + s[1]) - r == std::max_element(g, g + s[1]) - g;
      ++o.top1_total;
    }
  }
  if (iou_threshold > 0) {
    int64_t both = 0, either = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      const bool a = ref.data_as<float>()[i] > iou_threshold, b = got.data_as<float>()[i] > iou_threshold;
      both += a && b;
      either += a || b;
    }
    ious.push_back(either ? static_cast<double>(both) / static_cast<double>(either) : 1.0);
  }
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The engine under test, for one sample at a time: every tensor it computed, by name, and the
// time of each step (per sample on the CPU; from a separate profile on CUDA, see times()).
class EngineRunner {
 public:
  static Result<EngineRunner> create(const detail::EngineImpl& e, std::shared_ptr<const ExecutionPlan> plan,
                                     int64_t batch) {
    EngineRunner r;
    r.engine_ = &e;
    r.batch_ = batch;
    if (e.cuda) {
      r.plan_ = std::move(plan);
      return r;
    }
    const PlanOptions keep_all{.in_place = false, .concat_in_place = false, .reuse_memory = false};
    QUENCH_ASSIGN(r.exec_, CpuExecutor::create(plan->graph, keep_all));
    r.times_.resize(r.exec_->executed_steps());
    return r;
  }
  const ExecutionPlan& plan() const { return exec_ ? exec_->plan() : *plan_; }
  // Whether step i ran (a Concat the CPU planner elided did not; the GPU runs every step).
  bool runs(size_t i) const { return !exec_ || !plan().steps[i].elided; }

  Status run(const TensorMap& sample, TensorMap& outputs) {
    if (exec_) return exec_->run_profiled(sample, outputs, times_);
    QUENCH_ASSIGN(all_, cuda::run_keeping_every_tensor(*engine_->cuda, batch_, sample));
    outputs.clear();
    for (const std::string& name : plan().graph->outputs) {
      auto it = all_.find(name);
      if (it == all_.end()) return error(StatusCode::kInternal, "validate: the CUDA run kept no output '", name, "'");
      outputs[name] = it->second;
    }
    return {};
  }
  const Tensor* find_value(const std::string& name) const {
    if (exec_) return exec_->find_value(name);
    auto it = all_.find(name);
    return it == all_.end() ? nullptr : &it->second;
  }
  // The last sample's step times, one per step that runs (CPU only).
  const std::vector<CpuExecutor::StepTime>& times() const { return times_; }
  bool times_per_sample() const { return exec_ != nullptr; }

 private:
  const detail::EngineImpl* engine_ = nullptr;
  int64_t batch_ = 1;
  std::unique_ptr<CpuExecutor> exec_;  // CPU engines
  std::shared_ptr<const ExecutionPlan> plan_;  // CUDA engines
  std::vector<CpuExecutor::StepTime> times_;
  TensorMap all_;
};

// A CUDA engine's per-step median times on `sample` (quench::profile, step by step).
Result<std::vector<double>> cuda_step_times(const Engine& engine, int64_t batch, const TensorMap& sample,
                                            size_t steps) {
  ProfileOptions po;
  po.batch = batch;
  po.warmup = 2;
  po.iterations = 11;
  po.inputs = sample;
  QUENCH_ASSIGN(ProfileReport pr, profile(engine, po));
  std::vector<double> t(steps, 0.0);
  for (const LayerProfile& l : pr.layers)
    if (l.step >= 0 && static_cast<size_t>(l.step) < steps) t[static_cast<size_t>(l.step)] = l.median_seconds;
  return t;
}

}  // namespace

Result<ValidationReport> validate(const Model& reference, const Engine& engine, const ValidateOptions& opt) {
  const detail::EngineImpl& e = engine.impl();
  if (e.options.backend == Backend::kCuda && !e.cuda)
    return error(StatusCode::kInternal, "validate: the CUDA engine has no CUDA part");
  // Samples run at the smallest batch the engine has (1, or the batch a fixed-batch model has).
  std::shared_ptr<const ExecutionPlan> plan;
  int64_t batch = 0;
  for (size_t b = 0; b < e.plans.size() && !plan; ++b)
    if (e.plans[b]) plan = e.plans[b], batch = static_cast<int64_t>(b) + 1;
  if (!plan) return error(StatusCode::kInternal, "validate: the engine has no plan");
  QUENCH_ASSIGN(auto samples, load_samples(opt, *plan->graph));

  BuildOptions ref_opt;
  ref_opt.max_batch = e.options.max_batch;
  ref_opt.input_shapes = e.options.input_shapes;
  ref_opt.optimize = false;
  QUENCH_ASSIGN(auto ref_graph, specialize_for_batch(reference.impl().model.graph, ref_opt, batch, reference.source()));
  const PlanOptions keep_all{.in_place = false, .concat_in_place = false, .reuse_memory = false};
  QUENCH_ASSIGN(auto ref_exec, CpuExecutor::create(std::move(ref_graph), keep_all));
  QUENCH_ASSIGN(EngineRunner exec, EngineRunner::create(e, plan, batch));

  ValidationReport rep;
  rep.samples = static_cast<int64_t>(samples.size());
  const double tol = opt.tolerance > 0 ? opt.tolerance : default_tolerance(e.options.precision);
  const auto& steps = exec.plan().steps;
  std::vector<double> layer_sum(steps.size(), 0.0);
  std::vector<int64_t> layer_count(steps.size(), 0);
  std::vector<std::vector<double>> layer_times(steps.size());
  double error_sum = 0;  // of every output together, per sample
  std::map<std::string, OutputValidation, std::less<>> outs;
  std::map<std::string, std::vector<double>, std::less<>> ious;
  for (size_t k = 0; k < samples.size(); ++k) {
    TensorMap got, ref;
    QUENCH_TRY(ref_exec->run(samples[k], ref).with_context("validate: reference, sample " + std::to_string(k)));
    QUENCH_TRY(exec.run(samples[k], got).with_context("validate: engine, sample " + std::to_string(k)));
    for (size_t i = 0, t = 0; i < steps.size(); ++i) {
      if (!exec.runs(i)) continue;
      if (exec.times_per_sample()) layer_times[i].push_back(exec.times()[t++].seconds);
      const ir::Node& n = *steps[i].node;
      if (n.outputs.empty() || n.outputs[0].empty()) continue;
      const Tensor* g = exec.find_value(n.outputs[0]);
      const Tensor* r = ref_exec->find_value(float_name(n.outputs[0]));
      if (!comparable(g, r)) continue;
      RelativeL2 e;
      e.add(*g, *r, output_scale(n));
      layer_sum[i] += e.value();
      ++layer_count[i];
    }
    RelativeL2 sample_error;
    for (const auto& [name, r] : ref) {
      auto it = got.find(name);
      if (it == got.end() || !comparable(&it->second, &r) || it->second.dtype() != DType::kF32)
        return error(StatusCode::kInternal, "validate: output '", name, "' differs in type or size from the reference");
      OutputValidation& o = outs[name];
      o.name = name;
      RelativeL2 e;
      e.add(it->second, r);
      sample_error.add(it->second, r);
      const double err = e.value();
      o.rel_l2_mean += err;
      o.rel_l2_max = std::max(o.rel_l2_max, err);
      add_output_metrics(it->second, r, opt.iou_threshold, o, ious[name]);
    }
    error_sum += sample_error.value();
  }
  rep.error = error_sum / static_cast<double>(samples.size());
  if (!exec.times_per_sample()) {
    QUENCH_ASSIGN(auto t, cuda_step_times(engine, batch, samples[0], steps.size()));
    for (size_t i = 0; i < steps.size(); ++i) layer_times[i].push_back(t[i]);
  }
  for (const auto& name : plan->graph->outputs) {
    OutputValidation o = outs[name];
    o.rel_l2_mean /= static_cast<double>(samples.size());
    const auto& v = ious[name];
    if (!v.empty()) {
      double sum = 0;
      for (double x : v) sum += x;
      o.iou_mean = sum / static_cast<double>(v.size());
      o.iou_min = *std::min_element(v.begin(), v.end());
    }
    rep.outputs.push_back(std::move(o));
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!exec.runs(i)) continue;
    const ir::Node& n = *steps[i].node;
    LayerValidation l;
    l.step = static_cast<int64_t>(i);
    l.node = n.name;
    l.op_type = n.op_type;
    l.tensor = n.outputs.empty() ? "" : n.outputs[0];
    const bool int8 = n.op_type.rfind("Int8", 0) == 0 && n.op_type != "Int8Dequantize";
    l.precision = int8 ? Precision::kINT8 : (e.options.precision == Precision::kINT8 ? Precision::kFP32 : e.options.precision);
    l.tolerance = tol;
    if (layer_count[i] > 0) {
      l.rel_l2 = layer_sum[i] / static_cast<double>(layer_count[i]);
      l.fails = !(l.rel_l2 <= tol);
    }
    l.seconds = median(layer_times[i]);
    if (l.fails && rep.first_failing < 0) rep.first_failing = static_cast<int64_t>(rep.layers.size());
    rep.layers.push_back(std::move(l));
  }
  return rep;
}

}  // namespace quench
