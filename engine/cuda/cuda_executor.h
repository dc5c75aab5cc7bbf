// Runs one batch's plan on the GPU: every step bound once (kernel arguments fixed, device
// pointers into the context's arena and the engine's weights), so that run() only launches.
//
// run() enqueues on the given stream: the inputs' copy from the caller's tensors into pinned
// staging and to the device, the boundary conversion (float32 NCHW -> float16 NHWC), each step
// (with its layout conversions, engine/cuda/layout.h), the conversion back and the copy to pinned
// staging; then it waits for the stream and copies into the caller's output tensors. That final
// synchronization is the only one on the run path: Context::run returns filled outputs.
// (Issue 7 makes run asynchronous; the stream and staging are ready for it.) No device or host
// memory is allocated on the run path, except output tensors the caller did not provide with
// the right type and shape.
#pragma once

#include <cuda_fp16.h>

#include <memory>
#include <vector>

#include "engine/cuda/cuda_engine.h"
#include "kernels/convert/layout_convert.cuh"
#include "kernels/transpose/transpose.cuh"
#include "quench/quench.h"

namespace quench::cuda {

class CudaExecutor {
 public:
  // `memory` places the batch in `arena` (batch.memory, or a plan without reuse for validation);
  // `persistent` holds engine.persistent_bytes of zeroed split-K workspace; `pinned` holds
  // batch.pinned_bytes of page-locked host memory. All outlive the executor.
  static Result<std::unique_ptr<CudaExecutor>> create(const CudaEngine& engine, const CudaBatch& batch,
                                                      const DevicePlan& memory, std::byte* arena, void* persistent,
                                                      std::byte* pinned);

  Status run(const TensorMap& inputs, TensorMap& outputs, cudaStream_t stream);

  // A non-constant value's device bytes (null for constants), as the GPU holds it
  // (LayoutPlan::values[v]); valid after run() for as long as the plan keeps them.
  const void* value_data(int v) const;
  const CudaBatch& batch() const { return *batch_; }

 private:
  using Transpose = kernels::transpose::TransposeArgs<__half>;
  struct Step {
    const ir::Node* node = nullptr;
    std::vector<Transpose> before, after;  // NHWC -> ONNX order into scratch, and back
    ops::GpuLaunch launch;                 // empty: nothing to do (an aliasing reshape)
  };
  // One graph input or output crossing the boundary.
  struct Boundary {
    int value = -1;
    std::byte* host = nullptr;     // pinned staging, model type
    void* staging = nullptr;       // device float32 staging, or null (copied as it is)
    void* device = nullptr;        // the value in the arena
    kernels::LayoutConvertArgs convert;  // float32 NCHW <-> float16 (NHWC or flat)
    size_t bytes = 0;              // host bytes
  };
  Status copy_in(const TensorMap& inputs, cudaStream_t stream);
  Status copy_out(cudaStream_t stream);
  Status run_step(const Step& s, cudaStream_t stream) const;

  const CudaBatch* batch_ = nullptr;
  std::vector<void*> values_;  // per plan value: device address (null for constants)
  std::vector<Step> steps_;
  std::vector<Boundary> inputs_, outputs_;
};

}  // namespace quench::cuda
