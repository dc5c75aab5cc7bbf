// Max and average window pooling on NHWC, see pool.cuh.
//
// One thread per output pixel and channel vector; consecutive threads take consecutive channel
// vectors of one pixel, so each window tap is one contiguous read per warp. The window is first
// clipped to the input (as the CPU reference does), so the tap loop has no bounds tests. Windows
// of neighbouring outputs overlap; their shared input comes from L1/L2, and the kernel is bound by
// one read of x and one write of y.
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

struct Axis {
  int in, k, s, d, pad_begin, pad_end;
};

template <class T>
struct Params {
  const T* x;
  T* y;
  unsigned total;  // threads: n * out_h * out_w * (c / V)
  FastDivmod vecs, ow, oh;  // c / V, out_w, out_h
  int c;
  Axis ah, aw;
  bool count_include_pad;
};

// Kernel taps [lo, hi) of the window at `start` that fall inside the input, and (for
// count_include_pad) `padded`, how many fall inside the padded input (start >= -pad_begin, so
// only the end can cut). Counted by stepping rather than dividing: an integer division is a
// subroutine call whose register saves ptxas reports as spills, and windows are small.
__device__ __forceinline__ void clip(const Axis& a, int start, int& lo, int& hi, int& padded) {
  lo = 0;
  while (lo < a.k && start + lo * a.d < 0) ++lo;
  hi = lo;
  while (hi < a.k && start + hi * a.d < a.in) ++hi;
  padded = hi;
  while (padded < a.k && start + padded * a.d < a.in + a.pad_end) ++padded;
}

template <class T, PoolKind Kind, int V>
__global__ void __launch_bounds__(kBlock) pool_kernel(const Params<T> p) {
  using IO = VecIO<T, V>;
  const unsigned idx = blockIdx.x * kBlock + threadIdx.x;
  if (idx >= p.total) return;
  unsigned rest, cv, ow, oh;
  p.vecs.divmod(idx, rest, cv);
  p.ow.divmod(rest, rest, ow);
  p.oh.divmod(rest, rest, oh);
  const unsigned n = rest;
  const int h0 = static_cast<int>(oh) * p.ah.s - p.ah.pad_begin;
  const int w0 = static_cast<int>(ow) * p.aw.s - p.aw.pad_begin;
  int ilo, ihi, ipad, jlo, jhi, jpad;
  clip(p.ah, h0, ilo, ihi, ipad);
  clip(p.aw, w0, jlo, jhi, jpad);
  const int c0 = static_cast<int>(cv) * V;
  const T* image = p.x + static_cast<int64_t>(n) * p.ah.in * p.aw.in * p.c + c0;

  float acc[V];
#pragma unroll
  for (int v = 0; v < V; ++v) acc[v] = Kind == PoolKind::kMax ? -INFINITY : 0.0f;
  for (int i = ilo; i < ihi; ++i) {
    const T* row = image + static_cast<int64_t>(h0 + i * p.ah.d) * p.aw.in * p.c;
    for (int j = jlo; j < jhi; ++j) {
      float xv[V];
      IO::load_ro(row + static_cast<int64_t>(w0 + j * p.aw.d) * p.c, xv);
#pragma unroll
      for (int v = 0; v < V; ++v) {
        if constexpr (Kind == PoolKind::kMax) {
          acc[v] = fmaxf(acc[v], xv[v]);
        } else {
          acc[v] += xv[v];
        }
      }
    }
  }
  if constexpr (Kind == PoolKind::kAverage) {
    const int inside = max(0, ihi - ilo) * max(0, jhi - jlo);
    const float count = static_cast<float>(p.count_include_pad ? ipad * jpad : inside);
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = __fdiv_rn(acc[v], count);  // 0/0 = NaN for an empty window
  }
  const int64_t out = ((static_cast<int64_t>(n) * p.oh.divisor + oh) * p.ow.divisor + ow) * p.c + c0;
  IO::store(p.y + out, acc);
}

template <class T, PoolKind Kind>
Status launch(const Params<T>& p, int v, cudaStream_t stream) {
  const unsigned blocks = (p.total + kBlock - 1) / kBlock;
  switch (v) {
    case 8: pool_kernel<T, Kind, 8><<<blocks, kBlock, 0, stream>>>(p); break;
    case 2: pool_kernel<T, Kind, 2><<<blocks, kBlock, 0, stream>>>(p); break;
    default: pool_kernel<T, Kind, 1><<<blocks, kBlock, 0, stream>>>(p); break;
  }
  return launch_status("pool_kernel");
}

}  // namespace

