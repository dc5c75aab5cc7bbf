// INT8 depthwise 2-D convolution on NHWC (channel multiplier 1, dilation 1) with the fused INT8
// epilogue (kernels/quant/int8_epilogue.cuh):
//
//   y[n, oh, ow, c] = epilogue(sum_{i,j} x[n, oh*s - pad_top + i, ow*s - pad_left + j, c] * w[i, j, c])
//
// x is INT8 [N, H, W, C], w INT8 [K, K, C] (channels innermost: ONNX's [C, 1, K, K] reordered once
// on the host), y and the residual [N, OH, OW, C] of the output type Out (int8_t or __half:
// the CUDA backend runs float layers in FP16, so no FP32 output is compiled; docs/decisions.md).
// Kernels 3x3 and 5x5, stride 1 or 2 (the same along H and W), any padding. The products are
// summed in INT32 (exact: at most 25 * 128 * 128). Vectorized along channels: 8 channels (8 bytes)
// per thread when C % 8 == 0, else 4, else 1.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/depthwise/depthwise.cuh"
#include "kernels/quant/int8_epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::int8::depthwise {

// Output pixels per thread along W: kNarrow 1; kMedium and kWide the wide strip of the stride
// (4 for stride 1, 2 for stride 2); kAuto as the FP16 kernel chooses (kernels/depthwise).
using kernels::depthwise::Strip;

template <class Out>
struct DepthwiseArgs {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input shape (NHWC)
  int kernel = 3;                      // KH = KW: 3 or 5
  int stride = 1;                      // 1 or 2
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  const int8_t* x = nullptr;
  const int8_t* weight = nullptr;      // [kernel, kernel, c]
  const Out* residual = nullptr;       // [n, out_h, out_w, c] or null; may alias y
  Out* y = nullptr;                    // [n, out_h, out_w, c]
  const int32_t* channel_table = nullptr;  // device, table_words(c) words, 16-byte aligned
  Epilogue epilogue;                   // make_epilogue(spec, c, ...)
  int max_vector = 8;                  // caps the channel vector width (8, 4 or 1); tests use it
  Strip strip = Strip::kAuto;
};

template <class Out>
int64_t out_h(const DepthwiseArgs<Out>& a) {
  return (a.h + a.pad_top + a.pad_bottom - a.kernel) / a.stride + 1;
}
template <class Out>
int64_t out_w(const DepthwiseArgs<Out>& a) {
  return (a.w + a.pad_left + a.pad_right - a.kernel) / a.stride + 1;
}

template <class Out>
Status can_implement(const DepthwiseArgs<Out>& args);

template <class Out>
size_t workspace_bytes(const DepthwiseArgs<Out>& args);

// The channel vector width run() will use (8, 4 or 1).
template <class Out>
int vector_width(const DepthwiseArgs<Out>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class Out>
Status run(const DepthwiseArgs<Out>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::int8::depthwise
