// The public API (include/quench/quench.h) over the IR, shape inference and the CPU executor.
#include "engine/api_impl.h"
#include "loaders/onnx/onnx_reader.h"

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

Result<std::shared_ptr<const ir::Graph>> EngineImpl::graph_for_batch(int64_t batch) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = graphs_.find(batch); it != graphs_.end()) return it->second;
  auto g = std::make_shared<ir::Graph>(model->model.graph);
  InferOptions io;
  io.batch = batch;
  for (const auto& [name, shape] : options.input_shapes) {
    Shape s = shape;
    if (!s.empty()) s[0] = batch;
    io.input_shapes[name] = s;
  }
  // Inputs declared with a static batch dim other than 1 keep it; others take `batch`.
  for (const auto& name : g->inputs) {
    ir::Value& v = *g->find(name);
    if (!io.input_shapes.count(name) && v.has_shape && !v.shape.empty() && batch != options.max_batch &&
        v.shape[0] == options.max_batch) {
      Shape s = v.shape;
      s[0] = batch;
      io.input_shapes[name] = s;
      v.shape[0] = -1;
    }
  }
  QUENCH_TRY(infer_shapes(*g, io).with_context(model->model.source));
  remove_folded_nodes(*g);
  graphs_[batch] = g;
  return std::shared_ptr<const ir::Graph>(g);
}

Result<std::shared_ptr<const ExecutionPlan>> EngineImpl::plan_for_batch(int64_t batch) const {
  QUENCH_ASSIGN(auto g, graph_for_batch(batch));
  std::lock_guard<std::mutex> lk(plans_mu_);
  if (auto it = plans_.find(batch); it != plans_.end()) return it->second;
  QUENCH_ASSIGN(auto plan, make_execution_plan(std::move(g)));
  auto shared = std::make_shared<const ExecutionPlan>(std::move(plan));
  plans_[batch] = shared;
  return shared;
}

Result<Engine> EngineImpl::make(const Model& m, const BuildOptions& opt) {
  if (opt.max_batch < 1) return error(StatusCode::kInvalidArgument, "max_batch must be at least 1, got ", opt.max_batch);
  if (opt.backend != Backend::kCpu)
    return error(StatusCode::kUnsupported, "backend ", backend_name(opt.backend), " is not built yet; use cpu");
  if (opt.precision != Precision::kFP32)
    return error(StatusCode::kUnsupported, "the cpu backend runs fp32 only, not ", precision_name(opt.precision));
  auto impl = std::make_shared<EngineImpl>();
  impl->model = std::shared_ptr<const ModelImpl>(m.impl_);
  impl->options = opt;
  QUENCH_ASSIGN(auto g, impl->graph_for_batch(opt.max_batch));
  for (const auto& name : g->inputs) impl->inputs.push_back({name, g->find(name)->dtype, g->find(name)->shape});
  for (const auto& name : g->outputs) impl->outputs.push_back({name, g->find(name)->dtype, g->find(name)->shape});
  QUENCH_ASSIGN(auto plan, impl->plan_for_batch(opt.max_batch));
  impl->memory = {plan->memory.arena_bytes, plan->memory.lower_bound_bytes, plan->memory.naive_bytes, plan->weights_bytes};
  Engine e;
  e.impl_ = std::move(impl);
  return e;
}

Result<Context> EngineImpl::make_context(std::shared_ptr<const EngineImpl> self) {
  auto c = std::make_unique<ContextImpl>();
  c->engine = std::move(self);
  QUENCH_ASSIGN(auto plan, c->engine->plan_for_batch(c->engine->options.max_batch));
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(plan));
  c->executors[c->engine->options.max_batch] = std::move(ex);
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
Result<Context> Engine::create_context() const { return detail::EngineImpl::make_context(impl_); }

Result<Engine> build(const Model& model, const BuildOptions& options) { return detail::EngineImpl::make(model, options); }

Context::Context(std::unique_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;
Context::~Context() = default;

Status Context::run(const TensorMap& inputs, TensorMap& outputs) {
  const auto& eng = *impl_->engine;
  // The batch is the leading dim of the first input; a model without inputs (all constant)
  // runs at its built batch.
  int64_t batch = eng.options.max_batch;
  if (!eng.inputs.empty()) {
    const auto& first = eng.inputs.front();
    auto it = inputs.find(first.name);
    if (it == inputs.end()) return error(StatusCode::kInvalidArgument, "input '", first.name, "' was not given");
    if (!it->second.shape().empty() && !first.shape.empty()) batch = it->second.shape()[0];
    if (batch < 1 || batch > eng.options.max_batch)
      batch = eng.options.max_batch;  // let the executor report the shape mismatch
  }
  auto& ex = impl_->executors[batch];
  if (!ex) {
    QUENCH_ASSIGN(auto plan, eng.plan_for_batch(batch));
    QUENCH_ASSIGN(ex, CpuExecutor::create(plan));
  }
  return ex->run(inputs, outputs);
}

}  // namespace quench
