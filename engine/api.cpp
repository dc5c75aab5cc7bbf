// The public API (include/quench/quench.h) over the IR, shape inference and the CPU executor.
#include "engine/api_impl.h"

#include <algorithm>
#include <cstring>

#include "engine/batch_graph.h"
#include "engine/optimizer/optimizer.h"
#include "engine/quantize/int8_build.h"
#include "loaders/onnx/onnx_reader.h"
#include "loaders/qplan/qplan.h"

namespace quench {

const char* backend_name(Backend b) { return b == Backend::kCpu ? "cpu" : "cuda"; }
const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFP32: return "fp32";
    case Precision::kFP16: return "fp16";
    case Precision::kINT8: return "int8";
  }
  return "?";
}

namespace detail {

Result<Model> ModelImpl::make(ir::Model m) {
  const std::string src = m.source;
  QUENCH_TRY(ir::validate(m.graph).with_context(src));
  QUENCH_TRY(ir::bind_schemas(m.graph).with_context(src));
  auto impl = std::make_shared<ModelImpl>();
  impl->model = std::move(m);
  const ir::Graph& g = impl->model.graph;
  for (const auto& name : g.inputs) {
    const ir::Value& v = *g.find(name);
    impl->inputs.push_back({name, v.dtype, v.has_shape ? v.shape : Shape{}});
  }
  for (const auto& name : g.outputs) {
    const ir::Value& v = *g.find(name);
    impl->outputs.push_back({name, v.dtype, v.has_shape ? v.shape : Shape{}});
  }
  Model model;
  model.impl_ = std::move(impl);
  return model;
}

Result<std::shared_ptr<const ExecutionPlan>> EngineImpl::plan_for_batch(int64_t batch) const {
  if (batch < 1 || batch > static_cast<int64_t>(plans.size()))
    return error(StatusCode::kOutOfRange, "batch ", batch, " is outside 1..", plans.size(), " (the engine's max_batch)");
  if (!plans[batch - 1])
    return error(StatusCode::kInvalidArgument, "the model fixes its batch at ", plans.size(), "; batch ", batch,
                 " cannot run (export it with a dynamic batch dim)");
  return plans[batch - 1];
}

Status EngineImpl::finish() {
  if (plans.empty() || static_cast<int64_t>(plans.size()) != options.max_batch || !plans.back())
    return error(StatusCode::kInternal, "engine has ", plans.size(), " plans for max_batch ", options.max_batch);
  const ExecutionPlan& top = *plans.back();
  const ir::Graph& g = *top.graph;
  inputs.clear();
  outputs.clear();
  for (const auto& name : g.inputs) inputs.push_back({name, g.find(name)->dtype, g.find(name)->shape});
  for (const auto& name : g.outputs) outputs.push_back({name, g.find(name)->dtype, g.find(name)->shape});
  memory = {top.memory.arena_bytes, top.memory.lower_bound_bytes, top.memory.naive_bytes, top.weights_bytes};
  for (const auto& p : plans)
    if (p) memory.arena_bytes = std::max(memory.arena_bytes, p->memory.arena_bytes);
  return {};
}

Result<Engine> EngineImpl::make(const Model& m, const BuildOptions& opt) {
  if (opt.max_batch < 1) return error(StatusCode::kInvalidArgument, "max_batch must be at least 1, got ", opt.max_batch);
  if (opt.cuda_streams < 1 || opt.cuda_streams > kMaxCudaStreams)
    return error(StatusCode::kInvalidArgument, "cuda_streams must be in 1..", kMaxCudaStreams, ", got ", opt.cuda_streams);
  // INT8 on the GPU: the CPU backend's INT8 build (calibration, sensitivity, quantization pass)
  // below, then the quantized plans go to the CUDA backend, float layers in FP16 (ops/quant_gpu.cpp).
  if (opt.backend == Backend::kCuda && opt.precision == Precision::kFP32)
    return error(StatusCode::kUnsupported, "the cuda backend runs fp16 (precision fp16, its default) and int8, not ",
                 precision_name(opt.precision), " yet");
  if (opt.backend == Backend::kCpu && opt.precision == Precision::kFP16)
    return error(StatusCode::kUnsupported, "the cpu backend runs fp32 and int8 (the INT8 reference), not fp16");
  auto impl = std::make_shared<EngineImpl>();
  impl->options = opt;
  impl->source = m.source();
  impl->keep_alive = m.impl_;
  // The optimizer runs once, so that weights it creates are shared by every batch's graph.
  const ir::Graph* source_graph = &m.impl().model.graph;
  ir::Graph optimized;
  if (opt.optimize) {
    optimized = *source_graph;
    OptimizeOptions oo = OptimizeOptions::from(opt);
    oo.fuse_blocks = opt.precision != Precision::kINT8;  // blocks have no INT8 form: quantize their convs
    QUENCH_TRY(optimize_graph(optimized, oo, nullptr).with_context(impl->source));
    source_graph = &optimized;
  }
  if (opt.precision == Precision::kINT8) {
    QUENCH_ASSIGN(auto q, quant_pass::build_int8_graph(*source_graph, opt, impl->source));
    optimized = std::move(q.graph);
    source_graph = &optimized;
    impl->calibration = std::move(q.table);
    impl->int8 = std::move(q.report);
  }
  // Every batch is planned now, so that no run does lazy work and a plan file holds them all;
  // a model with a fixed batch has a plan at max_batch only.
  const bool open = batch_is_open(*source_graph);
  for (int64_t b = 1; b <= opt.max_batch; ++b) {
    if (!open && b < opt.max_batch) {
      impl->plans.push_back(nullptr);
      continue;
    }
    auto specialized = opt.optimize ? specialize_optimized(*source_graph, opt, b, impl->source, nullptr)
                                    : specialize_for_batch(*source_graph, opt, b, impl->source);
    QUENCH_ASSIGN(auto g, std::move(specialized));
    QUENCH_ASSIGN(auto plan, make_execution_plan(std::move(g)));
    impl->plans.push_back(std::make_shared<const ExecutionPlan>(std::move(plan)));
  }
  QUENCH_TRY(impl->finish());
  if (opt.backend == Backend::kCuda) {  // the same plans, prepared and uploaded for the GPU
    QUENCH_ASSIGN(impl->cuda, cuda::build_cuda_engine(impl->plans, impl->source, opt.cuda_streams));
    impl->memory = cuda::memory_report(*impl->cuda);
  }
  return wrap(std::move(impl));
}

Engine EngineImpl::wrap(std::shared_ptr<const EngineImpl> impl) {
  Engine e;
  e.impl_ = std::move(impl);
  return e;
}

Result<Context> EngineImpl::make_context(std::shared_ptr<const EngineImpl> self, const ContextOptions& options) {
  auto c = std::make_unique<ContextImpl>();
  c->engine = std::move(self);
  if (c->engine->cuda) {
    cuda::CudaContextOptions co;
    co.stream = static_cast<cudaStream_t>(options.stream);
    co.cuda_graph = options.cuda_graph;
    co.device_timing = options.device_timing;
    co.pipeline = options.pipeline;
    QUENCH_ASSIGN(c->cuda, cuda::CudaContext::create(c->engine->cuda, co));
    return Context(std::move(c));
  }
  // ContextOptions::cuda_graph means nothing here; a stream would be silently unused.
  if (options.stream)
    return error(StatusCode::kInvalidArgument, "ContextOptions::stream is a CUDA stream, but this engine runs on the ",
                 backend_name(c->engine->options.backend), " backend (build it with Backend::kCuda, or leave the stream null)");
  c->slots.resize(options.pipeline ? 2 : 1);
  const size_t arena_bytes = static_cast<size_t>(std::max<int64_t>(c->engine->memory.arena_bytes, kArenaAlignment));
  c->arena.reset(static_cast<std::byte*>(std::aligned_alloc(kArenaAlignment, arena_bytes)));
  if (!c->arena) return error(StatusCode::kOutOfMemory, "cannot allocate a context arena of ", arena_bytes, " bytes");
  // Poison: a read of bytes no step wrote shows up as NaN (0xFF..) rather than a plausible 0.
  std::memset(c->arena.get(), 0xFF, arena_bytes);
  for (const auto& plan : c->engine->plans) {
    std::unique_ptr<CpuExecutor> ex;
    if (plan) {
      QUENCH_ASSIGN(ex, CpuExecutor::create(plan, c->arena.get(), static_cast<int64_t>(arena_bytes)));
    }
    c->executors.push_back(std::move(ex));
  }
  return Context(std::move(c));
}

}  // namespace detail

