// INT8 quantize / dequantize, see int8_convert.cuh. Grid-stride loops over groups of V = 8
// elements (16-byte accesses on the float side, 8-byte ones on the INT8 side), then the count % 8
// tail one element per thread; V = 1 when a pointer is not aligned for the vectors.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/quant/int8_convert.cuh"
#include "kernels/quant/quant_math.h"

namespace quench::kernels::int8 {
namespace {

constexpr int kBlock = 256;

// 8 elements of F <-> 8 floats, as 16-byte pieces.
template <class F>
struct Eight {
  static constexpr int kPiece = 16 / static_cast<int>(sizeof(F));  // elements per 16 bytes
  using IO = VecIO<F, kPiece>;
  static __device__ __forceinline__ void load(const F* p, float (&f)[8]) {
#pragma unroll
    for (int i = 0; i < 8 / kPiece; ++i) {
      float part[kPiece];
      IO::load_ro(p + i * kPiece, part);
#pragma unroll
      for (int j = 0; j < kPiece; ++j) f[i * kPiece + j] = part[j];
    }
  }
  static __device__ __forceinline__ void store(F* p, const float (&f)[8]) {
#pragma unroll
    for (int i = 0; i < 8 / kPiece; ++i) {
      float part[kPiece];
#pragma unroll
      for (int j = 0; j < kPiece; ++j) part[j] = f[i * kPiece + j];
      IO::store(p + i * kPiece, part);
    }
  }
};

template <class F, int V>
__global__ void __launch_bounds__(kBlock) quantize_kernel(const F* x, int8_t* y, float scale, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x;
  const int64_t vecs = count / V;
  if constexpr (V > 1) {
    for (int64_t i = first; i < vecs; i += stride) {
      float f[V];
      Eight<F>::load(x + i * V, f);
      uint32_t w[2] = {0, 0};
#pragma unroll
      for (int j = 0; j < V; ++j)
        w[j / 4] |= static_cast<uint32_t>(static_cast<uint8_t>(quant::quantize(f[j], scale))) << (8 * (j % 4));
      *reinterpret_cast<uint2*>(y + i * V) = make_uint2(w[0], w[1]);
    }
  }
  const int64_t done = V > 1 ? vecs * V : 0;  // elements the vector loop wrote
  for (int64_t i = done + first; i < count; i += stride) y[i] = quant::quantize(to_float(x[i]), scale);
}

template <class F, int V>
__global__ void __launch_bounds__(kBlock) dequantize_kernel(const int8_t* x, F* y, float scale, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x;
  const int64_t vecs = count / V;
  if constexpr (V > 1) {
    for (int64_t i = first; i < vecs; i += stride) {
      const uint2 raw = __ldg(reinterpret_cast<const uint2*>(x + i * V));
      const uint32_t w[2] = {raw.x, raw.y};
      float f[V];
#pragma unroll
      for (int j = 0; j < V; ++j) f[j] = quant::dequantize(static_cast<int8_t>(w[j / 4] >> (8 * (j % 4))), scale);
      Eight<F>::store(y + i * V, f);
    }
  }
  const int64_t done = V > 1 ? vecs * V : 0;
  for (int64_t i = done + first; i < count; i += stride) y[i] = from_float<F>(quant::dequantize(x[i], scale));
}

// Enough blocks to cover the work once, capped so that the grid-stride loops take over beyond.
unsigned blocks_for(int64_t work) {
  return static_cast<unsigned>(std::clamp<int64_t>((work + kBlock - 1) / kBlock, 1, int64_t{1} << 20));
}

Status check_common(int64_t count, const void* x, const void* y, float scale, int max_vector, const char* who) {
  if (count <= 0) return error(StatusCode::kInvalidArgument, who, ": count must be positive, got ", count);
  if (!x || !y) return error(StatusCode::kInvalidArgument, who, ": x and y must be non-null");
  if (!(scale > 0) || !std::isfinite(scale))
    return error(StatusCode::kInvalidArgument, who, ": scale must be positive and finite, got ", scale);
  if (max_vector != 1 && max_vector != 8) return error(StatusCode::kInvalidArgument, who, ": max_vector must be 1 or 8");
  return Status::ok_status();
}

}  // namespace

template <class F>
Status can_implement(const QuantizeArgs<F>& a) {
  QUENCH_TRY(check_common(a.count, a.x, a.y, a.scale, a.max_vector, "int8 quantize"));
  if (!aligned_to(a.x, sizeof(F))) return error(StatusCode::kInvalidArgument, "int8 quantize: x must be aligned to its element");
  return Status::ok_status();
}

template <class F>
Status can_implement(const DequantizeArgs<F>& a) {
  QUENCH_TRY(check_common(a.count, a.x, a.y, a.scale, a.max_vector, "int8 dequantize"));
  if (!aligned_to(a.y, sizeof(F))) return error(StatusCode::kInvalidArgument, "int8 dequantize: y must be aligned to its element");
  return Status::ok_status();
}

template <class F>
Status quantize(const QuantizeArgs<F>& a, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  if (a.max_vector == 8 && aligned_to(a.x, 16) && aligned_to(a.y, 8)) {
    quantize_kernel<F, 8><<<blocks_for(std::max<int64_t>(a.count / 8, 1)), kBlock, 0, stream>>>(a.x, a.y, a.scale, a.count);
  } else {
    quantize_kernel<F, 1><<<blocks_for(a.count), kBlock, 0, stream>>>(a.x, a.y, a.scale, a.count);
  }
  return launch_status("int8 quantize_kernel");
}

template <class F>
Status dequantize(const DequantizeArgs<F>& a, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  if (a.max_vector == 8 && aligned_to(a.x, 8) && aligned_to(a.y, 16)) {
    dequantize_kernel<F, 8><<<blocks_for(std::max<int64_t>(a.count / 8, 1)), kBlock, 0, stream>>>(a.x, a.y, a.scale, a.count);
  } else {
    dequantize_kernel<F, 1><<<blocks_for(a.count), kBlock, 0, stream>>>(a.x, a.y, a.scale, a.count);
  }
  return launch_status("int8 dequantize_kernel");
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<float>(const QuantizeArgs<float>&);
template Status can_implement<__half>(const QuantizeArgs<__half>&);
template Status can_implement<float>(const DequantizeArgs<float>&);
template Status can_implement<__half>(const DequantizeArgs<__half>&);
template Status quantize<float>(const QuantizeArgs<float>&, cudaStream_t);
template Status quantize<__half>(const QuantizeArgs<__half>&, cudaStream_t);
template Status dequantize<float>(const DequantizeArgs<float>&, cudaStream_t);
template Status dequantize<__half>(const DequantizeArgs<__half>&, cudaStream_t);

}  // namespace quench::kernels::int8
