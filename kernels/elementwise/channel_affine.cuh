// A per-channel affine map (inference BatchNormalization folded on the host into scale and shift):
//
//   y[o, c, i] = x[o, c, i] * scale[c] + shift[c]
//
// over x viewed as [outer, channels, inner]: NHWC data is [N*H*W, C, 1], ONNX-order data
// [N, C, spatial]. scale and shift are FP32 [channels]; FP16 storage, FP32 math, one rounding.
// Accesses are 8 elements (16 bytes) per thread when the run of elements sharing a channel
// pattern allows it (inner == 1 and channels % 8 == 0, or inner % 8 == 0) and the pointers are
// aligned, else 2, else 1.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::elementwise {

template <class T>
struct ChannelAffineArgs {
  int64_t outer = 0, channels = 0, inner = 0;
  const T* x = nullptr;
  const float* scale = nullptr;  // [channels]
  const float* shift = nullptr;  // [channels]
  T* y = nullptr;                // may be x
  int max_vector = 8;            // caps the vector width (8, 2 or 1); tests use it
};

template <class T>
Status can_implement(const ChannelAffineArgs<T>& args);

template <class T>
size_t workspace_bytes(const ChannelAffineArgs<T>& args);

// The vector width run() will use (8, 2 or 1).
template <class T>
int vector_width(const ChannelAffineArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize. An empty tensor
// launches nothing.
template <class T>
Status run(const ChannelAffineArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::elementwise
