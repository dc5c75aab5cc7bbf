// Graph-boundary conversions: NCHW FP32 <-> NHWC (FP32 or FP16), with channels padded.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace quench::kernels {

struct LayoutConvertArgs {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t c_padded = 0;  // NHWC channel stride (>= c); padding channels are written as zero
};

// NCHW fp32 -> NHWC of T (float or __half). Checks its arguments and the launch.
template <class T>
cudaError_t nchw_to_nhwc(const float* src, T* dst, const LayoutConvertArgs& a, cudaStream_t stream);

// NHWC of T -> NCHW fp32 (padding channels dropped).
template <class T>
cudaError_t nhwc_to_nchw(const T* src, float* dst, const LayoutConvertArgs& a, cudaStream_t stream);

}  // namespace quench::kernels
