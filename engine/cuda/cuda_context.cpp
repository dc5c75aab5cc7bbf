#include "engine/cuda/cuda_context.h"

#include <algorithm>

namespace quench::cuda {

Result<std::unique_ptr<CudaContext>> CudaContext::create(std::shared_ptr<const CudaEngine> engine) {
  auto c = std::unique_ptr<CudaContext>(new CudaContext());
  c->engine_ = std::move(engine);
  const CudaEngine& e = *c->engine_;
  QUENCH_TRY(check(cudaSetDevice(e.device.device), "cudaSetDevice"));
  QUENCH_ASSIGN(c->stream_, Stream::create());
  const size_t arena = static_cast<size_t>(std::max<int64_t>(e.arena_bytes, kArenaAlignment));
  QUENCH_ASSIGN(c->arena_, DeviceBuffer::allocate(arena, "cudaMalloc (context arena)"));
  // Poison: bytes no step wrote read as float16 NaN (0x7F7F) rather than a plausible 0.
  QUENCH_TRY(check(cudaMemsetAsync(c->arena_.data(), 0x7F, arena, c->stream_.get()), "cudaMemsetAsync (arena)"));
  if (e.persistent_bytes > 0) {
    QUENCH_ASSIGN(c->persistent_, DeviceBuffer::allocate(e.persistent_bytes, "cudaMalloc (split-K workspace)"));
    // The split-K counters start at zero and every run leaves them so (kernels/gemm/gemm.cuh).
    QUENCH_TRY(check(cudaMemsetAsync(c->persistent_.data(), 0, e.persistent_bytes, c->stream_.get()),
                     "cudaMemsetAsync (split-K workspace)"));
  }
  QUENCH_ASSIGN(c->pinned_, PinnedBuffer::allocate(static_cast<size_t>(std::max<int64_t>(e.pinned_bytes, 64)),
                                                   "cudaMallocHost (staging)"));
  QUENCH_TRY(check(cudaStreamSynchronize(c->stream_.get()), "cudaStreamSynchronize (context setup)"));
  for (const auto& b : e.batches) {
    std::unique_ptr<CudaExecutor> ex;
    if (b) {
      QUENCH_ASSIGN(ex, CudaExecutor::create(e, *b, b->memory, c->arena_.data(), c->persistent_.data(), c->pinned_.data()));
    }
    c->executors_.push_back(std::move(ex));
  }
  return c;
}

Status CudaContext::run(const TensorMap& inputs, TensorMap& outputs, int64_t batch) {
  if (batch < 1 || batch > static_cast<int64_t>(executors_.size()) || !executors_[batch - 1])
    return error(StatusCode::kInternal, "no CUDA executor for batch ", batch);
  // The calling thread may have another device current; this context's memory lives on this one.
  QUENCH_TRY(check(cudaSetDevice(engine_->device.device), "cudaSetDevice"));
  return executors_[batch - 1]->run(inputs, outputs, stream_.get());
}

}  // namespace quench::cuda
