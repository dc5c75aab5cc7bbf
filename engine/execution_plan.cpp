#include "engine/execution_plan.h"

#include <algorithm>

namespace quench {
namespace {

ops::ValueDesc desc_of(const ExecutionPlan& p, int v) {
  ops::ValueDesc d;
  if (v < 0) {
    d.present = false;
    return d;
  }
  const PlannedValue& pv = p.values[v];
  d.dtype = pv.dtype;
  d.shape = pv.shape;
  d.constant = pv.constant;
  return d;
}

// A Concat can be elided when every input is an activation that no other Concat claimed
// and each input is one contiguous block of the output (all dims before the axis are 1).
bool concat_elidable(const ExecutionPlan& p, const PlannedStep& s, const std::vector<int>& producer,
                     const std::vector<bool>& claimed) {
  const ir::Node& n = *s.node;
  if (n.op_type != "Concat" || s.outputs.size() != 1 || s.outputs[0] < 0) return false;
  const PlannedValue& out = p.values[s.outputs[0]];
  auto axis_attr = n.attrs.find("axis");
  if (!axis_attr) return false;
  int64_t axis = axis_attr->i;
  const int64_t rank = static_cast<int64_t>(out.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  for (int64_t d = 0; d < axis; ++d)
    if (out.shape[d] != 1) return false;
  for (size_t k = 0; k < s.inputs.size(); ++k) {
    const int v = s.inputs[k];
    if (v < 0 || claimed[v] || producer[v] < 0) return false;
    const PlannedValue& in = p.values[v];
    if (in.constant || in.graph_input || in.dtype != out.dtype) return false;
    if (std::count(s.inputs.begin(), s.inputs.end(), v) > 1) return false;
  }
  return true;
}

// Each value's producing step (-1 for inputs and constants) and its live range in the
// planner's step numbering: inputs from 0, step i's outputs from i + 1, outputs to the end.
struct Lifetimes {
  std::vector<int> producer, first, last;
};

Lifetimes lifetimes_of(const ExecutionPlan& p) {
  const size_t nv = p.values.size();
  Lifetimes l{std::vector<int>(nv, -1), std::vector<int>(nv, 0), std::vector<int>(nv, 0)};
  const int nsteps = static_cast<int>(p.steps.size());
  for (int i = 0; i < nsteps; ++i) {
    for (int v : p.steps[i].inputs)
      if (v >= 0) l.last[v] = std::max(l.last[v], i + 1);
    for (int v : p.steps[i].outputs)
      if (v >= 0) {
        l.producer[v] = i;
        l.first[v] = l.last[v] = i + 1;
      }
  }
  for (int v : p.outputs) l.last[v] = nsteps + 1;
  return l;
}

}  // namespace

int ExecutionPlan::find(std::string_view name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == name) return static_cast<int>(i);
  return -1;
}

Result<ExecutionPlan> make_execution_plan(std::shared_ptr<const ir::Graph> gp, const PlanOptions& opt) {
  ExecutionPlan p;
  p.graph = gp;
  const ir::Graph& g = *gp;
  std::map<std::string_view, int, std::less<>> index;
  for (const auto& [name, v] : g.values) {
    if (!v.shape_is_static())
      return error(StatusCode::kInternal, "value '", name, "' has no static shape after shape inference");
    if (dtype_size(v.dtype) == 0)
      return error(StatusCode::kUnsupported, "value '", name, "' has element type ", dtype_name(v.dtype),
                   ", which quench cannot hold");
    PlannedValue pv;
    pv.name = name;
    pv.dtype = v.dtype;
    pv.shape = v.shape;
    pv.bytes = shape_numel(v.shape) * static_cast<int64_t>(dtype_size(v.dtype));
    if (v.is_constant()) {
      pv.constant = &v.constant;
      p.weights_bytes += pv.bytes;
    }
    index[name] = static_cast<int>(p.values.size());
    p.values.push_back(std::move(pv));
  }
  auto id = [&](const std::string& name) { return name.empty() ? -1 : index.at(name); };
  for (const auto& name : g.inputs) {
    p.inputs.push_back(id(name));
    p.values[p.inputs.back()].graph_input = true;
  }
  for (const auto& name : g.outputs) {
    p.outputs.push_back(id(name));
    p.values[p.outputs.back()].graph_output = true;
  }

  const int nsteps = static_cast<int>(g.nodes.size());
  for (int i = 0; i < nsteps; ++i) {
    const ir::Node& n = g.nodes[i];
    PlannedStep s;
    s.node = &n;
    for (const auto& in : n.inputs) s.inputs.push_back(id(in));
    for (const auto& out : n.outputs) s.outputs.push_back(id(out));
    for (int v : s.outputs)
      if (v >= 0 && p.values[v].constant)
        return error(StatusCode::kInternal, n.where(), " writes constant '", p.values[v].name, "'");
    if (n.schema->workspace_bytes) {
      std::vector<ops::ValueDesc> ins, outs;
      for (int v : s.inputs) ins.push_back(desc_of(p, v));
      for (int v : s.outputs) outs.push_back(desc_of(p, v));
      s.workspace_bytes = static_cast<int64_t>(n.schema->workspace_bytes(n, ins, outs));
    }
    p.steps.push_back(std::move(s));
  }
  const auto [producer, first, last] = lifetimes_of(p);

  // In place: output 0 over input 0 when the op allows it and input 0 dies here.
  for (int i = 0; i < nsteps && opt.in_place; ++i) {
    PlannedStep& s = p.steps[i];
    if (!s.node->schema->in_place || s.inputs.empty() || s.outputs.empty()) continue;
    const int in = s.inputs[0], out = s.outputs[0];
    if (in < 0 || out < 0) continue;
    const PlannedValue &a = p.values[in], &b = p.values[out];
    if (a.constant || a.graph_input || a.graph_output || a.dtype != b.dtype || a.bytes != b.bytes) continue;
    if (last[in] != i + 1 || producer[in] < 0) continue;
    s.in_place = true;
  }

  // Tensors to place: every arena value, then one workspace per step that needs one.
  std::vector<PlanTensor> ts;
  std::vector<int> tensor_of(p.values.size(), -1);
  for (size_t v = 0; v < p.values.size(); ++v) {
    if (p.values[v].constant) continue;
    PlanTensor t;
    t.name = p.values[v].name;
    t.bytes = p.values[v].bytes;
    t.first_step = opt.reuse_memory ? first[v] : 0;
    t.last_step = opt.reuse_memory ? last[v] : nsteps + 1;
    tensor_of[v] = static_cast<int>(ts.size());
    ts.push_back(std::move(t));
  }
  for (const PlannedStep& s : p.steps)
    if (s.in_place) ts[tensor_of[s.outputs[0]]].reuse_of = tensor_of[s.inputs[0]];

  std::vector<bool> claimed(p.values.size(), false);
  for (int i = 0; i < nsteps && opt.concat_in_place; ++i) {
    PlannedStep& s = p.steps[i];
    if (!concat_elidable(p, s, producer, claimed)) continue;
    int64_t off = 0;
    for (int v : s.inputs) {
      PlanTensor& t = ts[tensor_of[v]];
      t.slice_of = tensor_of[s.outputs[0]];
      t.slice_offset = off;
      t.reuse_of = -1;
      off += t.bytes;
      claimed[v] = true;
    }
    s.elided = true;
  }
  // A slice cannot also be an in-place output (its bytes belong to the concat).
  for (PlannedStep& s : p.steps)
    if (s.in_place && claimed[s.outputs[0]]) {
      s.in_place = false;
      ts[tensor_of[s.outputs[0]]].reuse_of = -1;
    }

  std::vector<int> ws_tensor(p.steps.size(), -1);
  for (int i = 0; i < nsteps; ++i) {
    if (p.steps[i].workspace_bytes <= 0 || p.steps[i].elided) continue;
    PlanTensor t;
    t.name = p.steps[i].node->name + ":workspace";
    t.bytes = p.steps[i].workspace_bytes;
    t.first_step = t.last_step = i + 1;
    ws_tensor[i] = static_cast<int>(ts.size());
    ts.push_back(std::move(t));
  }

  QUENCH_ASSIGN(p.memory, plan_memory(ts));
  QUENCH_TRY(verify_plan(ts, p.memory));
  // The in-place decisions the planner refused must not be executed as in place.
  for (PlannedStep& s : p.steps)
    if (s.in_place && p.memory.offsets[tensor_of[s.outputs[0]]] != p.memory.offsets[tensor_of[s.inputs[0]]])
      s.in_place = false;
  for (size_t v = 0; v < p.values.size(); ++v)
    if (tensor_of[v] >= 0) p.values[v].offset = p.memory.offsets[tensor_of[v]];
  for (int i = 0; i < nsteps; ++i)
    if (ws_tensor[i] >= 0) p.steps[i].workspace_offset = p.memory.offsets[ws_tensor[i]];
  return p;
}

}  // namespace quench

