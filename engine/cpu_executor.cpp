#include "engine/cpu_executor.h"

#include <algorithm>
#include <cstring>

namespace quench {

Result<std::unique_ptr<CpuExecutor>> CpuExecutor::create(std::shared_ptr<const ir::Graph> g) {
  auto ex = std::unique_ptr<CpuExecutor>(new CpuExecutor());
  ex->graph_ = std::move(g);
  const ir::Graph& graph = *ex->graph_;
  for (const auto& [name, v] : graph.values) {
    if (!v.shape_is_static()) return error(StatusCode::kInternal, "value '", name, "' has no static shape");
    if (dtype_size(v.dtype) == 0)
      return error(StatusCode::kUnsupported, "value '", name, "' has element type ", dtype_name(v.dtype),
                   ", which quench cannot hold");
    ex->buffers_[name] = v.is_constant() ? (v.constant.aligned() ? v.constant : v.constant.clone())
                                         : Tensor::zeros(v.dtype, v.shape);
  }
  auto view_of = [&](const std::string& name) {
    ops::TensorView tv;
    if (name.empty()) return tv;
    Tensor& t = ex->buffers_.at(name);
    tv.dtype = t.dtype();
    tv.shape = t.shape();
    tv.data = const_cast<void*>(t.data());
    return tv;
  };
  size_t ws_bytes = 0;
  std::vector<ops::ValueDesc> ins, outs;
  for (const ir::Node& n : graph.nodes) {
    Step s{&n, {}, {}};
    for (const auto& in : n.inputs) s.inputs.push_back(view_of(in));
    for (const auto& out : n.outputs) s.outputs.push_back(view_of(out));
    if (n.schema->workspace_bytes) {
      auto desc = [&](const std::string& name) {
        ops::ValueDesc d;
        if (name.empty()) { d.present = false; return d; }
        const ir::Value& v = *graph.find(name);
        d.dtype = v.dtype; d.shape = v.shape; d.constant = v.is_constant() ? &v.constant : nullptr;
        return d;
      };
      ins.clear(); outs.clear();
      for (const auto& in : n.inputs) ins.push_back(desc(in));
      for (const auto& out : n.outputs) outs.push_back(desc(out));
      ws_bytes = std::max(ws_bytes, n.schema->workspace_bytes(n, ins, outs));
    }
    ex->steps_.push_back(std::move(s));
  }
  ex->workspace_.resize(ws_bytes + 64);
  ex->workspace_aligned_ = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ex->workspace_.data()) + 63) & ~uintptr_t{63});
  return ex;
}

Status CpuExecutor::run(const TensorMap& inputs, TensorMap& outputs) {
  const ir::Graph& g = *graph_;
  for (const auto& name : g.inputs) {
    auto it = inputs.find(name);
    if (it == inputs.end()) return error(StatusCode::kInvalidArgument, "input '", name, "' was not given");
    Tensor& buf = buffers_.at(name);
    const Tensor& t = it->second;
    if (t.dtype() != buf.dtype() || t.shape() != buf.shape())
      return error(StatusCode::kInvalidArgument, "input '", name, "' is ", dtype_name(t.dtype()), shape_str(t.shape()),
                   " but the engine expects ", dtype_name(buf.dtype()), shape_str(buf.shape()));
    std::memcpy(buf.mutable_data(), t.data(), t.bytes());
  }
  for (const auto& [name, t] : inputs)
    if (!buffers_.count(name) || g.find(name)->is_constant() ||
        std::find(g.inputs.begin(), g.inputs.end(), name) == g.inputs.end())
      return error(StatusCode::kInvalidArgument, "'", name, "' is not an input of this model");
  for (const Step& s : steps_)
    QUENCH_TRY(s.node->schema->run_cpu(*s.node, s.inputs, s.outputs, workspace_aligned_));
  for (const auto& name : g.outputs) {
    const Tensor& buf = buffers_.at(name);
    Tensor& out = outputs[name];
    if (out.dtype() != buf.dtype() || out.shape() != buf.shape() || out.is_view())
      out = Tensor::zeros(buf.dtype(), buf.shape());
    std::memcpy(out.mutable_data(), buf.data(), buf.bytes());
  }
  return {};
}

const Tensor* CpuExecutor::find_value(std::string_view name) const {
  auto it = buffers_.find(name);
  return it == buffers_.end() ? nullptr : &it->second;
}

}  // namespace quench
