#include "engine/cuda/cuda_engine.h"

#include <algorithm>

#include "ops/gpu_util.h"

namespace quench::cuda {
namespace {

// Split-K decisions before a device is known: an H100's count; the plan is redone with the real
// device's count before anything is allocated.
constexpr int kNominalMultiprocessors = 132;

int64_t aligned64(int64_t b) { return (b + 63) / 64 * 64; }

// Host staging: every graph input and output in its model type, one after another.
int64_t pinned_bytes_of(const ExecutionPlan& p) {
  int64_t total = 0;
  for (int v : p.inputs) total += aligned64(p.values[v].bytes);
  for (int v : p.outputs) total += aligned64(p.values[v].bytes);
  return total;
}

}  // namespace

Result<std::unique_ptr<CudaBatch>> prepare_batch(std::shared_ptr<const ExecutionPlan> plan, DeviceWeights& weights,
                                                 int multiprocessors) {
  auto b = std::make_unique<CudaBatch>();
  b->plan = std::move(plan);
  const ExecutionPlan& p = *b->plan;
  QUENCH_ASSIGN(b->layouts, assign_layouts(p));
  std::vector<ops::GpuValueDesc> ins, outs;
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const ir::Node& n = *p.steps[i].node;
    const ops::GpuOp* op = ops::find_gpu_op(n.schema);  // assign_layouts checked it exists
    step_operands(p, b->layouts, i, ins, outs);
    ops::GpuPrepared prep;
    QUENCH_TRY(op->prepare({n, ins, outs, weights, multiprocessors}, prep));
    std::vector<int> constants(ins.size(), -1);
    for (size_t k = 0; k < ins.size(); ++k) {
      if (!ins[k].present || !ins[k].constant || prep.claimed(k)) continue;
      const std::string transform = std::string("tensor.") + ops::gpu_layout_name(ins[k].layout) +
                                    shape_str(ins[k].shape) + dtype_name(ins[k].constant->dtype());
      QUENCH_ASSIGN(constants[k], ops::find_or_add_weight(weights, ins[k].constant->data(), transform,
                                                          [&] { return ops::device_form(n, ins[k]); }));
    }
    b->prepared.push_back(std::move(prep));
    b->constant_inputs.push_back(std::move(constants));
  }
  for (int v : p.outputs)
    if (p.values[v].constant)
      return error(StatusCode::kUnsupported, "output '", p.values[v].name,
                   "' is a constant; the CUDA backend runs outputs that a node computes");
  // The boundary converts float32 (kernels/convert); other types cross as they are.
  for (const auto* list : {&p.inputs, &p.outputs})
    for (int v : *list)
      if (p.values[v].dtype == DType::kF16)
        return error(StatusCode::kUnsupported, "graph input or output '", p.values[v].name,
                     "' is float16; the CUDA backend takes float32 at the boundary");
  b->pinned_bytes = pinned_bytes_of(p);
  return b;
}

Result<std::shared_ptr<const CudaEngine>> build_cuda_engine(std::span<const std::shared_ptr<const ExecutionPlan>> plans,
                                                            const std::string& source, int max_streams) {
  auto e = std::make_shared<CudaEngine>();
  // The device is looked for first but required only after the coverage check, so that a model
  // with an op quench cannot run on the GPU says so on any machine.
  Result<DeviceInfo> device = current_device();
  const int sms = device.ok() ? device->multiprocessors : kNominalMultiprocessors;
  for (const auto& plan : plans) {
    std::unique_ptr<CudaBatch> b;
    if (plan) {
      auto prepared = prepare_batch(plan, e->weights, sms);
      if (!prepared.ok()) return prepared.status().with_context(source);
      b = std::move(prepared).value();
    }
    e->batches.push_back(std::move(b));
  }
  if (!device.ok()) return device.status();
  e->device = *device;
  for (auto& b : e->batches) {
    if (!b) continue;
    for (const auto& prep : b->prepared) e->persistent_bytes = std::max(e->persistent_bytes, prep.persistent_bytes);
    QUENCH_TRY(plan_batch(*b, max_streams).with_context(source));
    e->streams = std::max(e->streams, b->schedule.streams);
    e->arena_bytes = std::max(e->arena_bytes, b->memory.memory.arena_bytes);
    e->pinned_bytes = std::max(e->pinned_bytes, b->pinned_bytes);
  }
  QUENCH_TRY(e->weights.upload().with_context(source));
  return std::shared_ptr<const CudaEngine>(std::move(e));
}

Status plan_batch(CudaBatch& b, int max_streams) {
  b.schedule = schedule_streams(step_dependencies(*b.plan), max_streams);
  std::vector<size_t> ws;
  for (const auto& prep : b.prepared) ws.push_back(prep.workspace_bytes);
  QUENCH_ASSIGN(b.memory, plan_device_memory(*b.plan, b.layouts, ws, true, &b.schedule));
  return {};
}

MemoryReport memory_report(const CudaEngine& e) {
  MemoryReport r;
  r.arena_bytes = e.arena_bytes;
  r.weights_bytes = e.weights.bytes();
  for (const auto& b : e.batches)
    if (b) {  // the last present batch is the largest
      r.lower_bound_bytes = b->memory.memory.lower_bound_bytes;
      r.naive_bytes = b->memory.memory.naive_bytes;
    }
  return r;
}

}  // namespace quench::cuda
