// Depthwise 2-D convolution on NHWC (channel multiplier 1, dilation 1) with the fused epilogue:
//
//   y[n, oh, ow, c] = epilogue(sum_{i,j} x[n, oh*s - pad_top + i, ow*s - pad_left + j, c] * w[i, j, c])
//
// x is [N, H, W, C], w is [KH, KW, C] (channels innermost: the engine reorders ONNX's [C, 1, KH, KW]
// once at build), y and residual are [N, OH, OW, C], bias is FP32 [C]. FP16 storage, FP32
// accumulation. Kernels 3x3 and 5x5, stride 1 or 2 (the same along H and W), any padding.
// Vectorized along channels: 8 channels (16 bytes) per thread when C % 8 == 0, else 2 (half2) when
// C is even, else 1.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::depthwise {

// Output pixels per thread along W: kNarrow 1, kMedium 2, kWide 4. kAuto takes 4 (stride 1) or
// 2 (stride 2) when that still gives half of the multiprocessors a block, else 1.
enum class Strip : int { kAuto = 0, kNarrow, kMedium, kWide };

template <class T>
struct DepthwiseArgs {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input shape (NHWC)
  int kernel = 3;                      // KH = KW: 3 or 5
  int stride = 1;                      // 1 or 2
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  const T* x = nullptr;
  const T* weight = nullptr;     // [kernel, kernel, c]
  const float* bias = nullptr;   // [c] or null
  const T* residual = nullptr;   // [n, out_h, out_w, c] or null; may alias y
  T* y = nullptr;                // [n, out_h, out_w, c]
  EpilogueParams epilogue;
  int max_vector = 8;            // caps the channel vector width (8, 2 or 1); tests use it
  Strip strip = Strip::kAuto;
};

template <class T>
int64_t out_h(const DepthwiseArgs<T>& a) {
  return (a.h + a.pad_top + a.pad_bottom - a.kernel) / a.stride + 1;
}
template <class T>
int64_t out_w(const DepthwiseArgs<T>& a) {
  return (a.w + a.pad_left + a.pad_right - a.kernel) / a.stride + 1;
}

template <class T>
Status can_implement(const DepthwiseArgs<T>& args);

template <class T>
size_t workspace_bytes(const DepthwiseArgs<T>& args);

// The channel vector width run() will use (8, 2 or 1).
template <class T>
int vector_width(const DepthwiseArgs<T>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const DepthwiseArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::depthwise
