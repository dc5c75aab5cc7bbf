#include "engine/cuda/device_plan.h"

#include <algorithm>
#include <functional>

namespace quench::cuda {
namespace {

int64_t aligned(int64_t b) { return (b + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Float32 graph operands cross the boundary through float32 staging (converted to and from the
// device's float16); other types go straight in.
bool staged(const PlannedValue& v) { return v.dtype == DType::kF32; }

}  // namespace

std::vector<std::vector<int>> step_dependencies(const ExecutionPlan& p) {
  std::vector<int> producer(p.values.size(), -1);
  std::vector<std::vector<int>> deps(p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i) {
    for (int v : p.steps[i].inputs)
      if (v >= 0 && producer[v] >= 0) deps[i].push_back(producer[v]);
    for (int v : p.steps[i].outputs)
      if (v >= 0) producer[v] = static_cast<int>(i);
  }
  return deps;
}

Result<DevicePlan> plan_device_memory(const ExecutionPlan& p, const LayoutPlan& l, std::span<const size_t> op_workspace,
                                      bool reuse, const StreamSchedule* schedule) {
  const int nsteps = static_cast<int>(p.steps.size());
  const size_t nv = p.values.size();
  if (l.values.size() != nv || l.steps.size() != p.steps.size() || op_workspace.size() != p.steps.size())
    return error(StatusCode::kInternal, "device plan: the layouts or workspaces do not match the plan");
  if (schedule && schedule->steps() != nsteps)
    return error(StatusCode::kInternal, "device plan: the stream schedule does not match the plan");
  // Every step touching a value (the copies in: -1, the copies out: nsteps).
  std::vector<int> producer(nv, -1);
  std::vector<std::vector<int>> touched(nv);
  for (int v : p.inputs) touched[v].push_back(-1);
  for (int i = 0; i < nsteps; ++i) {
    for (int v : p.steps[i].inputs)
      if (v >= 0) touched[v].push_back(i);
    for (int v : p.steps[i].outputs)
      if (v >= 0) {
        producer[v] = i;
        touched[v].push_back(i);
      }
  }
  for (int v : p.outputs) touched[v].push_back(nsteps);
  // Lifetimes in the planner's numbering (engine/execution_plan.h): the copies in at 0, step i at
  // i + 1, the copies out at nsteps + 1.
  auto end_of = [&](const std::vector<int>& acc) { return *std::max_element(acc.begin(), acc.end()) + 1; };

  DevicePlan d;
  auto add = [&](PlanTensor t, std::vector<int> acc) {
    d.tensors.push_back(std::move(t));
    d.accesses.push_back(std::move(acc));
    return static_cast<int>(d.tensors.size()) - 1;
  };
  std::vector<int> tensor_of(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (p.values[v].constant) continue;
    const int first = producer[v] >= 0 ? producer[v] + 1 : 0;
    const int end = touched[v].empty() ? first : end_of(touched[v]);
    tensor_of[v] = add({p.values[v].name, l.values[v].bytes, reuse ? first : 0, reuse ? end : nsteps + 1}, touched[v]);
  }
  d.in_place.assign(p.steps.size(), false);
  // Output 0 over input 0, as the CPU plan does, when the op allows it and input 0 dies here
  // (with streams: every other step reading it happens before this one).
  for (int i = 0; i < nsteps && reuse; ++i) {
    const PlannedStep& s = p.steps[i];
    if (!s.node->schema->in_place || s.inputs.empty() || s.outputs.empty()) continue;
    const int in = s.inputs[0], out = s.outputs[0];
    if (in < 0 || out < 0) continue;
    const PlannedValue &a = p.values[in], &b = p.values[out];
    if (a.constant || a.graph_input || a.graph_output || producer[in] < 0 || d.tensors[tensor_of[in]].last_step != i + 1)
      continue;
    if (schedule) {
      std::vector<int> others;
      for (int x : touched[in])
        if (x != i) others.push_back(x);
      if (!schedule->all_before(others, i)) continue;
    }
    // Same bytes in the same order: equal layouts, or shapes whose two layouts coincide (the
    // Flatten of a pooled [N, C, 1, 1] then costs nothing).
    if (l.values[in].bytes != l.values[out].bytes) continue;
    if (l.values[in].layout != l.values[out].layout && !(layouts_coincide(a.shape) && layouts_coincide(b.shape)))
      continue;
    d.tensors[tensor_of[out]].reuse_of = tensor_of[in];
  }
  std::vector<int> scratch_tensor(p.steps.size(), -1);
  d.op_workspace_offsets.assign(p.steps.size(), -1);
  for (int i = 0; i < nsteps; ++i) {
    const int64_t conv = l.steps[i].scratch_bytes, ws = aligned(static_cast<int64_t>(op_workspace[i]));
    if (conv + ws == 0) continue;
    scratch_tensor[i] = add({p.steps[i].node->name + ":scratch", conv + ws, i + 1, reuse ? i + 1 : nsteps + 1}, {i});
  }
  std::vector<int> in_stage(p.inputs.size(), -1), out_stage(p.outputs.size(), -1);
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const PlannedValue& v = p.values[p.inputs[k]];
    if (!staged(v)) continue;
    in_stage[k] = add({v.name + ":staging", shape_numel(v.shape) * 4, 0, 0}, {-1});
  }
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const PlannedValue& v = p.values[p.outputs[k]];
    if (!staged(v) || v.constant) continue;
    out_stage[k] = add({v.name + ":staging", shape_numel(v.shape) * 4, nsteps + 1, nsteps + 1}, {nsteps});
  }

  // On several streams, tensors whose steps may overlap stay apart as well.
  std::function<bool(int, int)> concurrent;
  if (schedule && schedule->streams > 1 && reuse)
    concurrent = [&](int a, int b) {
      const auto &x = d.accesses[a], &y = d.accesses[b];
      const int fx = *std::min_element(x.begin(), x.end()), fy = *std::min_element(y.begin(), y.end());
      return !schedule->all_before(x, fy) && !schedule->all_before(y, fx);
    };
  QUENCH_ASSIGN(d.memory, plan_memory(d.tensors, kArenaAlignment, concurrent));
  QUENCH_TRY(verify_plan(d.tensors, d.memory));
  if (schedule && reuse) QUENCH_TRY(verify_stream_safety(d, *schedule));
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

Status verify_stream_safety(const DevicePlan& d, const StreamSchedule& s) {
  auto first = [&](size_t t) { return *std::min_element(d.accesses[t].begin(), d.accesses[t].end()); };
  // u took t's bytes in place at its producing step: t's other accesses come before it.
  auto in_place_pair = [&](size_t t, size_t u) {
    if (d.tensors[u].reuse_of != static_cast<int>(t)) return false;
    const int step = d.tensors[u].first_step - 1;
    std::vector<int> others;
    for (int a : d.accesses[t])
      if (a != step) others.push_back(a);
    return s.all_before(others, step);
  };
  const size_t count = d.tensors.size();
  for (size_t t = 0; t < count; ++t)
    for (size_t u = t + 1; u < count; ++u) {
      const int64_t bt = d.memory.offsets[t], bu = d.memory.offsets[u];
      if (d.tensors[t].bytes == 0 || d.tensors[u].bytes == 0) continue;
      if (bt >= bu + d.tensors[u].bytes || bu >= bt + d.tensors[t].bytes) continue;
      if (s.all_before(d.accesses[t], first(u)) || s.all_before(d.accesses[u], first(t))) continue;
      if (in_place_pair(t, u) || in_place_pair(u, t)) continue;
      return error(StatusCode::kInternal, "device plan: '", d.tensors[t].name, "' and '", d.tensors[u].name,
                   "' share bytes but may be in use at the same time on different streams");
    }
  return {};
}

}  // namespace quench::cuda
