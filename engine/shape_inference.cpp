#include "engine/shape_inference.h"

#include <set>

namespace quench {
namespace {

Status fix_input_shape(ir::Value& v, const InferOptions& opt) {
  if (auto it = opt.input_shapes.find(v.name); it != opt.input_shapes.end()) {
    if (v.has_shape && v.shape.size() != it->second.size())
      return error(StatusCode::kShapeError, "input '", v.name, "' has rank ", v.shape.size(),
                   " in the model but was given shape ", shape_str(it->second));
    for (size_t i = 0; v.has_shape && i < v.shape.size(); ++i)
      if (v.shape[i] >= 0 && v.shape[i] != it->second[i])
        return error(StatusCode::kShapeError, "input '", v.name, "' is ", shape_str(v.shape),
                     " in the model but was given shape ", shape_str(it->second));
    v.shape = it->second;
    v.has_shape = true;
  }
  if (!v.has_shape)
    return error(StatusCode::kShapeError, "input '", v.name, "' has no shape in the model; give one");
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (v.shape[i] >= 0) continue;
    if (i == 0) {
      v.shape[i] = opt.batch;
    } else {
      std::string sym = i < v.dim_params.size() && !v.dim_params[i].empty() ? " ('" + v.dim_params[i] + "')" : "";
      return error(StatusCode::kShapeError, "input '", v.name, "' has unknown dim ", i, sym,
                   " in ", shape_str(v.shape), "; give its shape");
    }
  }
  if (v.dtype == DType::kUndefined)
    return error(StatusCode::kInvalidArgument, "input '", v.name, "' has no element type in the model");
  return {};
}

// Evaluates a node on the CPU reference at build time; its outputs become constants.
Status fold_node(ir::Graph& g, const ir::Node& n, std::vector<ops::ValueDesc>& outs) {
  std::vector<Tensor> aligned_inputs;  // keeps aligned copies alive
  std::vector<ops::TensorView> in_views, out_views;
  for (const auto& name : n.inputs) {
    ops::TensorView tv;
    if (!name.empty()) {
      const ir::Value& v = *g.find(name);
      tv.dtype = v.dtype;
      tv.shape = v.shape;
      if (v.is_constant()) {
        const Tensor& c = v.constant.aligned() ? v.constant : aligned_inputs.emplace_back(v.constant.clone());
        tv.data = const_cast<void*>(c.data());
      }
    }
    in_views.push_back(std::move(tv));
  }
  std::vector<Tensor> results;
  for (const auto& od : outs) {
    results.push_back(Tensor::zeros(od.dtype, od.shape));
    out_views.push_back({od.dtype, od.shape, results.back().mutable_data()});
  }
  std::vector<std::byte> workspace;
  if (n.schema->workspace_bytes) {
    std::vector<ops::ValueDesc> ins;
    for (const auto& name : n.inputs) {
      ops::ValueDesc d;
      if (name.empty()) d.present = false;
      else { const ir::Value& v = *g.find(name); d.dtype = v.dtype; d.shape = v.shape; d.constant = &v.constant; }
      ins.push_back(d);
    }
    workspace.resize(n.schema->workspace_bytes(n, ins, outs) + 64);
  }
  void* ws = workspace.empty() ? nullptr : workspace.data();
  if (ws) ws = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws) + 63) & ~uintptr_t{63});
  QUENCH_TRY(n.schema->run_cpu(n, in_views, out_views, ws).with_context("folding " + n.where()));
  for (size_t i = 0; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty()) g.find(n.outputs[i])->constant = results[i];
  return {};
}

}  // namespace

Status infer_shapes(ir::Graph& g, const InferOptions& opt) {
  for (const auto& name : g.inputs) QUENCH_TRY(fix_input_shape(*g.find(name), opt));
  for (auto& [name, v] : g.values) {
    if (!v.is_constant()) continue;
    v.dtype = v.constant.dtype();
    v.shape = v.constant.shape();
    v.has_shape = true;
  }
  std::vector<ops::ValueDesc> ins, outs;
  for (const ir::Node& n : g.nodes) {
    ins.clear();
    outs.assign(n.outputs.size(), ops::ValueDesc{});
    bool all_constant = true;
    for (const auto& name : n.inputs) {
      ops::ValueDesc d;
      if (name.empty()) {
        d.present = false;
      } else {
        const ir::Value& v = *g.find(name);
        if (!v.shape_is_static())
          return error(StatusCode::kInternal, n.where(), " reads '", name, "' before its shape is known");
        d.dtype = v.dtype;
        d.shape = v.shape;
        d.constant = v.is_constant() ? &v.constant : nullptr;
        all_constant = all_constant && v.is_constant();
      }
      ins.push_back(d);
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) outs[i].present = !n.outputs[i].empty();
    QUENCH_TRY(n.schema->infer(n, ins, outs));
    size_t out_bytes = 0;
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) continue;
      const ops::ValueDesc& d = outs[i];
      for (int64_t dim : d.shape)
        if (dim < 0) return error(StatusCode::kInternal, n.where(), " inferred a negative dim for '", n.outputs[i], "'");
      if (d.dtype == DType::kUndefined)
        return error(StatusCode::kInternal, n.where(), " inferred no dtype for '", n.outputs[i], "'");
      ir::Value& v = *g.find(n.outputs[i]);
      v.dtype = d.dtype;
      v.shape = d.shape;
      v.has_shape = true;
      out_bytes += static_cast<size_t>(shape_numel(d.shape)) * dtype_size(d.dtype);
    }
    // Shape needs only its input's shape, never its values.
    const bool foldable = (all_constant && !n.inputs.empty()) || n.op_type == "Shape" || n.op_type == "Constant";
    if (foldable && out_bytes <= opt.fold_limit_bytes) QUENCH_TRY(fold_node(g, n, outs));
  }
  return {};
}

void remove_folded_nodes(ir::Graph& g) {
  std::vector<ir::Node> kept;
  for (auto& n : g.nodes) {
    bool all_const = true;
    for (const auto& o : n.outputs)
      if (!o.empty() && !g.find(o)->is_constant()) all_const = false;
    if (!all_const) kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  std::set<std::string, std::less<>> used(g.inputs.begin(), g.inputs.end());
  used.insert(g.outputs.begin(), g.outputs.end());
  for (const auto& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  std::erase_if(g.values, [&](const auto& kv) { return !used.count(kv.first); });
}

}  // namespace quench
