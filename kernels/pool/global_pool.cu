// Global max / average pooling over H*W on NHWC, see pool.cuh.
//
// A block of kBlock threads is a (lanes x rows) grid: `lanes` consecutive channel vectors of one
// image (so each row of a warp is one contiguous read), `rows` threads splitting the H*W
// positions among them. Each thread reduces its positions in FP32 registers; the rows are then
// combined by a tree in shared memory. lanes = min(32, channel vectors rounded up to a power of
// two), so that narrow tensors still keep all threads busy on the positions.
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/pool/pool.cuh"

namespace quench::kernels::pool {
namespace {

constexpr int kBlock = 256;

template <class T>
struct GlobalParams {
  const T* x;
  T* y;
  int64_t hw;
  int c, vecs;        // channels, channel vectors
  int chunks;         // blocks per image: ceil(vecs / lanes)
};

template <class T, PoolKind Kind, int V>
__global__ void __launch_bounds__(kBlock) global_pool_kernel(const GlobalParams<T> p) {
  using IO = VecIO<T, V>;
  __shared__ float partial[kBlock * V];
  const int lanes = blockDim.x, rows = blockDim.y;
  const int lane = threadIdx.x, row = threadIdx.y;
  const int n = blockIdx.x / p.chunks;
  const int cv = (blockIdx.x % p.chunks) * lanes + lane;
  const bool active = cv < p.vecs;
  float acc[V];
#pragma unroll
  for (int v = 0; v < V; ++v) acc[v] = Kind == PoolKind::kMax ? -INFINITY : 0.0f;
  if (active) {
    const T* base = p.x + static_cast<int64_t>(n) * p.hw * p.c + static_cast<int64_t>(cv) * V;
    for (int64_t i = row; i < p.hw; i += rows) {
      float xv[V];
      IO::load_ro(base + i * p.c, xv);
#pragma unroll
      for (int v = 0; v < V; ++v) acc[v] = Kind == PoolKind::kMax ? fmaxf(acc[v], xv[v]) : acc[v] + xv[v];
    }
  }
  // Tree over the rows, in shared memory laid out [v][row][lane] (lanes on distinct banks).
  const int plane = rows * lanes;
  float* mine = partial + row * lanes + lane;
#pragma unroll
  for (int v = 0; v < V; ++v) mine[v * plane] = acc[v];
  __syncthreads();
  for (int half = rows / 2; half > 0; half /= 2) {
    if (row < half) {
      const float* other = mine + half * lanes;
#pragma unroll
      for (int v = 0; v < V; ++v) {
        acc[v] = Kind == PoolKind::kMax ? fmaxf(acc[v], other[v * plane]) : acc[v] + other[v * plane];
        mine[v * plane] = acc[v];
      }
    }
    __syncthreads();
  }
  if (row == 0 && active) {
    if constexpr (Kind == PoolKind::kAverage) {
      const float count = static_cast<float>(p.hw);
#pragma unroll
      for (int v = 0; v < V; ++v) acc[v] = __fdiv_rn(acc[v], count);
    }
    IO::store(p.y + static_cast<int64_t>(n) * p.c + static_cast<int64_t>(cv) * V, acc);
  }
}

template <class T, PoolKind Kind>
Status launch(const GlobalParams<T>& p, int64_t n, int lanes, int v, cudaStream_t stream) {
  const dim3 block(lanes, kBlock / lanes);
  const unsigned blocks = static_cast<unsigned>(n * p.chunks);
  switch (v) {
    case 8: global_pool_kernel<T, Kind, 8><<<blocks, block, 0, stream>>>(p); break;
    case 2: global_pool_kernel<T, Kind, 2><<<blocks, block, 0, stream>>>(p); break;
    default: global_pool_kernel<T, Kind, 1><<<blocks, block, 0, stream>>>(p); break;
  }
  return launch_status("global_pool_kernel");
}

}  // namespace

template <class T>
Status can_implement(const GlobalPoolArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "pool: only FP16 is instantiated so far");
  if (a.kind != PoolKind::kMax && a.kind != PoolKind::kAverage)
    return error(StatusCode::kInvalidArgument, "global pool: unknown kind ", static_cast<int>(a.kind));
  if (a.n <= 0 || a.hw <= 0 || a.c <= 0)
    return error(StatusCode::kInvalidArgument, "global pool: N, H*W, C must be positive (got ", a.n, ", ", a.hw, ", ", a.c, ")");
  if (a.c > (int64_t{1} << 24) || a.n * a.c > (int64_t{1} << 30) || a.n * a.hw * a.c > (int64_t{1} << 40))
    return error(StatusCode::kUnsupported, "global pool: tensor too large");
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "global pool: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}))
    return error(StatusCode::kInvalidArgument, "global pool: pointers must be aligned to their element");
  if (ranges_overlap(a.x, static_cast<size_t>(a.n * a.hw * a.c) * sizeof(T), a.y, static_cast<size_t>(a.n * a.c) * sizeof(T)))
    return error(StatusCode::kInvalidArgument, "global pool: y overlaps x");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "global pool: max_vector must be 1, 2 or 8");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const GlobalPoolArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const GlobalPoolArgs<T>& a) {
  return vector_width_for(a.max_vector, a.c, sizeof(T), {a.x, a.y});
}

template <class T>
Status run(const GlobalPoolArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const int v = vector_width(a);
  GlobalParams<T> p;
  p.x = a.x;
  p.y = a.y;
  p.hw = a.hw;
  p.c = static_cast<int>(a.c);
  p.vecs = static_cast<int>(a.c / v);
  int lanes = 1;
  while (lanes < 32 && lanes < p.vecs) lanes *= 2;
  p.chunks = (p.vecs + lanes - 1) / lanes;
  if (a.n * p.chunks > INT32_MAX) return error(StatusCode::kUnsupported, "global pool: too many blocks");
  return a.kind == PoolKind::kMax ? launch<T, PoolKind::kMax>(p, a.n, lanes, v, stream)
                                  : launch<T, PoolKind::kAverage>(p, a.n, lanes, v, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const GlobalPoolArgs<__half>&);
template size_t workspace_bytes<__half>(const GlobalPoolArgs<__half>&);
template int vector_width<__half>(const GlobalPoolArgs<__half>&);
template Status run<__half>(const GlobalPoolArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::pool
