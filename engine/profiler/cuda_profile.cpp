// The CUDA engine's per-layer timing: a context of the profiler's own (the caller's contexts
// are left alone) launching step by step with a CUDA event between every two steps. The
// boundary copies (pinned staging to the device and the NCHW float32 -> NHWC float16
// conversion, and back) are layers of their own, "inputs" and "outputs", so that the layers
// add up to the whole device part of a run. Times are device times (cudaEventElapsedTime).
#include <string>

#include "engine/cuda/cuda_context.h"
#include "engine/cuda/event_timer.h"
#include "engine/profiler/raw_profile.h"

namespace quench::profiler {
namespace {

int64_t device_bytes(const cuda::CudaBatch& b, int v) {
  const PlannedValue& pv = b.plan->values[static_cast<size_t>(v)];
  return shape_numel(pv.shape) * static_cast<int64_t>(dtype_size(b.layouts.values[static_cast<size_t>(v)].dtype));
}

// A boundary layer: the host bytes of the graph inputs (outputs) on one side, their device
// form on the other. Bounded by the PCIe link rather than device memory; no FLOPs.
void add_boundary(const cuda::CudaBatch& b, bool inputs, RawProfile& raw) {
  LayerProfile L;
  L.step = -1;
  L.name = inputs ? "inputs" : "outputs";
  L.op_type = inputs ? "CopyIn" : "CopyOut";
  L.impl = "cuda.boundary";
  LayerCost c;
  for (int v : inputs ? b.plan->inputs : b.plan->outputs) {
    const int64_t host = b.plan->values[static_cast<size_t>(v)].bytes, device = device_bytes(b, v);
    c.input_bytes += inputs ? host : device;
    c.output_bytes += inputs ? device : host;
  }
  raw.layers.push_back(std::move(L));
  raw.costs.push_back(c);
}

Status describe_layers(const cuda::CudaBatch& b, const cuda::CudaExecutor& ex, RawProfile& raw) {
  const ExecutionPlan& plan = *b.plan;
  if (ex.step_count() != plan.steps.size())
    return error(StatusCode::kInternal, "profile: the CUDA executor runs ", ex.step_count(), " steps but the plan has ",
                 plan.steps.size());
  std::vector<DType> dtypes;  // what the GPU holds: float16 for the model's float32 values
  for (const auto& v : b.layouts.values) dtypes.push_back(v.dtype);
  add_boundary(b, true, raw);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const ir::Node& n = *plan.steps[i].node;
    LayerProfile L;
    L.step = static_cast<int64_t>(i);
    L.name = n.name;
    L.op_type = op_label(n);
    L.impl = "cuda";
    raw.layers.push_back(std::move(L));
    raw.costs.push_back(step_cost(plan, plan.steps[i], dtypes));
  }
  add_boundary(b, false, raw);
  return {};
}

// One step-by-step run with event k recorded before layer k and event n after the last, then
// each layer's start and duration; the inputs must be staged.
Status timed_run(const cuda::CudaExecutor& ex, cudaStream_t s, cuda::EventTimer& ev, StepTime* times) {
  const size_t steps = ex.step_count();
  QUENCH_TRY(ev.record(0, s));
  QUENCH_TRY(ex.enqueue_inputs(s));
  QUENCH_TRY(ev.record(1, s));
  for (size_t i = 0; i < steps; ++i) {
    QUENCH_TRY(ex.enqueue_step(i, s));
    QUENCH_TRY(ev.record(i + 2, s));
  }
  QUENCH_TRY(ex.enqueue_outputs(s));
  QUENCH_TRY(ev.record(steps + 2, s));
  for (size_t k = 0; k < steps + 2; ++k) {
    QUENCH_ASSIGN(times[k].start, ev.seconds_between(0, k));
    QUENCH_ASSIGN(times[k].seconds, ev.seconds_between(k, k + 1));
  }
  return {};
}

}  // namespace

Result<RawProfile> time_cuda(const Engine& engine, int64_t batch, const TensorMap& feeds, const ProfileOptions& o) {
  const auto& cuda_engine = engine.impl().cuda;
  if (!cuda_engine) return error(StatusCode::kInternal, "profile: the engine has no CUDA part");
  QUENCH_ASSIGN(auto stepwise, cuda::CudaContext::create(cuda_engine, {.stream = nullptr, .cuda_graph = false}));
  std::unique_ptr<cuda::CudaContext> graphed;
  if (o.cuda_graph) {
    QUENCH_ASSIGN(graphed, cuda::CudaContext::create(cuda_engine, {.stream = nullptr, .cuda_graph = true}));
  }
  cuda::CudaExecutor* ex = stepwise->executor(batch);
  if (!ex) return error(StatusCode::kInternal, "profile: no CUDA executor for batch ", batch);
  RawProfile raw;
  QUENCH_TRY(describe_layers(ex->batch(), *ex, raw));
  const size_t layers = raw.layers.size(), iters = static_cast<size_t>(o.iterations);
  raw.times.resize(layers * iters);
  raw.model_seconds.resize(iters);
  QUENCH_ASSIGN(cuda::EventTimer ev, cuda::EventTimer::create(layers + 1));
  QUENCH_ASSIGN(cuda::EventTimer whole, cuda::EventTimer::create(2));

  // The plain run: the whole device part between two events, on the graphed context (one
  // graph launch) or the step-by-step one.
  cuda::CudaContext& plain = graphed ? *graphed : *stepwise;
  auto plain_run = [&](double* seconds) -> Status {
    QUENCH_TRY(plain.stage_inputs(feeds, batch));
    QUENCH_TRY(whole.record(0, plain.stream()));
    QUENCH_TRY(plain.enqueue(batch));
    QUENCH_TRY(whole.record(1, plain.stream()));
    QUENCH_ASSIGN(*seconds, whole.seconds_between(0, 1));
    return {};
  };
  auto profiled_run = [&](StepTime* times) -> Status {
    QUENCH_TRY(ex->stage_inputs(feeds));
    return timed_run(*ex, stepwise->stream(), ev, times);
  };
  double ignored = 0;
  for (int64_t i = 0; i < o.warmup; ++i) {
    QUENCH_TRY(plain_run(&ignored).with_context("profile: warmup run"));
    QUENCH_TRY(profiled_run(raw.times.data()).with_context("profile: warmup run"));
  }
  for (size_t i = 0; i < iters; ++i) {
    QUENCH_TRY(plain_run(&raw.model_seconds[i]).with_context("profile: run " + std::to_string(i)));
    QUENCH_TRY(profiled_run(raw.times.data() + i * layers).with_context("profile: profiled run " + std::to_string(i)));
  }
  return raw;
}

}  // namespace quench::profiler
