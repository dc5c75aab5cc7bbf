// CUDA error -> quench::Status, for kernel launchers.
#pragma once

#include <cuda_runtime.h>

#include "quench/status.h"

namespace quench::kernels {

// Ok for cudaSuccess, otherwise kCudaError naming `what` and the runtime's message.
inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok_status();
  return error(StatusCode::kCudaError, what, ": ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
}

// The launch's own error (bad configuration, too much shared memory) without synchronizing.
inline Status launch_status(const char* kernel) { return cuda_status(cudaGetLastError(), kernel); }

inline bool aligned_to(const void* p, unsigned bytes) {
  return (reinterpret_cast<unsigned long long>(p) % bytes) == 0;
}

}  // namespace quench::kernels
