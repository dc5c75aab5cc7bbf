#include "engine/cpu_executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace quench {

Result<std::unique_ptr<CpuExecutor>> CpuExecutor::create(std::shared_ptr<const ir::Graph> g, const PlanOptions& opt) {
  QUENCH_ASSIGN(auto plan, make_execution_plan(std::move(g), opt));
  return create(std::make_shared<const ExecutionPlan>(std::move(plan)));
}

Result<std::unique_ptr<CpuExecutor>> CpuExecutor::create(std::shared_ptr<const ExecutionPlan> plan, std::byte* arena,
                                                         int64_t arena_capacity) {
  auto ex = std::unique_ptr<CpuExecutor>(new CpuExecutor());
  ex->plan_ = std::move(plan);
  const ExecutionPlan& p = *ex->plan_;
  if (arena) {
    if (arena_capacity < p.memory.arena_bytes || reinterpret_cast<uintptr_t>(arena) % kArenaAlignment != 0)
      return error(StatusCode::kInvalidArgument, "the arena given holds ", arena_capacity, " bytes at alignment ",
                   kArenaAlignment, "; the plan needs ", p.memory.arena_bytes);
    ex->arena_ = arena;
  } else {
    const size_t arena_bytes = static_cast<size_t>(std::max<int64_t>(p.memory.arena_bytes, kArenaAlignment));
    ex->owned_arena_.reset(static_cast<std::byte*>(std::aligned_alloc(kArenaAlignment, arena_bytes)));
    if (!ex->owned_arena_) return error(StatusCode::kOutOfMemory, "cannot allocate a host arena of ", arena_bytes, " bytes");
    ex->arena_ = ex->owned_arena_.get();
    // Poison: a read of bytes no step wrote shows up as NaN (0xFF..) rather than a plausible 0.
    std::memset(ex->arena_, 0xFF, arena_bytes);
  }

  std::vector<void*> data(p.values.size(), nullptr);
  ex->constants_.reserve(p.values.size());
  for (size_t v = 0; v < p.values.size(); ++v) {
    const PlannedValue& pv = p.values[v];
    if (pv.constant) {
      if (!pv.constant->aligned()) ex->constants_.push_back(pv.constant->clone());
      const Tensor& c = pv.constant->aligned() ? *pv.constant : ex->constants_.back();
      data[v] = const_cast<void*>(c.data());
      ex->views_[pv.name] = c;
    } else {
      data[v] = ex->arena_ + pv.offset;
      ex->views_[pv.name] = Tensor::view(pv.dtype, pv.shape, data[v], nullptr);
    }
  }
  auto view_of = [&](int v) {
    ops::TensorView tv;
    if (v < 0) return tv;
    tv.dtype = p.values[v].dtype;
    tv.shape = p.values[v].shape;
    tv.data = data[v];
    return tv;
  };
  for (const PlannedStep& ps : p.steps) {
    if (ps.elided) continue;
    Step s{&ps, {}, {}, ps.workspace_offset >= 0 ? ex->arena_ + ps.workspace_offset : nullptr};
    for (int v : ps.inputs) s.inputs.push_back(view_of(v));
    for (int v : ps.outputs) s.outputs.push_back(view_of(v));
    ex->steps_.push_back(std::move(s));
  }
  return ex;
}

namespace {

Status run_one(const ir::Node& n, std::span<const ops::TensorView> in, std::span<const ops::TensorView> out, void* ws) {
  return n.schema->run_cpu(n, in, out, ws);
}

}  // namespace

template <class RunStep>
Status CpuExecutor::run_with(const TensorMap& inputs, TensorMap& outputs, RunStep&& run_step) {
  const ExecutionPlan& p = *plan_;
  for (int v : p.inputs) {
    const PlannedValue& pv = p.values[v];
    auto it = inputs.find(pv.name);
    if (it == inputs.end()) return error(StatusCode::kInvalidArgument, "input '", pv.name, "' was not given");
    const Tensor& t = it->second;
    if (t.dtype() != pv.dtype || t.shape() != pv.shape)
      return error(StatusCode::kInvalidArgument, "input '", pv.name, "' is ", dtype_name(t.dtype()), shape_str(t.shape()),
                   " but the engine expects ", dtype_name(pv.dtype), shape_str(pv.shape));
    if (t.bytes()) std::memcpy(arena_ + pv.offset, t.data(), t.bytes());
  }
  // Every input was found above, so a larger map holds a name that is not an input; only
  // then is it worth searching for it.
  if (inputs.size() != p.inputs.size())
    for (const auto& [name, t] : inputs) {
      const int v = p.find(name);
      if (v < 0 || !p.values[v].graph_input)
        return error(StatusCode::kInvalidArgument, "'", name, "' is not an input of this model");
    }
  for (size_t i = 0; i < steps_.size(); ++i) QUENCH_TRY(run_step(steps_[i], i));
  for (int v : p.outputs) {
    const PlannedValue& pv = p.values[v];
    const Tensor& src = views_.at(pv.name);
    Tensor& out = outputs[pv.name];
    if (out.dtype() != pv.dtype || out.shape() != pv.shape || out.is_view()) out = Tensor::zeros(pv.dtype, pv.shape);
    if (src.bytes()) std::memcpy(out.mutable_data(), src.data(), src.bytes());
  }
  return {};
}

Status CpuExecutor::run(const TensorMap& inputs, TensorMap& outputs) {
  return run_with(inputs, outputs, [](const Step& s, size_t) {
    return run_one(*s.planned->node, s.inputs, s.outputs, s.workspace);
  });
}

Status CpuExecutor::run_profiled(const TensorMap& inputs, TensorMap& outputs, std::span<StepTime> times) {
  if (times.size() != steps_.size())
    return error(StatusCode::kInvalidArgument, "run_profiled needs one time slot per executed step (", steps_.size(),
                 "), got ", times.size());
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  return run_with(inputs, outputs, [&](const Step& s, size_t i) {
    const Clock::time_point a = Clock::now();
    Status st = run_one(*s.planned->node, s.inputs, s.outputs, s.workspace);
    const Clock::time_point b = Clock::now();
    times[i] = {std::chrono::duration<double>(a - t0).count(), std::chrono::duration<double>(b - a).count()};
    return st;
  });
}

const Tensor* CpuExecutor::find_value(std::string_view name) const {
  auto it = views_.find(name);
  return it == views_.end() ? nullptr : &it->second;
}

}  // namespace quench