const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::string& Model::source() const { return impl_->model.source; }

Result<Model> load_onnx(const std::string& path) {
  QUENCH_ASSIGN(auto m, loaders::read_onnx_file(path));
  return detail::ModelImpl::make(std::move(m));
}

Result<Model> load_onnx_from_bytes(const void* data, size_t size, const std::string& name) {
  auto copy = std::make_shared<std::vector<uint8_t>>(static_cast<const uint8_t*>(data),
                                                     static_cast<const uint8_t*>(data) + size);
  const uint8_t* p = copy->data();
  QUENCH_ASSIGN(auto m, loaders::read_onnx_bytes(std::shared_ptr<const void>(copy, p), p, size, name, ""));
  return detail::ModelImpl::make(std::move(m));
}

const std::vector<TensorInfo>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Engine::outputs() const { return impl_->outputs; }
const BuildOptions& Engine::options() const { return impl_->options; }
const MemoryReport& Engine::memory() const { return impl_->memory; }
Result<Context> Engine::create_context() const { return detail::EngineImpl::make_context(impl_, {}); }
Result<Context> Engine::create_context(const ContextOptions& options) const {
  return detail::EngineImpl::make_context(impl_, options);
}

Status Engine::save(const std::string& path) const {
  const auto& e = *impl_;
  if (e.cuda)
    return error(StatusCode::kUnsupported, "a cuda engine cannot be saved to a plan file yet (", path,
                 "); build it from the model");
  return loaders::write_qplan(path, {e.options, e.source, e.plans, nullptr, e.calibration});
}

