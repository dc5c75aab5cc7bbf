// Softmax / log-softmax over the innermost axis, see softmax.cuh.
//
// Warp path: a warp owns a row; lane l holds elements (j*32 + l)*V .. +V-1 for j < P/V, P values
// per lane in registers (P a power of two with 32*P >= cols), missing ones as -inf. Max and sum
// are warp shuffles; the row is read once and written once.
//
// Block path: a block owns a row. Pass 1 keeps a running (max, sum of exp(x - max)) per thread,
// rescaling the sum when the max grows, then combines the pairs across the block; pass 2 reads the
// row again (from L2 for all but huge rows) and writes it. Each element is read and written by
// the same thread, after the whole block finished reading in pass 1, so y may alias x.
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/softmax/softmax.cuh"

namespace quench::kernels::softmax {
namespace {

constexpr int kWarpBlock = 256;  // 8 rows per block on the warp path
constexpr int kRowBlock = 512;   // threads per row on the block path
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

template <SoftmaxKind Kind>
__device__ __forceinline__ float finish(float x, float max, float sum_or_inv, float log_sum) {
  if constexpr (Kind == SoftmaxKind::kSoftmax) {
    return expf(x - max) * sum_or_inv;
  } else {
    return x - max - log_sum;
  }
}

template <class T>
struct Params {
  const T* x;
  T* y;
  int64_t rows, cols;
};

template <class T, SoftmaxKind Kind, int V, int P>
__global__ void __launch_bounds__(kWarpBlock) softmax_warp_kernel(const Params<T> p) {
  using IO = VecIO<T, V>;
  constexpr int kChunks = P / V;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kWarpBlock / 32) + threadIdx.x / 32;
  if (row >= p.rows) return;  // whole warps leave together
  const int lane = threadIdx.x % 32;
  const T* xr = p.x + row * p.cols;
  T* yr = p.y + row * p.cols;
  float v[kChunks][V];
#pragma unroll
  for (int j = 0; j < kChunks; ++j) {
    const int64_t col = (static_cast<int64_t>(j) * 32 + lane) * V;
    if (col < p.cols) {
      IO::load(xr + col, v[j]);  // cols % V == 0: the whole vector is in the row
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) v[j][k] = -INFINITY;
    }
  }
  float m = -INFINITY;
#pragma unroll
  for (int j = 0; j < kChunks; ++j)
#pragma unroll
    for (int k = 0; k < V; ++k) m = fmaxf(m, v[j][k]);
  m = warp_max(m);
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < kChunks; ++j)
#pragma unroll
    for (int k = 0; k < V; ++k) s += expf(v[j][k] - m);  // exp(-inf) = 0 for the missing ones
  s = warp_sum(s);
  const float inv = 1.0f / s, log_sum = logf(s);
#pragma unroll
  for (int j = 0; j < kChunks; ++j) {
    const int64_t col = (static_cast<int64_t>(j) * 32 + lane) * V;
    if (col < p.cols) {
      float out[V];
#pragma unroll
      for (int k = 0; k < V; ++k) out[k] = finish<Kind>(v[j][k], m, inv, log_sum);
      IO::store(yr + col, out);
    }
  }
}

