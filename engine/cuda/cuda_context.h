// One CUDA execution context: its own stream, one device arena for every batch size (the
// largest batch's plan), the split-K workspace, pinned host staging, and one bound executor per
// batch. Everything is allocated here, at create_context; runs allocate nothing.
#pragma once

#include <memory>
#include <vector>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/cuda/device_memory.h"

namespace quench::cuda {

class CudaContext {
 public:
  static Result<std::unique_ptr<CudaContext>> create(std::shared_ptr<const CudaEngine> engine);

  // Runs batch `batch` (1..max_batch); see CudaExecutor::run. One run at a time per context.
  Status run(const TensorMap& inputs, TensorMap& outputs, int64_t batch);
  cudaStream_t stream() const { return stream_.get(); }

 private:
  std::shared_ptr<const CudaEngine> engine_;
  // Declared before the executors, so that the memory they point into outlives them.
  Stream stream_;
  DeviceBuffer arena_, persistent_;
  PinnedBuffer pinned_;
  std::vector<std::unique_ptr<CudaExecutor>> executors_;  // [b - 1]
};

}  // namespace quench::cuda
