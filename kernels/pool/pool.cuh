// Pooling on NHWC, FP16 storage, FP32 math:
//
//   window pooling   y[n, oh, ow, c] = max / average over the K_h x K_w window (stride, dilation,
//                    pads, asymmetric allowed) of x[n, oh*s_h - pad_top + i*d_h, ow*s_w - pad_left + j*d_w, c]
//   global pooling   y[n, c] = max / average over all H*W positions of x[n, :, :, c]
//
// The caller gives the output size (ONNX's formula with ceil_mode lives in ops/, not here).
// Positions in the padding are never read: max ignores them; average divides by the positions
// inside the input, or with count_include_pad by those inside [-pad_top, h + pad_bottom) x
// [-pad_left, w + pad_right) (a ceil_mode window's part beyond the end pad is not counted, as in
// ONNX Runtime, PyTorch and quench's CPU reference). A window with no input position gives -inf
// (max) or NaN (average, 0/0), as the CPU reference does.
//
// Vectorized along channels: 8 channels (16 bytes) per thread when C % 8 == 0, else 2 (half2)
// when C is even, else 1.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::pool {

enum class PoolKind : int { kMax = 0, kAverage };

template <class T>
struct PoolArgs {
  PoolKind kind = PoolKind::kMax;
  int64_t n = 0, h = 0, w = 0, c = 0;  // input, NHWC
  int64_t out_h = 0, out_w = 0;        // output spatial size, chosen by the caller
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = false;  // average only
  const T* x = nullptr;
  T* y = nullptr;  // [n, out_h, out_w, c]
  int max_vector = 8;  // caps the channel vector width (8, 2 or 1); tests use it
};

template <class T>
struct GlobalPoolArgs {
  PoolKind kind = PoolKind::kAverage;
  int64_t n = 0, hw = 0, c = 0;  // input [n, hw, c] (NHWC with H*W merged)
  const T* x = nullptr;
  T* y = nullptr;  // [n, c]
  int max_vector = 8;
};

template <class T>
Status can_implement(const PoolArgs<T>& args);
template <class T>
Status can_implement(const GlobalPoolArgs<T>& args);

template <class T>
size_t workspace_bytes(const PoolArgs<T>& args);
template <class T>
size_t workspace_bytes(const GlobalPoolArgs<T>& args);

// The channel vector width run() will use (8, 2 or 1).
template <class T>
int vector_width(const PoolArgs<T>& args);
template <class T>
int vector_width(const GlobalPoolArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const PoolArgs<T>& args, void* workspace, cudaStream_t stream);
template <class T>
Status run(const GlobalPoolArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::pool