template <class T>
Status can_implement(const PoolArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "pool: only FP16 is instantiated so far");
  if (a.kind != PoolKind::kMax && a.kind != PoolKind::kAverage)
    return error(StatusCode::kInvalidArgument, "pool: unknown kind ", static_cast<int>(a.kind));
  if (a.n <= 0 || a.h <= 0 || a.w <= 0 || a.c <= 0 || a.out_h <= 0 || a.out_w <= 0)
    return error(StatusCode::kInvalidArgument, "pool: N, H, W, C, out_h, out_w must be positive (got ", a.n, ", ", a.h,
                 ", ", a.w, ", ", a.c, ", ", a.out_h, ", ", a.out_w, ")");
  if (a.kernel_h <= 0 || a.kernel_w <= 0 || a.stride_h <= 0 || a.stride_w <= 0 || a.dilation_h <= 0 || a.dilation_w <= 0)
    return error(StatusCode::kInvalidArgument, "pool: kernel, stride and dilation must be positive");
  if (a.pad_top < 0 || a.pad_left < 0 || a.pad_bottom < 0 || a.pad_right < 0)
    return error(StatusCode::kInvalidArgument, "pool: negative padding");
  // 32-bit index arithmetic in the kernel: every coordinate and product below 2^31.
  constexpr int64_t kLimit = int64_t{1} << 24;
  if (a.h > kLimit || a.w > kLimit || a.c > kLimit || a.out_h > kLimit || a.out_w > kLimit || a.kernel_h > 4096 ||
      a.kernel_w > 4096 || a.stride_h > 4096 || a.stride_w > 4096 || a.dilation_h > 4096 || a.dilation_w > 4096 ||
      a.pad_top > 4096 || a.pad_left > 4096 || a.pad_bottom > 4096 || a.pad_right > 4096)
    return error(StatusCode::kUnsupported, "pool: dims, kernel, stride, dilation or pads too large");
  if (a.n * a.out_h * a.out_w * a.c >= int64_t{kFastDivmodLimit} - kBlock)
    return error(StatusCode::kUnsupported, "pool: output too large for one launch (2^31 elements)");
  // Every window must start inside the padded input (ceil_mode's extra window included).
  if ((a.out_h - 1) * a.stride_h - a.pad_top >= a.h + a.pad_bottom ||
      (a.out_w - 1) * a.stride_w - a.pad_left >= a.w + a.pad_right)
    return error(StatusCode::kShapeError, "pool: output ", a.out_h, "x", a.out_w, " has windows starting past the padded ",
                 a.h, "x", a.w, " input");
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "pool: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y})) return error(StatusCode::kInvalidArgument, "pool: pointers must be aligned to their element");
  if (ranges_overlap(a.x, static_cast<size_t>(a.n * a.h * a.w * a.c) * sizeof(T), a.y,
                     static_cast<size_t>(a.n * a.out_h * a.out_w * a.c) * sizeof(T)))
    return error(StatusCode::kInvalidArgument, "pool: y overlaps x");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "pool: max_vector must be 1, 2 or 8");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const PoolArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const PoolArgs<T>& a) {
  return vector_width_for(a.max_vector, a.c, sizeof(T), {a.x, a.y});
}

template <class T>
Status run(const PoolArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const int v = vector_width(a);
  Params<T> p;
  p.x = a.x;
  p.y = a.y;
  p.total = static_cast<unsigned>(a.n * a.out_h * a.out_w * (a.c / v));
  p.vecs = FastDivmod(static_cast<uint32_t>(a.c / v));
  p.ow = FastDivmod(static_cast<uint32_t>(a.out_w));
  p.oh = FastDivmod(static_cast<uint32_t>(a.out_h));
  p.c = static_cast<int>(a.c);
  p.ah = Axis{static_cast<int>(a.h), a.kernel_h, a.stride_h, a.dilation_h, a.pad_top, a.pad_bottom};
  p.aw = Axis{static_cast<int>(a.w), a.kernel_w, a.stride_w, a.dilation_w, a.pad_left, a.pad_right};
  p.count_include_pad = a.count_include_pad;
  return a.kind == PoolKind::kMax ? launch<T, PoolKind::kMax>(p, v, stream) : launch<T, PoolKind::kAverage>(p, v, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const PoolArgs<__half>&);
template size_t workspace_bytes<__half>(const PoolArgs<__half>&);
template int vector_width<__half>(const PoolArgs<__half>&);
template Status run<__half>(const PoolArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::pool
