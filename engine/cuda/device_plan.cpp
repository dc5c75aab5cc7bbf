#include "engine/cuda/device_plan.h"

#include <algorithm>

namespace quench::cuda {
namespace {

int64_t aligned(int64_t b) { return (b + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Float32 graph operands cross the boundary through float32 staging (converted to and from the
// device's float16); other types go straight in.
bool staged(const PlannedValue& v) { return v.dtype == DType::kF32; }

}  // namespace

Result<DevicePlan> plan_device_memory(const ExecutionPlan& p, const LayoutPlan& l, std::span<const size_t> op_workspace,
                                      bool reuse) {
  const int nsteps = static_cast<int>(p.steps.size());
  const size_t nv = p.values.size();
  if (l.values.size() != nv || l.steps.size() != p.steps.size() || op_workspace.size() != p.steps.size())
    return error(StatusCode::kInternal, "device plan: the layouts or workspaces do not match the plan");
  // Lifetimes in the planner's numbering (engine/execution_plan.h): inputs from 0, step i's
  // outputs from i + 1, graph outputs to nsteps + 1.
  std::vector<int> producer(nv, -1), first(nv, 0), last(nv, 0);
  for (int i = 0; i < nsteps; ++i) {
    for (int v : p.steps[i].inputs)
      if (v >= 0) last[v] = std::max(last[v], i + 1);
    for (int v : p.steps[i].outputs)
      if (v >= 0) {
        producer[v] = i;
        first[v] = last[v] = i + 1;
      }
  }
  for (int v : p.outputs) last[v] = nsteps + 1;

  std::vector<PlanTensor> ts;
  std::vector<int> tensor_of(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (p.values[v].constant) continue;
    tensor_of[v] = static_cast<int>(ts.size());
    ts.push_back({p.values[v].name, l.values[v].bytes, reuse ? first[v] : 0, reuse ? last[v] : nsteps + 1});
  }
  DevicePlan d;
  d.in_place.assign(p.steps.size(), false);
  // Output 0 over input 0, as the CPU plan does, when the op allows it and input 0 dies here.
  for (int i = 0; i < nsteps && reuse; ++i) {
    const PlannedStep& s = p.steps[i];
    if (!s.node->schema->in_place || s.inputs.empty() || s.outputs.empty()) continue;
    const int in = s.inputs[0], out = s.outputs[0];
    if (in < 0 || out < 0) continue;
    const PlannedValue &a = p.values[in], &b = p.values[out];
    if (a.constant || a.graph_input || a.graph_output || producer[in] < 0 || last[in] != i + 1) continue;
    // Same bytes in the same order: equal layouts, or shapes whose two layouts coincide (the
    // Flatten of a pooled [N, C, 1, 1] then costs nothing).
    if (l.values[in].bytes != l.values[out].bytes) continue;
    if (l.values[in].layout != l.values[out].layout && !(layouts_coincide(a.shape) && layouts_coincide(b.shape)))
      continue;
    ts[tensor_of[out]].reuse_of = tensor_of[in];
  }
  std::vector<int> scratch_tensor(p.steps.size(), -1);
  d.op_workspace_offsets.assign(p.steps.size(), -1);
  for (int i = 0; i < nsteps; ++i) {
    const int64_t conv = l.steps[i].scratch_bytes, ws = aligned(static_cast<int64_t>(op_workspace[i]));
    if (conv + ws == 0) continue;
    scratch_tensor[i] = static_cast<int>(ts.size());
    ts.push_back({p.steps[i].node->name + ":scratch", conv + ws, i + 1, i + 1});
  }
  std::vector<int> in_stage(p.inputs.size(), -1), out_stage(p.outputs.size(), -1);
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const PlannedValue& v = p.values[p.inputs[k]];
    if (!staged(v)) continue;
    in_stage[k] = static_cast<int>(ts.size());
    ts.push_back({v.name + ":staging", shape_numel(v.shape) * 4, 0, 0});
  }
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const PlannedValue& v = p.values[p.outputs[k]];
    if (!staged(v) || v.constant) continue;
    out_stage[k] = static_cast<int>(ts.size());
    ts.push_back({v.name + ":staging", shape_numel(v.shape) * 4, nsteps + 1, nsteps + 1});
  }

  QUENCH_ASSIGN(d.memory, plan_memory(ts));
  QUENCH_TRY(verify_plan(ts, d.memory));
  auto offset = [&](int t) { return t < 0 ? int64_t{-1} : d.memory.offsets[t]; };
  d.value_offsets.resize(nv);
  for (size_t v = 0; v < nv; ++v) d.value_offsets[v] = offset(tensor_of[v]);
  d.scratch_offsets.resize(p.steps.size());
  for (int i = 0; i < nsteps; ++i) {
    d.scratch_offsets[i] = offset(scratch_tensor[i]);
    if (scratch_tensor[i] >= 0 && op_workspace[i] > 0)
      d.op_workspace_offsets[i] = d.scratch_offsets[i] + l.steps[i].scratch_bytes;
    const PlannedStep& s = p.steps[i];
    d.in_place[i] = !s.inputs.empty() && !s.outputs.empty() && s.inputs[0] >= 0 && s.outputs[0] >= 0 &&
                    tensor_of[s.inputs[0]] >= 0 && tensor_of[s.outputs[0]] >= 0 &&
                    d.value_offsets[s.inputs[0]] == d.value_offsets[s.outputs[0]];
  }
  for (size_t k = 0; k < p.inputs.size(); ++k) d.input_staging.push_back(offset(in_stage[k]));
  for (size_t k = 0; k < p.outputs.size(); ++k) d.output_staging.push_back(offset(out_stage[k]));
  return d;
}

}  // namespace quench::cuda
