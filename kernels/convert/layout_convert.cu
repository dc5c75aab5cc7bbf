#include <cuda_fp16.h>

#include "kernels/convert/layout_convert.cuh"

namespace quench::kernels {
namespace {

template <class T> __device__ T from_float(float v);
template <> __device__ float from_float<float>(float v) { return v; }
template <> __device__ __half from_float<__half>(float v) { return __float2half_rn(v); }
__device__ float to_float(float v) { return v; }
__device__ float to_float(__half v) { return __half2float(v); }

// One thread per NHWC element, so writes are coalesced; reads stride by H*W.
template <class T>
__global__ void nchw_to_nhwc_kernel(const float* __restrict__ src, T* __restrict__ dst, LayoutConvertArgs a) {
  const int64_t total = a.n * a.h * a.w * a.c_padded;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ch = i % a.c_padded, pix = i / a.c_padded;
    const int64_t hw = pix % (a.h * a.w), n = pix / (a.h * a.w);
    dst[i] = from_float<T>(ch < a.c ? src[(n * a.c + ch) * a.h * a.w + hw] : 0.0f);
  }
}

template <class T>
__global__ void nhwc_to_nchw_kernel(const T* __restrict__ src, float* __restrict__ dst, LayoutConvertArgs a) {
  const int64_t total = a.n * a.c * a.h * a.w;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t hw = i % (a.h * a.w), nc = i / (a.h * a.w);
    const int64_t ch = nc % a.c, n = nc / a.c;
    dst[i] = to_float(src[(n * a.h * a.w + hw) * a.c_padded + ch]);
  }
}

bool valid(const LayoutConvertArgs& a) {
  return a.n > 0 && a.c > 0 && a.h > 0 && a.w > 0 && a.c_padded >= a.c;
}

int grid_for(int64_t total, int block) {
  const int64_t g = (total + block - 1) / block;
  return static_cast<int>(g < 65535 * 8 ? g : 65535 * 8);
}

}  // namespace

template <class T>
cudaError_t nchw_to_nhwc(const float* src, T* dst, const LayoutConvertArgs& a, cudaStream_t stream) {
  if (!valid(a) || !src || !dst) return cudaErrorInvalidValue;
  constexpr int kBlock = 256;
  nchw_to_nhwc_kernel<T><<<grid_for(a.n * a.h * a.w * a.c_padded, kBlock), kBlock, 0, stream>>>(src, dst, a);
  return cudaGetLastError();
}

template <class T>
cudaError_t nhwc_to_nchw(const T* src, float* dst, const LayoutConvertArgs& a, cudaStream_t stream) {
  if (!valid(a) || !src || !dst) return cudaErrorInvalidValue;
  constexpr int kBlock = 256;
  nhwc_to_nchw_kernel<T><<<grid_for(a.n * a.c * a.h * a.w, kBlock), kBlock, 0, stream>>>(src, dst, a);
  return cudaGetLastError();
}

template cudaError_t nchw_to_nhwc<float>(const float*, float*, const LayoutConvertArgs&, cudaStream_t);
template cudaError_t nchw_to_nhwc<__half>(const float*, __half*, const LayoutConvertArgs&, cudaStream_t);
template cudaError_t nhwc_to_nchw<float>(const float*, float*, const LayoutConvertArgs&, cudaStream_t);
template cudaError_t nhwc_to_nchw<__half>(const __half*, float*, const LayoutConvertArgs&, cudaStream_t);

}  // namespace quench::kernels
