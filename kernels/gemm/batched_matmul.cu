#include "kernels/gemm/batched_matmul.cuh"

#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/vector_io.cuh"

namespace quench::kernels::batched_matmul {
namespace {

constexpr int kTile = 16;
constexpr int64_t kGridLimit = 65535;  // grid y (row tiles) and z (batch entries)

// One thread per output element of a kTile x kTile tile; K in steps of kTile through shared
// memory (the +1 column keeps the column reads of `bs` off a single bank).
template <class T>
__global__ void __launch_bounds__(kTile * kTile) batched_matmul_kernel(const BatchedMatMulArgs<T> p) {
  __shared__ float as[kTile][kTile + 1], bs[kTile][kTile + 1];
  const int64_t entry = blockIdx.z;
  const T* a = p.a + entry * p.stride_a;
  const T* b = p.b + entry * p.stride_b;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = static_cast<int64_t>(blockIdx.y) * kTile + ty, col = static_cast<int64_t>(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < p.k; k0 += kTile) {
    const int64_t ka = k0 + tx, kb = k0 + ty;
    as[ty][tx] = row < p.m && ka < p.k ? __half2float(a[row * p.k + ka]) : 0.0f;
    bs[ty][tx] = kb < p.k && col < p.n ? __half2float(b[kb * p.n + col]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc = fmaf(as[ty][kk], bs[kk][tx], acc);
    __syncthreads();
  }
  if (row < p.m && col < p.n) p.c[(entry * p.m + row) * p.n + col] = __float2half_rn(acc);
}

int64_t tiles(int64_t x) { return (x + kTile - 1) / kTile; }

}  // namespace

template <class T>
Status can_implement(const BatchedMatMulArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "batched_matmul: only FP16 is instantiated");
  if (a.batch <= 0 || a.m <= 0 || a.n <= 0 || a.k <= 0)
    return error(StatusCode::kInvalidArgument, "batched_matmul: batch, m, n, k must be positive (got ", a.batch, ", ",
                 a.m, ", ", a.n, ", ", a.k, ")");
  if (a.stride_a < 0 || a.stride_b < 0 || (a.stride_a != 0 && a.stride_a < a.m * a.k) ||
      (a.stride_b != 0 && a.stride_b < a.k * a.n))
    return error(StatusCode::kInvalidArgument, "batched_matmul: a batch stride is negative or smaller than its matrix");
  if (!a.a || !a.b || !a.c) return error(StatusCode::kInvalidArgument, "batched_matmul: a, b and c must be non-null");
  if (!all_aligned(sizeof(T), {a.a, a.b, a.c}))
    return error(StatusCode::kInvalidArgument, "batched_matmul: pointers must be aligned to their element");
  if (tiles(a.m) > kGridLimit || a.batch > kGridLimit || tiles(a.n) > INT32_MAX)
    return error(StatusCode::kUnsupported, "batched_matmul: ", a.batch, " products of ", a.m, " x ", a.n,
                 " exceed the launch limits (65535 row tiles of 16, 65535 batch entries)");
  const size_t c_bytes = static_cast<size_t>(a.batch * a.m * a.n) * sizeof(T);
  const size_t a_bytes = static_cast<size_t>((a.stride_a ? a.batch - 1 : 0) * a.stride_a + a.m * a.k) * sizeof(T);
  const size_t b_bytes = static_cast<size_t>((a.stride_b ? a.batch - 1 : 0) * a.stride_b + a.k * a.n) * sizeof(T);
  if (ranges_overlap(a.a, a_bytes, a.c, c_bytes) || ranges_overlap(a.b, b_bytes, a.c, c_bytes))
    return error(StatusCode::kInvalidArgument, "batched_matmul: c overlaps an operand");
  return Status::ok_status();
}

template <class T>
Status run(const BatchedMatMulArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const dim3 grid(static_cast<unsigned>(tiles(a.n)), static_cast<unsigned>(tiles(a.m)), static_cast<unsigned>(a.batch));
  batched_matmul_kernel<T><<<grid, dim3(kTile, kTile), 0, stream>>>(a);
  return launch_status("batched_matmul_kernel");
}

template Status can_implement<__half>(const BatchedMatMulArgs<__half>&);
template Status run<__half>(const BatchedMatMulArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::batched_matmul
