// Sum / mean / max / min reductions over any axes, see reduce.cuh.
//
// After merging, the dims alternate between kept and reduced, so at most kMaxMerged of each
// remain. An output's base offset comes from its index over the kept dims, a reduced element's
// offset from its index over the reduced dims (FastDivmod chains, innermost first; 32-bit: the
// launcher keeps every tensor below 2^31 elements).
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/reduce/reduce.cuh"

namespace quench::kernels::reduce {
namespace {

constexpr int kBlock = 256;
constexpr int kWarp = 32;
constexpr int kMaxMerged = (kMaxDims + 1) / 2;

// The merged view of the arguments: kept and reduced dims, innermost first, with their strides
// in x.
struct Merged {
  int nk = 0, nr = 0;
  int64_t kd[kMaxMerged] = {}, ks[kMaxMerged] = {};
  int64_t rd[kMaxMerged] = {}, rs[kMaxMerged] = {};
  int64_t outputs = 1, red_count = 1, x_count = 1;
  bool rows = false;  // the innermost merged dim is reduced
};

template <class T>
Merged merge(const ReduceArgs<T>& a) {
  // Outermost first: drop size-1 dims, merge neighbours with the same flag.
  int64_t size[kMaxDims];
  bool red[kMaxDims];
  int m = 0;
  for (int d = 0; d < a.rank; ++d) {
    const bool r = (a.reduced >> d) & 1u;
    if (a.dims[d] == 1) continue;
    if (m > 0 && red[m - 1] == r && a.dims[d] != 0 && size[m - 1] != 0) {
      size[m - 1] *= a.dims[d];
    } else {
      size[m] = a.dims[d];
      red[m++] = r;
    }
  }
  Merged g;
  int64_t stride = 1;
  for (int d = m - 1; d >= 0; --d) {  // innermost first
    if (red[d]) {
      if (g.nr < kMaxMerged) {
        g.rd[g.nr] = size[d];
        g.rs[g.nr] = stride;
      }
      ++g.nr;
      g.red_count *= size[d];
    } else {
      if (g.nk < kMaxMerged) {
        g.kd[g.nk] = size[d];
        g.ks[g.nk] = stride;
      }
      ++g.nk;
      g.outputs *= size[d];
    }
    stride *= size[d];
  }
  g.x_count = stride;
  g.rows = m > 0 && red[m - 1];
  return g;
}

template <class T>
struct Params {
  const T* x;
  T* y;
  unsigned outputs, red_count;
  int nk, nr;
  FastDivmod kd[kMaxMerged], rd[kMaxMerged];  // innermost first
  unsigned ks[kMaxMerged], rs[kMaxMerged];
};

// Offset in x of index `i` over `n` dims (innermost first); the outermost takes what is left.
__device__ __forceinline__ unsigned offset_of(unsigned i, const FastDivmod (&dim)[kMaxMerged],
                                              const unsigned (&stride)[kMaxMerged], int n) {
  unsigned off = 0;
#pragma unroll
  for (int d = 0; d < kMaxMerged; ++d) {
    if (d >= n) break;
    if (d == n - 1) {
      off += i * stride[d];
      break;
    }
    unsigned q, r;
    dim[d].divmod(i, q, r);
    off += r * stride[d];
    i = q;
  }
  return off;
}

template <ReduceKind K>
__device__ __forceinline__ float identity() {
  if constexpr (K == ReduceKind::kMax) return -INFINITY;
  if constexpr (K == ReduceKind::kMin) return INFINITY;
  return 0.0f;
}

// NaN propagates through max and min: once acc is NaN no comparison replaces it.
template <ReduceKind K>
__device__ __forceinline__ float combine(float acc, float v) {
  if constexpr (K == ReduceKind::kMax) return (v > acc || v != v) ? v : acc;
  if constexpr (K == ReduceKind::kMin) return (v < acc || v != v) ? v : acc;
  return acc + v;
}

template <ReduceKind K>
__device__ __forceinline__ float finish(float acc, unsigned count) {
  if constexpr (K == ReduceKind::kMean) return __fdiv_rn(acc, static_cast<float>(count));  // 0/0 = NaN
  return acc;
}

template <class T, ReduceKind K>
__global__ void __launch_bounds__(kBlock) reduce_rows_kernel(const Params<T> p) {
  const unsigned out = (blockIdx.x * kBlock + threadIdx.x) / kWarp, lane = threadIdx.x % kWarp;
  if (out >= p.outputs) return;  // uniform across the warp: every lane has the same output
  const T* x = p.x + offset_of(out, p.kd, p.ks, p.nk);
  float acc = identity<K>();
  if (p.nr == 1) {
    for (unsigned j = lane; j < p.red_count; j += kWarp) acc = combine<K>(acc, to_float(x[j * p.rs[0]]));
  } else {
    for (unsigned j = lane; j < p.red_count; j += kWarp) acc = combine<K>(acc, to_float(x[offset_of(j, p.rd, p.rs, p.nr)]));
  }
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) acc = combine<K>(acc, __shfl_xor_sync(0xffffffffu, acc, o));
  if (lane == 0) p.y[out] = from_float<T>(finish<K>(acc, p.red_count));
}

template <class T, ReduceKind K>
__global__ void __launch_bounds__(kBlock) reduce_columns_kernel(const Params<T> p) {
  const unsigned out = blockIdx.x * kBlock + threadIdx.x;
  if (out >= p.outputs) return;
  const T* x = p.x + offset_of(out, p.kd, p.ks, p.nk);
  float acc = identity<K>();
  if (p.nr <= 1) {
    const unsigned s = p.nr == 1 ? p.rs[0] : 0;
    for (unsigned j = 0; j < p.red_count; ++j) acc = combine<K>(acc, to_float(x[j * s]));
  } else {
    for (unsigned j = 0; j < p.red_count; ++j) acc = combine<K>(acc, to_float(x[offset_of(j, p.rd, p.rs, p.nr)]));
  }
  p.y[out] = from_float<T>(finish<K>(acc, p.red_count));
}

template <class T, ReduceKind K>
Status launch(const Params<T>& p, bool rows, cudaStream_t stream) {
  if (rows) {
    const unsigned blocks = static_cast<unsigned>((static_cast<uint64_t>(p.outputs) * kWarp + kBlock - 1) / kBlock);
    reduce_rows_kernel<T, K><<<blocks, kBlock, 0, stream>>>(p);
    return launch_status("reduce_rows_kernel");
  }
  reduce_columns_kernel<T, K><<<(p.outputs + kBlock - 1) / kBlock, kBlock, 0, stream>>>(p);
  return launch_status("reduce_columns_kernel");
}

}  // namespace

