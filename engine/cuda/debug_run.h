// The CUDA backend's validation path: one run of a batch's plan with no memory reuse, so that
// every tensor survives it, then every node output copied back as float32 in ONNX order, to be
// compared layer by layer with the CPU reference of the same graph. Allocates freely (its own
// arena, stream and staging): a debugging tool, not the run path.
#pragma once

#include "engine/cuda/cuda_engine.h"
#include "quench/quench.h"

namespace quench::cuda {

// Every non-constant value of batch `batch`'s plan (node outputs and graph inputs), by name,
// as float32 NCHW for float values (other types as they are).
Result<TensorMap> run_keeping_every_tensor(const CudaEngine& engine, int64_t batch, const TensorMap& inputs);

}  // namespace quench::cuda