Status Engine::save_calibration(const std::string& path) const {
  if (impl_->calibration.tensors.empty())
    return error(StatusCode::kInvalidArgument, "the engine has no calibration table (it is not an INT8 engine)");
  return calib::save_calibration_table(path, impl_->calibration);
}

const Int8Report& Engine::int8_report() const { return impl_->int8; }

Result<Engine> Engine::load(const std::string& path) {
  QUENCH_ASSIGN(auto bundle, loaders::read_qplan(path));
  auto impl = std::make_shared<detail::EngineImpl>();
  impl->options = bundle.options;
  impl->source = bundle.source;
  impl->plans = std::move(bundle.plans);
  impl->keep_alive = std::move(bundle.keep_alive);
  impl->calibration = std::move(bundle.calibration);
  QUENCH_TRY(impl->finish().with_context(path));
  return detail::EngineImpl::wrap(std::move(impl));
}

Result<Engine> build(const Model& model, const BuildOptions& options) { return detail::EngineImpl::make(model, options); }

Context::Context(std::unique_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;
Context::~Context() = default;

bool Context::uses_cuda_graph() const { return impl_ && impl_->cuda && impl_->cuda->uses_cuda_graph(); }
double Context::last_device_seconds() const {
  return impl_ && impl_->cuda ? impl_->cuda->last_device_seconds() : -1.0;
}

namespace {

// The batch of a run: the leading dim of the first input; a model without inputs (all constant)
// runs at its built batch. Out of range: the max batch, whose executor reports the mismatch.
Result<int64_t> batch_of(const detail::EngineImpl& eng, const TensorMap& inputs) {
  int64_t batch = eng.options.max_batch;
  if (!eng.inputs.empty()) {
    const auto& first = eng.inputs.front();
    auto it = inputs.find(first.name);
    if (it == inputs.end()) return error(StatusCode::kInvalidArgument, "input '", first.name, "' was not given");
    if (!it->second.shape().empty() && !first.shape.empty()) batch = it->second.shape()[0];
    if (batch < 1 || batch > eng.options.max_batch) batch = eng.options.max_batch;
  }
  if (!eng.plans[batch - 1]) return eng.plan_for_batch(batch).status();  // a fixed-batch model: says which batch it has
  return batch;
}

Status no_run_pending(int pending) {
  if (pending == 0) return {};
  return error(StatusCode::kFailedPrecondition, pending, " submitted run(s) not collected: collect them before run()");
}

}  // namespace

Status Context::run(const TensorMap& inputs, TensorMap& outputs) {
  QUENCH_TRY(no_run_pending(pending()));
  QUENCH_ASSIGN(const int64_t batch, batch_of(*impl_->engine, inputs));
  if (impl_->cuda) return impl_->cuda->run(inputs, outputs, batch);
  return impl_->executors[batch - 1]->run(inputs, outputs);
}

int Context::pipeline_depth() const {
  return impl_->cuda ? impl_->cuda->pipeline_depth() : static_cast<int>(impl_->slots.size());
}

int Context::pending() const {
  return impl_->cuda ? impl_->cuda->pending() : static_cast<int>(impl_->submitted - impl_->collected);
}

Status Context::submit(const TensorMap& inputs) {
  if (pending() >= pipeline_depth())
    return error(StatusCode::kFailedPrecondition, pending(), " submitted run(s) not collected, the most this context ",
                 "holds (ContextOptions::pipeline allows 2): collect one first");
  QUENCH_ASSIGN(const int64_t batch, batch_of(*impl_->engine, inputs));
  if (impl_->cuda) return impl_->cuda->submit(inputs, batch);
  // The CPU backend runs at once; collect() hands the outputs over.
  auto& c = *impl_;
  QUENCH_TRY(c.executors[batch - 1]->run(inputs, c.slots[static_cast<size_t>(c.submitted) % c.slots.size()]));
  ++c.submitted;
  return {};
}

Status Context::collect(TensorMap& outputs) {
  if (pending() == 0) return error(StatusCode::kFailedPrecondition, "no submitted run to collect");
  if (impl_->cuda) return impl_->cuda->collect(outputs);
  auto& c = *impl_;
  const TensorMap& done = c.slots[static_cast<size_t>(c.collected) % c.slots.size()];
  ++c.collected;
  for (const auto& [name, t] : done) {
    Tensor& out = outputs[name];
    // As run() does: a tensor already there with the right dtype and shape is written in place;
    // otherwise the caller gets its own copy (the slot's tensors are reused by later runs).
    if (out.dtype() == t.dtype() && out.shape() == t.shape() && !out.is_view()) {
      if (t.bytes()) std::memcpy(out.mutable_data(), t.data(), t.bytes());
    } else {
      out = t.clone();
    }
  }
  return {};
}

}  // namespace quench