const char* reduce_kind_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::kSum: return "sum";
    case ReduceKind::kMean: return "mean";
    case ReduceKind::kMax: return "max";
    case ReduceKind::kMin: return "min";
  }
  return "unknown";
}

template <class T>
int64_t output_count(const ReduceArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.rank && d < kMaxDims; ++d)
    if (!((a.reduced >> d) & 1u)) n *= a.dims[d];
  return n;
}

template <class T>
Status can_implement(const ReduceArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "reduce: only FP16 is instantiated so far");
  if (a.kind != ReduceKind::kSum && a.kind != ReduceKind::kMean && a.kind != ReduceKind::kMax && a.kind != ReduceKind::kMin)
    return error(StatusCode::kInvalidArgument, "reduce: unknown kind ", static_cast<int>(a.kind));
  if (a.rank < 0 || a.rank > kMaxDims)
    return error(StatusCode::kUnsupported, "reduce: rank ", a.rank, " (at most ", kMaxDims, ")");
  if (a.rank < 32 && (a.reduced >> a.rank) != 0)
    return error(StatusCode::kInvalidArgument, "reduce: reduced-axis bits beyond rank ", a.rank);
  int64_t count = 1;
  for (int d = 0; d < a.rank; ++d) {
    if (a.dims[d] < 0) return error(StatusCode::kInvalidArgument, "reduce: negative dim ", a.dims[d]);
    if (a.dims[d] >= int64_t{kFastDivmodLimit})
      return error(StatusCode::kUnsupported, "reduce: input too large for one launch (2^31 elements)");
    count *= a.dims[d];
    if (count >= int64_t{kFastDivmodLimit})
      return error(StatusCode::kUnsupported, "reduce: input too large for one launch (2^31 elements)");
  }
  const int64_t outputs = output_count(a);
  if (outputs * kWarp >= int64_t{kFastDivmodLimit})
    return error(StatusCode::kUnsupported, "reduce: ", outputs, " outputs exceed one launch");
  if (outputs == 0) return Status::ok_status();
  if (!a.y || (count > 0 && !a.x)) return error(StatusCode::kInvalidArgument, "reduce: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y})) return error(StatusCode::kInvalidArgument, "reduce: pointers must be aligned to their element");
  if (count > 0 && ranges_overlap(a.x, static_cast<size_t>(count) * sizeof(T), a.y, static_cast<size_t>(outputs) * sizeof(T)))
    return error(StatusCode::kInvalidArgument, "reduce: y overlaps x");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const ReduceArgs<T>&) {
  return 0;
}

template <class T>
bool uses_rows(const ReduceArgs<T>& a) {
  return merge(a).rows;
}

template <class T>
Status run(const ReduceArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const Merged g = merge(a);
  if (g.outputs == 0) return Status::ok_status();
  if (g.nk > kMaxMerged || g.nr > kMaxMerged)
    return error(StatusCode::kInternal, "reduce: more merged dims than the kernel holds");
  Params<T> p;
  p.x = a.x;
  p.y = a.y;
  p.outputs = static_cast<unsigned>(g.outputs);
  p.red_count = static_cast<unsigned>(g.red_count);
  p.nk = g.nk;
  p.nr = g.nr;
  for (int d = 0; d < kMaxMerged; ++d) {
    // Unused entries keep divisor 1 and stride 0; a size-0 reduced dim leaves no index to divide.
    p.kd[d] = FastDivmod(d < g.nk && g.kd[d] > 0 ? static_cast<uint32_t>(g.kd[d]) : 1u);
    p.rd[d] = FastDivmod(d < g.nr && g.rd[d] > 0 ? static_cast<uint32_t>(g.rd[d]) : 1u);
    p.ks[d] = d < g.nk ? static_cast<unsigned>(g.ks[d]) : 0u;
    p.rs[d] = d < g.nr ? static_cast<unsigned>(g.rs[d]) : 0u;
  }
  switch (a.kind) {
    case ReduceKind::kSum: return launch<T, ReduceKind::kSum>(p, g.rows, stream);
    case ReduceKind::kMean: return launch<T, ReduceKind::kMean>(p, g.rows, stream);
    case ReduceKind::kMax: return launch<T, ReduceKind::kMax>(p, g.rows, stream);
    case ReduceKind::kMin: return launch<T, ReduceKind::kMin>(p, g.rows, stream);
  }
  return error(StatusCode::kInvalidArgument, "reduce: unknown kind");
}

// ---- instances ------------------------------------------------------------------------------
template int64_t output_count<__half>(const ReduceArgs<__half>&);
template Status can_implement<__half>(const ReduceArgs<__half>&);
template size_t workspace_bytes<__half>(const ReduceArgs<__half>&);
template bool uses_rows<__half>(const ReduceArgs<__half>&);
template Status run<__half>(const ReduceArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::reduce