// (max, sum of exp(x - max)) pairs: merging two is exact up to rounding whatever their maxima.
struct MaxSum {
  float m, s;
};

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return MaxSum{m, 0.0f};  // both empty (exp(-inf - -inf) would be NaN)
  return MaxSum{m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

template <class T, SoftmaxKind Kind, int V>
__global__ void __launch_bounds__(kRowBlock) softmax_block_kernel(const Params<T> p) {
  using IO = VecIO<T, V>;
  __shared__ MaxSum partial[kRowBlock / 32];
  __shared__ MaxSum total;
  const int64_t row = blockIdx.x;
  const T* xr = p.x + row * p.cols;
  T* yr = p.y + row * p.cols;
  const int64_t vecs = p.cols / V;

  MaxSum acc{-INFINITY, 0.0f};
  for (int64_t i = threadIdx.x; i < vecs; i += kRowBlock) {
    float v[V];
    IO::load(xr + i * V, v);
    float m = v[0];
#pragma unroll
    for (int k = 1; k < V; ++k) m = fmaxf(m, v[k]);
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < V; ++k) s += expf(v[k] - m);
    acc = merge(acc, MaxSum{m, s});
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    const MaxSum other{__shfl_xor_sync(kFull, acc.m, o), __shfl_xor_sync(kFull, acc.s, o)};
    acc = merge(acc, other);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = acc;
  __syncthreads();
  if (warp == 0) {
    acc = lane < kRowBlock / 32 ? partial[lane] : MaxSum{-INFINITY, 0.0f};
#pragma unroll
    for (int o = 16; o > 0; o /= 2) {
      const MaxSum other{__shfl_xor_sync(kFull, acc.m, o), __shfl_xor_sync(kFull, acc.s, o)};
      acc = merge(acc, other);
    }
    if (lane == 0) total = acc;
  }
  __syncthreads();
  const float m = total.m, inv = 1.0f / total.s, log_sum = logf(total.s);
  for (int64_t i = threadIdx.x; i < vecs; i += kRowBlock) {
    float v[V];
    IO::load(xr + i * V, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = finish<Kind>(v[k], m, inv, log_sum);
    IO::store(yr + i * V, v);
  }
}

template <class T, SoftmaxKind Kind, int V>
Status launch_warp(const Params<T>& p, int per_lane, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((p.rows + kWarpBlock / 32 - 1) / (kWarpBlock / 32));
  // P >= V (a lane holds whole vectors); per_lane is a power of two, at most 32.
  switch (per_lane > V ? per_lane : V) {
    case 1: softmax_warp_kernel<T, Kind, V, (V > 1 ? V : 1)><<<blocks, kWarpBlock, 0, stream>>>(p); break;
    case 2: softmax_warp_kernel<T, Kind, V, (V > 2 ? V : 2)><<<blocks, kWarpBlock, 0, stream>>>(p); break;
    case 4: softmax_warp_kernel<T, Kind, V, (V > 4 ? V : 4)><<<blocks, kWarpBlock, 0, stream>>>(p); break;
    case 8: softmax_warp_kernel<T, Kind, V, 8><<<blocks, kWarpBlock, 0, stream>>>(p); break;
    case 16: softmax_warp_kernel<T, Kind, V, 16><<<blocks, kWarpBlock, 0, stream>>>(p); break;
    default: softmax_warp_kernel<T, Kind, V, 32><<<blocks, kWarpBlock, 0, stream>>>(p); break;
  }
  return launch_status("softmax_warp_kernel");
}

template <class T, SoftmaxKind Kind>
Status launch(const Params<T>& p, SoftmaxPath path, int v, cudaStream_t stream) {
  if (path == SoftmaxPath::kBlock) {
    const unsigned blocks = static_cast<unsigned>(p.rows);
    switch (v) {
      case 8: softmax_block_kernel<T, Kind, 8><<<blocks, kRowBlock, 0, stream>>>(p); break;
      case 2: softmax_block_kernel<T, Kind, 2><<<blocks, kRowBlock, 0, stream>>>(p); break;
      default: softmax_block_kernel<T, Kind, 1><<<blocks, kRowBlock, 0, stream>>>(p); break;
    }
    return launch_status("softmax_block_kernel");
  }
  int per_lane = 1;
  while (per_lane * 32 < p.cols) per_lane *= 2;
  switch (v) {
    case 8: return launch_warp<T, Kind, 8>(p, per_lane, stream);
    case 2: return launch_warp<T, Kind, 2>(p, per_lane, stream);
    default: return launch_warp<T, Kind, 1>(p, per_lane, stream);
  }
}

}  // namespace

template <class T>
Status can_implement(const SoftmaxArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "softmax: only FP16 is instantiated so far");
  if (a.kind != SoftmaxKind::kSoftmax && a.kind != SoftmaxKind::kLogSoftmax)
    return error(StatusCode::kInvalidArgument, "softmax: unknown kind ", static_cast<int>(a.kind));
  if (a.rows <= 0 || a.cols <= 0)
    return error(StatusCode::kInvalidArgument, "softmax: rows and cols must be positive (got ", a.rows, ", ", a.cols, ")");
  if (a.rows > INT32_MAX || a.rows * a.cols > (int64_t{1} << 40))
    return error(StatusCode::kUnsupported, "softmax: tensor too large for one launch");
  if (a.path != SoftmaxPath::kAuto && a.path != SoftmaxPath::kWarp && a.path != SoftmaxPath::kBlock)
    return error(StatusCode::kInvalidArgument, "softmax: unknown path");
  if (a.path == SoftmaxPath::kWarp && a.cols > kWarpMaxCols)
    return error(StatusCode::kUnsupported, "softmax: the warp path takes rows of at most ", kWarpMaxCols, " elements, not ",
                 a.cols);
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "softmax: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}))
    return error(StatusCode::kInvalidArgument, "softmax: pointers must be aligned to their element");
  const auto xb = reinterpret_cast<uintptr_t>(a.x), yb = reinterpret_cast<uintptr_t>(a.y);
  const auto bytes = static_cast<uintptr_t>(a.rows * a.cols) * sizeof(T);
  if (xb != yb && xb < yb + bytes && yb < xb + bytes)
    return error(StatusCode::kInvalidArgument, "softmax: y overlaps x without being exactly it");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "softmax: max_vector must be 1, 2 or 8");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const SoftmaxArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const SoftmaxArgs<T>& a) {
  return vector_width_for(a.max_vector, a.cols, sizeof(T), {a.x, a.y});
}

template <class T>
SoftmaxPath chosen_path(const SoftmaxArgs<T>& a) {
  if (a.path != SoftmaxPath::kAuto) return a.path;
  return a.cols <= kWarpMaxCols ? SoftmaxPath::kWarp : SoftmaxPath::kBlock;
}

template <class T>
Status run(const SoftmaxArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const Params<T> p{a.x, a.y, a.rows, a.cols};
  const SoftmaxPath path = chosen_path(a);
  const int v = vector_width(a);
  return a.kind == SoftmaxKind::kSoftmax ? launch<T, SoftmaxKind::kSoftmax>(p, path, v, stream)
                                         : launch<T, SoftmaxKind::kLogSoftmax>(p, path, v, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const SoftmaxArgs<__half>&);
template size_t workspace_bytes<__half>(const SoftmaxArgs<__half>&);
template int vector_width<__half>(const SoftmaxArgs<__half>&);
template SoftmaxPath chosen_path<__half>(const SoftmaxArgs<__half>&);
template Status run<__half>(const SoftmaxArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::softmax
