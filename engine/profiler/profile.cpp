// quench::profile: per-layer times from the typical timed runs beside whole-model medians from
// plain runs, with each layer's cost and verdict against the device's ceilings.
#include "quench/profile.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <numeric>
#include <random>

#include "engine/api_impl.h"
#include "engine/cpu_executor.h"
#include "engine/profiler/ceilings.h"
#include "engine/profiler/cost_model.h"
#include "engine/profiler/raw_profile.h"
#include "engine/profiler/roofline.h"
#include "quench/float16.h"

namespace quench {

std::string profiler::op_label(const ir::Node& n) {
  return n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + "." + n.op_type;
}

namespace {

using Clock = std::chrono::steady_clock;

Status check_options(const Engine& engine, const ProfileOptions& o) {
  if (o.iterations < 1)
    return error(StatusCode::kInvalidArgument, "profile: iterations must be at least 1, got ", o.iterations);
  if (o.warmup < 0) return error(StatusCode::kInvalidArgument, "profile: warmup must be at least 0, got ", o.warmup);
  const int64_t max_batch = engine.options().max_batch;
  if (o.batch < 0 || o.batch > max_batch)
    return error(StatusCode::kInvalidArgument, "profile: batch ", o.batch, " is outside 1..", max_batch,
                 " (the engine's max_batch; 0 means max_batch)");
  return {};
}

// Random floats in [-1, 1): values a trained model could see, no denormals or NaNs to slow a
// layer down. Integer and bool inputs stay 0, a valid index for any table.
Tensor random_input(const PlannedValue& pv, std::mt19937_64& rng) {
  Tensor t = Tensor::zeros(pv.dtype, pv.shape);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  void* p = t.mutable_data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (pv.dtype) {
      case DType::kF32: static_cast<float*>(p)[i] = real(rng); break;
      case DType::kF64: static_cast<double*>(p)[i] = real(rng); break;
      case DType::kF16: static_cast<uint16_t*>(p)[i] = float_to_half(real(rng)); break;
      case DType::kBF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(real(rng)); break;
      default: return t;
    }
  }
  return t;
}

TensorMap make_inputs(const ExecutionPlan& plan, const ProfileOptions& o) {
  TensorMap feeds = o.inputs;
  std::mt19937_64 rng(o.seed);
  for (int v : plan.inputs) {
    const PlannedValue& pv = plan.values[static_cast<size_t>(v)];
    if (!feeds.count(pv.name)) feeds[pv.name] = random_input(pv, rng);
  }
  return feeds;
}

// Costs saturate (a hostile shape), so their totals do too.
int64_t saturating_add(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The CPU engine's layers timed with host clocks around every step, one plain and one profiled
// run per round, so that a change of load on the machine meets both.
Result<profiler::RawProfile> time_cpu(const Engine& engine, int64_t batch, const TensorMap& feeds,
                                      const ProfileOptions& o) {
  QUENCH_ASSIGN(auto plan, engine.impl().plan_for_batch(batch));
  // An executor of its own, so that the profile leaves the caller's contexts alone.
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(plan));
  profiler::RawProfile raw;
  for (const PlannedStep& ps : plan->steps) {
    if (ps.elided) continue;
    LayerProfile L;
    L.step = &ps - plan->steps.data();
    L.name = ps.node->name;
    L.op_type = profiler::op_label(*ps.node);
    L.impl = ps.impl;
    raw.layers.push_back(std::move(L));
    raw.costs.push_back(profiler::step_cost(*plan, ps));
  }
  if (raw.layers.size() != ex->executed_steps())
    return error(StatusCode::kInternal, "profile: the executor runs ", ex->executed_steps(), " steps but the plan has ",
                 raw.layers.size(), " to run");

  TensorMap outputs;
  const size_t n_steps = raw.layers.size(), iters = static_cast<size_t>(o.iterations);
  std::vector<CpuExecutor::StepTime> times(n_steps * iters);  // [iteration][step]
  raw.model_seconds.resize(iters);
  for (int64_t i = 0; i < o.warmup; ++i) {
    QUENCH_TRY(ex->run(feeds, outputs).with_context("profile: warmup run"));
    QUENCH_TRY(ex->run_profiled(feeds, outputs, std::span(times.data(), n_steps)).with_context("profile: warmup run"));
  }
  for (size_t i = 0; i < iters; ++i) {
    const Clock::time_point t0 = Clock::now();
    Status s = ex->run(feeds, outputs);
    const Clock::time_point t1 = Clock::now();
    QUENCH_TRY(s.with_context("profile: run " + std::to_string(i)));
    raw.model_seconds[i] = seconds_between(t0, t1);
    QUENCH_TRY(ex->run_profiled(feeds, outputs, std::span(times.data() + i * n_steps, n_steps))
                   .with_context("profile: profiled run " + std::to_string(i)));
  }
  raw.times.reserve(times.size());
  for (const CpuExecutor::StepTime& t : times) raw.times.push_back({t.start, t.seconds});
  return raw;
}

// Each layer's typical time, spread and verdict from the raw timings.
void reduce(profiler::RawProfile& raw, ProfileReport& r) {
  r.model = summarize_latencies(raw.model_seconds);
  const size_t n_steps = raw.layers.size(), iters = raw.model_seconds.size();
  const std::vector<profiler::StepTime>& times = raw.times;

  // The representative iteration: the profiled run whose layer sum is the median one.
  std::vector<double> sums(iters, 0.0);
  for (size_t i = 0; i < iters; ++i)
    for (size_t s = 0; s < n_steps; ++s) sums[i] += times[i * n_steps + s].seconds;
  std::vector<size_t> order(iters);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sums[a] < sums[b]; });
  const size_t rep = order[(iters - 1) / 2];
  // The middle third of the runs by total (at least one), around the median run.
  const size_t mid_begin = iters / 3, mid_end = iters - iters / 3;

  std::vector<double> column(iters);
  for (size_t s = 0; s < n_steps; ++s) {
    LayerProfile& L = raw.layers[s];
    const profiler::LayerCost& cost = raw.costs[s];
    L.flops = cost.flops;
    L.bytes = cost.bytes();
    L.weight_bytes = cost.weight_bytes;
    double typical = 0;
    for (size_t k = mid_begin; k < mid_end; ++k) typical += times[order[k] * n_steps + s].seconds;
    L.seconds = typical / static_cast<double>(mid_end - mid_begin);
    for (size_t i = 0; i < iters; ++i) column[i] = times[i * n_steps + s].seconds;
    std::sort(column.begin(), column.end());
    L.median_seconds = percentile_sorted(column, 50);
    L.min_seconds = column.front();
    L.max_seconds = column.back();
    const profiler::Achieved a = profiler::achieved(cost, L.seconds);
    L.flop_per_s = a.flop_per_s;
    L.bytes_per_s = a.bytes_per_s;
    const profiler::Verdict v = profiler::classify(cost, L.seconds, r.ceilings);
    L.floor_seconds = v.floor_seconds;
    L.bound = v.bound;
    L.ceiling_fraction = v.ceiling_fraction;
    L.trace_start_seconds = times[rep * n_steps + s].start;
    L.trace_seconds = times[rep * n_steps + s].seconds;
    r.layer_sum_seconds += L.seconds;
    r.total_flops = saturating_add(r.total_flops, L.flops);
    r.total_bytes = saturating_add(r.total_bytes, L.bytes);
  }
  for (LayerProfile& L : raw.layers) L.share = r.layer_sum_seconds > 0 ? L.seconds / r.layer_sum_seconds : 0.0;
  r.layers = std::move(raw.layers);
}

}  // namespace

Result<DeviceCeilings> device_ceilings(Backend backend) {
  if (backend == Backend::kCuda) return profiler::cuda_ceilings();
  return profiler::cpu_ceilings();
}

Result<ProfileReport> profile(const Engine& engine, const ProfileOptions& o) {
  QUENCH_TRY(check_options(engine, o));
  const int64_t batch = o.batch == 0 ? engine.options().max_batch : o.batch;
  QUENCH_ASSIGN(auto plan, engine.impl().plan_for_batch(batch));
  ProfileReport r;
  r.backend = engine.options().backend;
  r.precision = engine.options().precision;
  r.batch = batch;
  r.warmup = o.warmup;
  r.iterations = o.iterations;
  QUENCH_ASSIGN(r.ceilings, device_ceilings(r.backend));  // measured before the runs, not during
  const TensorMap feeds = make_inputs(*plan, o);
  QUENCH_ASSIGN(profiler::RawProfile raw, r.backend == Backend::kCuda ? profiler::time_cuda(engine, batch, feeds, o)
                                                                        : time_cpu(engine, batch, feeds, o));
  reduce(raw, r);
  return r;
}

}  // namespace quench
