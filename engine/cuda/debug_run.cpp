#include "engine/cuda/debug_run.h"

#include <cstring>

#include "engine/cuda/cuda_executor.h"
#include "engine/cuda/device_memory.h"
#include "quench/float16.h"

namespace quench::cuda {
namespace {

// Device bytes of a value -> host tensor in the model's type and ONNX order.
Tensor to_host(const PlannedValue& pv, const ValueLayout& vl, const std::vector<std::byte>& raw) {
  if (vl.dtype != DType::kF16 || pv.dtype != DType::kF32) {
    if (vl.layout != GpuLayout::kNHWC) return Tensor::copy_of(pv.dtype, pv.shape, raw.data());
    // An NHWC value held in its own type (an INT8 engine's int8 activations): reorder the bytes.
    Tensor t = Tensor::zeros(pv.dtype, pv.shape);
    auto* out = static_cast<std::byte*>(t.mutable_data());
    const size_t e = dtype_size(pv.dtype);
    const Shape& s = pv.shape;
    const int64_t c = s[1], hw = s[2] * s[3];
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t q = 0; q < hw; ++q)
          std::memcpy(out + static_cast<size_t>((n * c + ch) * hw + q) * e,
                      raw.data() + static_cast<size_t>((n * hw + q) * c + ch) * e, e);
    return t;
  }
  Tensor t = Tensor::zeros(DType::kF32, pv.shape);
  float* out = t.mutable_data_as<float>();
  const auto* h = reinterpret_cast<const uint16_t*>(raw.data());
  const int64_t count = t.numel();
  if (vl.layout != GpuLayout::kNHWC) {
    for (int64_t i = 0; i < count; ++i) out[i] = half_to_float(h[i]);
    return t;
  }
  const Shape& s = pv.shape;  // NHWC [N, H, W, C] -> [N, C, H, W]
  const int64_t c = s[1], hw = s[2] * s[3];
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < hw; ++q) out[(n * c + ch) * hw + q] = half_to_float(h[(n * hw + q) * c + ch]);
  return t;
}

}  // namespace

Result<TensorMap> run_keeping_every_tensor(const CudaEngine& e, int64_t batch, const TensorMap& inputs) {
  if (batch < 1 || batch > static_cast<int64_t>(e.batches.size()) || !e.batches[batch - 1])
    return error(StatusCode::kInvalidArgument, "the engine has no plan for batch ", batch);
  const CudaBatch& b = *e.batches[batch - 1];
  std::vector<size_t> ws;
  for (const auto& prep : b.prepared) ws.push_back(prep.workspace_bytes);
  QUENCH_ASSIGN(DevicePlan memory, plan_device_memory(*b.plan, b.layouts, ws, /*reuse_memory=*/false));
  QUENCH_TRY(check(cudaSetDevice(e.device.device), "cudaSetDevice"));
  QUENCH_ASSIGN(Stream stream, Stream::create());
  const size_t arena_bytes = static_cast<size_t>(std::max<int64_t>(memory.memory.arena_bytes, kArenaAlignment));
  QUENCH_ASSIGN(DeviceBuffer arena, DeviceBuffer::allocate(arena_bytes, "cudaMalloc (validation arena)"));
  QUENCH_TRY(check(cudaMemset(arena.data(), 0x7F, arena_bytes), "cudaMemset (validation arena)"));
  DeviceBuffer persistent;
  if (e.persistent_bytes > 0) {
    QUENCH_ASSIGN(persistent, DeviceBuffer::allocate(e.persistent_bytes, "cudaMalloc (split-K workspace)"));
    QUENCH_TRY(check(cudaMemset(persistent.data(), 0, e.persistent_bytes), "cudaMemset (split-K workspace)"));
  }
  QUENCH_ASSIGN(PinnedBuffer pinned, PinnedBuffer::allocate(static_cast<size_t>(std::max<int64_t>(b.pinned_bytes, 64)),
                                                             "cudaMallocHost (validation staging)"));
  QUENCH_ASSIGN(auto ex, CudaExecutor::create(e, b, memory, arena.data(), persistent.data(), pinned.data()));
  TensorMap outputs;
  QUENCH_TRY(ex->run(inputs, outputs, stream.get()));

  const ExecutionPlan& p = *b.plan;
  TensorMap all;
  std::vector<std::byte> raw;
  for (size_t v = 0; v < p.values.size(); ++v) {
    const void* d = ex->value_data(static_cast<int>(v));
    if (!d) continue;
    raw.resize(static_cast<size_t>(b.layouts.values[v].bytes));
    if (!raw.empty())
      QUENCH_TRY(check(cudaMemcpy(raw.data(), d, raw.size(), cudaMemcpyDeviceToHost), "cudaMemcpy (validation)"));
    all[p.values[v].name] = to_host(p.values[v], b.layouts.values[v], raw);
  }
  return all;
}

}  // namespace quench::cuda