namespace quench {

Status check_execution_plan(const ExecutionPlan& p) {
  const ir::Graph& g = *p.graph;
  const int nv = static_cast<int>(p.values.size());
  const int64_t arena = p.memory.arena_bytes;
  if (p.steps.size() != g.nodes.size())
    return error(StatusCode::kInternal, "plan has ", p.steps.size(), " steps for ", g.nodes.size(), " nodes");
  for (int v : p.inputs)
    if (v < 0 || v >= nv) return error(StatusCode::kInternal, "plan input index ", v, " out of range");
  for (int v : p.outputs)
    if (v < 0 || v >= nv) return error(StatusCode::kInternal, "plan output index ", v, " out of range");
  for (const PlannedValue& pv : p.values) {
    const ir::Value* gv = g.find(pv.name);
    if (!gv || gv->dtype != pv.dtype || gv->shape != pv.shape || !gv->shape_is_static())
      return error(StatusCode::kInternal, "value '", pv.name, "' differs between the plan and its graph");
    if (dtype_size(pv.dtype) == 0 || pv.bytes != shape_numel(pv.shape) * static_cast<int64_t>(dtype_size(pv.dtype)))
      return error(StatusCode::kInternal, "value '", pv.name, "' has ", pv.bytes, " bytes for ", dtype_name(pv.dtype),
                   shape_str(pv.shape));
    if (pv.constant) {
      if (pv.constant != &gv->constant || pv.constant->dtype() != pv.dtype || pv.constant->shape() != pv.shape)
        return error(StatusCode::kInternal, "constant '", pv.name, "' does not match its value");
    } else if (pv.bytes > 0 && (pv.offset < 0 || pv.offset > arena - pv.bytes)) {
      return error(StatusCode::kInternal, "value '", pv.name, "' at ", pv.offset, "+", pv.bytes,
                   " leaves the arena of ", arena, " bytes");
    }
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PlannedStep& s = p.steps[i];
    const ir::Node& n = g.nodes[i];
    if (s.node != &n || !n.schema) return error(StatusCode::kInternal, "step ", i, " is not node '", n.name, "'");
    auto same = [&](const std::vector<int>& idx, const std::vector<std::string>& names) {
      if (idx.size() != names.size()) return false;
      for (size_t k = 0; k < idx.size(); ++k) {
        if (idx[k] < -1 || idx[k] >= nv) return false;
        if ((idx[k] < 0) != names[k].empty() || (idx[k] >= 0 && p.values[idx[k]].name != names[k])) return false;
      }
      return true;
    };
    if (!same(s.inputs, n.inputs) || !same(s.outputs, n.outputs))
      return error(StatusCode::kInternal, n.where(), ": the plan's operands are not the node's");
    // The op's own shape rule must give the shapes the plan holds, or its CPU run could
    // read or write past a buffer.
    std::vector<ops::ValueDesc> ins, outs(s.outputs.size()), want;
    for (int v : s.inputs) ins.push_back(desc_of(p, v));
    for (int v : s.outputs) want.push_back(desc_of(p, v));
    QUENCH_TRY(n.schema->infer(n, ins, outs));
    for (size_t k = 0; k < outs.size(); ++k)
      if (want[k].present && (outs[k].dtype != want[k].dtype || outs[k].shape != want[k].shape))
        return error(StatusCode::kInternal, n.where(), " output '", n.outputs[k], "' is ", dtype_name(want[k].dtype),
                     shape_str(want[k].shape), " in the plan but ", dtype_name(outs[k].dtype), shape_str(outs[k].shape),
                     " by its shape rule");
    const int64_t need = n.schema->workspace_bytes ? static_cast<int64_t>(n.schema->workspace_bytes(n, ins, want)) : 0;
    if (!s.elided && s.workspace_bytes < need)
      return error(StatusCode::kInternal, n.where(), " has ", s.workspace_bytes, " workspace bytes; it needs ", need);
    if (s.workspace_bytes > 0 && (s.workspace_offset < 0 || s.workspace_offset > arena - s.workspace_bytes))
      return error(StatusCode::kInternal, n.where(), "'s workspace leaves the arena");
    if (s.elided && n.op_type != "Concat") return error(StatusCode::kInternal, n.where(), " is marked elided");
    if (s.in_place && (s.inputs.empty() || s.outputs.empty() || s.inputs[0] < 0 || s.outputs[0] < 0 ||
                       !n.schema->in_place || p.values[s.inputs[0]].bytes != p.values[s.outputs[0]].bytes))
      return error(StatusCode::kInternal, n.where(), " is marked in place but cannot be");
  }

  // Rebuild the planner's tensors from the decisions recorded in the plan and check them
  // independently of the planner: alignment, bounds, no live overlap.
  const Lifetimes l = lifetimes_of(p);
  std::vector<PlanTensor> ts;
  MemoryPlan mp = p.memory;
  mp.offsets.clear();
  std::vector<int> tensor_of(p.values.size(), -1);
  for (int v = 0; v < nv; ++v) {
    if (p.values[v].constant) continue;
    tensor_of[v] = static_cast<int>(ts.size());
    ts.push_back({p.values[v].name, p.values[v].bytes, l.first[v], l.last[v]});
    mp.offsets.push_back(p.values[v].offset);
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PlannedStep& s = p.steps[i];
    if (s.in_place) ts[tensor_of[s.outputs[0]]].reuse_of = tensor_of[s.inputs[0]];
    if (s.elided)
      for (int v : s.inputs) {
        if (v < 0 || tensor_of[v] < 0 || s.outputs.size() != 1 || s.outputs[0] < 0)
          return error(StatusCode::kInternal, s.node->where(), " is elided over a constant or missing input");
        PlanTensor& t = ts[tensor_of[v]];
        t.slice_of = tensor_of[s.outputs[0]];
        t.slice_offset = p.values[v].offset - p.values[s.outputs[0]].offset;
      }
    if (s.workspace_bytes > 0 && !s.elided) {
      ts.push_back({s.node->name + ":workspace", s.workspace_bytes, static_cast<int>(i) + 1, static_cast<int>(i) + 1});
      mp.offsets.push_back(s.workspace_offset);
    }
  }
  return verify_plan(ts, mp);
}

}  // namespace quench
