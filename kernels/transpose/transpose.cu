// Transpose of up to 6 dims, see transpose.cuh.
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/transpose/transpose.cuh"

namespace quench::kernels::transpose {
namespace {

constexpr int kBlock = 256;
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // block is kTile x kTileRows threads, each moving kTile / kTileRows elements

// ---- host: the merged permutation -------------------------------------------------------------

struct Plan {
  int rank = 0;  // >= 1
  int64_t dims[kMaxDims] = {};  // merged input dims
  int perm[kMaxDims] = {};
  int64_t total = 0;
};

template <class T>
Status make_plan(const TransposeArgs<T>& a, Plan* out) {
  if (a.rank < 1 || a.rank > kMaxDims)
    return error(StatusCode::kInvalidArgument, "transpose: rank ", a.rank, " outside [1, ", kMaxDims, "]");
  bool seen[kMaxDims] = {};
  for (int i = 0; i < a.rank; ++i) {
    const int p = a.perm[i];
    if (p < 0 || p >= a.rank || seen[p])
      return error(StatusCode::kInvalidArgument, "transpose: perm is not a permutation of the ", a.rank, " dims");
    seen[p] = true;
  }
  int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) {
    if (a.dims[d] < 0 || a.dims[d] >= int64_t{kFastDivmodLimit})
      return error(StatusCode::kInvalidArgument, "transpose: dim ", d, " is ", a.dims[d], " (must lie in [0, 2^31))");
    total *= a.dims[d];
    if (total >= int64_t{kFastDivmodLimit}) return error(StatusCode::kUnsupported, "transpose: more than 2^31 elements");
  }
  // Drop size-1 dims: they move nothing.
  int index[kMaxDims], kept = 0;
  int64_t dims[kMaxDims];
  for (int d = 0; d < a.rank; ++d) {
    index[d] = a.dims[d] == 1 ? -1 : kept;
    if (a.dims[d] != 1) dims[kept++] = a.dims[d];
  }
  int perm[kMaxDims], r = 0;
  for (int i = 0; i < a.rank; ++i)
    if (index[a.perm[i]] >= 0) perm[r++] = index[a.perm[i]];
  // Merge input dims that follow each other, in order, in the output too.
  int group_of[kMaxDims];   // input dim -> group
  int first[kMaxDims], groups = 0;  // group -> its first input dim; groups in output order
  for (int i = 0; i < r; ++i) {
    if (i > 0 && perm[i] == perm[i - 1] + 1) {
      group_of[perm[i]] = groups - 1;
    } else {
      first[groups] = perm[i];
      group_of[perm[i]] = groups++;
    }
  }
  // Number the groups in input order.
  int rank_of[kMaxDims];
  for (int g = 0; g < groups; ++g) {
    int before = 0;
    for (int h = 0; h < groups; ++h) before += first[h] < first[g];
    rank_of[g] = before;
  }
  Plan p;
  p.rank = groups > 0 ? groups : 1;
  for (int d = 0; d < kMaxDims; ++d) p.dims[d] = 1;
  for (int d = 0; d < r; ++d) p.dims[rank_of[group_of[d]]] *= dims[d];
  for (int g = 0; g < groups; ++g) p.perm[g] = rank_of[g];
  if (groups == 0) p.perm[0] = 0;
  p.total = total;
  *out = p;
  return Status::ok_status();
}

TransposePath auto_path(const Plan& p) {
  if (p.rank == 1) return TransposePath::kCopy;
  return p.perm[p.rank - 1] == p.rank - 1 ? TransposePath::kRows : TransposePath::kTiled;
}

// ---- device: gather (one vector or element per thread) ----------------------------------------

template <class W>
struct GatherParams {
  const W* x;
  W* y;
  unsigned total;  // vectors
  int rank;
  FastDivmod out_dim[kMaxDims];  // output dims, innermost first (innermost counts vectors)
  int64_t in_stride[kMaxDims];   // input stride (in vectors) of the input dim each output dim is
};

template <class W>
__global__ void __launch_bounds__(kBlock) gather_kernel(const GatherParams<W> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.total) return;
  unsigned rest = i;
  int64_t off = 0;
#pragma unroll
  for (int d = 0; d < kMaxDims; ++d) {
    if (d == p.rank - 1) {
      off += static_cast<int64_t>(rest) * p.in_stride[d];
      break;
    }
    unsigned q, r;
    p.out_dim[d].divmod(rest, q, r);
    off += static_cast<int64_t>(r) * p.in_stride[d];
    rest = q;
  }
  p.y[i] = __ldg(p.x + off);
}

// ---- device: tiled ----------------------------------------------------------------------------

template <class W>
struct TiledParams {
  const W* x;
  W* y;
  int64_t size_a, size_b;  // a: input dim that becomes innermost; b: input's innermost dim
  int64_t in_stride_a, out_stride_b;
  FastDivmod tiles_b, tiles_a;
  int batch_rank;
  FastDivmod batch_dim[kMaxDims];  // innermost first
  int64_t batch_in[kMaxDims], batch_out[kMaxDims];
};

template <class W>
__global__ void __launch_bounds__(kTile * kTileRows) tiled_kernel(const TiledParams<W> p) {
  __shared__ W tile[kTile][kTile + 1];  // +1: the column reads hit distinct banks
  unsigned rest = blockIdx.x, tb, ta;
  p.tiles_b.divmod(rest, rest, tb);
  p.tiles_a.divmod(rest, rest, ta);
  int64_t in_base = 0, out_base = 0;
#pragma unroll
  for (int d = 0; d < kMaxDims - 2; ++d) {  // unrolled: parameters indexed by constants only
    if (d >= p.batch_rank) break;
    unsigned q, r;
    p.batch_dim[d].divmod(rest, q, r);
    in_base += static_cast<int64_t>(r) * p.batch_in[d];
    out_base += static_cast<int64_t>(r) * p.batch_out[d];
    rest = q;
  }
  const int64_t a0 = static_cast<int64_t>(ta) * kTile, b0 = static_cast<int64_t>(tb) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
#pragma unroll
  for (int k = 0; k < kTile; k += kTileRows) {
    const int64_t a = a0 + ty + k, b = b0 + tx;
    if (a < p.size_a && b < p.size_b) tile[ty + k][tx] = __ldg(p.x + in_base + a * p.in_stride_a + b);
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < kTile; k += kTileRows) {
    const int64_t b = b0 + ty + k, a = a0 + tx;
    if (a < p.size_a && b < p.size_b) p.y[out_base + b * p.out_stride_b + a] = tile[tx][ty + k];
  }
}

// ---- host: launchers --------------------------------------------------------------------------

// Input strides (elements) of the merged dims, and output dims/strides in output order.
void strides_of(const Plan& p, int64_t (&in_stride)[kMaxDims], int64_t (&out_dims)[kMaxDims],
                int64_t (&out_stride)[kMaxDims]) {
  int64_t s = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= p.dims[d];
  }
  for (int i = 0; i < p.rank; ++i) out_dims[i] = p.dims[p.perm[i]];
  s = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    out_stride[i] = s;
    s *= out_dims[i];
  }
}

template <class W>
Status launch_gather(const Plan& plan, int v, const void* x, void* y, cudaStream_t stream) {
  int64_t in_stride[kMaxDims], out_dims[kMaxDims], out_stride[kMaxDims];
  strides_of(plan, in_stride, out_dims, out_stride);
  GatherParams<W> p;
  p.x = static_cast<const W*>(x);
  p.y = static_cast<W*>(y);
  p.total = static_cast<unsigned>(plan.total / v);
  p.rank = plan.rank;
  for (int d = 0; d < kMaxDims; ++d) {
    if (d >= plan.rank) {
      p.out_dim[d] = FastDivmod(1);
      p.in_stride[d] = 0;
      continue;
    }
    const int i = plan.rank - 1 - d;  // output position, innermost first
    // With v > 1 the innermost output dim is the innermost input dim (stride 1): count vectors.
    p.out_dim[d] = FastDivmod(static_cast<uint32_t>(d == 0 ? out_dims[i] / v : out_dims[i]));
    p.in_stride[d] = d == 0 ? in_stride[plan.perm[i]] : in_stride[plan.perm[i]] / v;
  }
  gather_kernel<W><<<(p.total + kBlock - 1) / kBlock, kBlock, 0, stream>>>(p);
  return launch_status("transpose gather_kernel");
}

template <class W>
Status launch_tiled(const Plan& plan, const void* x, void* y, cudaStream_t stream) {
  int64_t in_stride[kMaxDims], out_dims[kMaxDims], out_stride[kMaxDims];
  strides_of(plan, in_stride, out_dims, out_stride);
  const int r = plan.rank, dim_a = plan.perm[r - 1], dim_b = r - 1;
  int out_pos[kMaxDims];  // input dim -> output position
  for (int i = 0; i < r; ++i) out_pos[plan.perm[i]] = i;
  TiledParams<W> p;
  p.x = static_cast<const W*>(x);
  p.y = static_cast<W*>(y);
  p.size_a = plan.dims[dim_a];
  p.size_b = plan.dims[dim_b];
  p.in_stride_a = in_stride[dim_a];
  p.out_stride_b = out_stride[out_pos[dim_b]];
  const int64_t tiles_a = (p.size_a + kTile - 1) / kTile, tiles_b = (p.size_b + kTile - 1) / kTile;
  p.tiles_a = FastDivmod(static_cast<uint32_t>(tiles_a));
  p.tiles_b = FastDivmod(static_cast<uint32_t>(tiles_b));
  p.batch_rank = 0;
  int64_t blocks = tiles_a * tiles_b;
  for (int d = r - 1; d >= 0; --d) {  // innermost first
    if (d == dim_a || d == dim_b) continue;
    const int k = p.batch_rank++;
    p.batch_dim[k] = FastDivmod(static_cast<uint32_t>(plan.dims[d]));
    p.batch_in[k] = in_stride[d];
    p.batch_out[k] = out_stride[out_pos[d]];
    blocks *= plan.dims[d];
  }
  for (int k = p.batch_rank; k < kMaxDims; ++k) {
    p.batch_dim[k] = FastDivmod(1);
    p.batch_in[k] = p.batch_out[k] = 0;
  }
  if (blocks >= int64_t{kFastDivmodLimit}) return error(StatusCode::kUnsupported, "transpose: too many tiles");
  tiled_kernel<W><<<static_cast<unsigned>(blocks), dim3(kTile, kTileRows), 0, stream>>>(p);
  return launch_status("transpose tiled_kernel");
}

template <class T>
int rows_width(const TransposeArgs<T>& a, const Plan& p) {
  const int64_t inner = p.dims[p.rank - 1];
  for (int v = 16 / static_cast<int>(sizeof(T)); v > 1; v /= 2)
    if (v <= a.max_vector && inner % v == 0 && all_aligned(v * sizeof(T), {a.x, a.y})) return v;
  return 1;
}

template <class T>
Status dispatch_gather(const Plan& plan, int v, const TransposeArgs<T>& a, cudaStream_t stream) {
  switch (v * static_cast<int>(sizeof(T))) {
    case 16: return launch_gather<uint4>(plan, v, a.x, a.y, stream);
    case 8: return launch_gather<uint2>(plan, v, a.x, a.y, stream);
    case 4: return launch_gather<uint32_t>(plan, v, a.x, a.y, stream);
    default: return launch_gather<uint16_t>(plan, v, a.x, a.y, stream);
  }
}

}  // namespace

template <class T>
Status can_implement(const TransposeArgs<T>& a) {
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, float>, "transpose: FP16 and FP32 are instantiated");
  Plan plan;
  QUENCH_TRY(make_plan(a, &plan));
  if (a.max_vector < 1) return error(StatusCode::kInvalidArgument, "transpose: max_vector must be positive");
  const TransposePath natural = auto_path(plan);
  switch (a.path) {
    case TransposePath::kAuto:
    case TransposePath::kGather:
      break;
    case TransposePath::kCopy:
    case TransposePath::kRows:
    case TransposePath::kTiled:
      if (a.path != natural && !(a.path == TransposePath::kRows && natural == TransposePath::kCopy))
        return error(StatusCode::kUnsupported, "transpose: the requested path does not fit this permutation");
      break;
    default: return error(StatusCode::kInvalidArgument, "transpose: unknown path");
  }
  if (plan.total == 0) return Status::ok_status();
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "transpose: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}))
    return error(StatusCode::kInvalidArgument, "transpose: pointers must be aligned to their element");
  const auto xb = reinterpret_cast<uintptr_t>(a.x), yb = reinterpret_cast<uintptr_t>(a.y);
  const auto bytes = static_cast<uintptr_t>(plan.total) * sizeof(T);
  if (xb < yb + bytes && yb < xb + bytes) return error(StatusCode::kInvalidArgument, "transpose: y overlaps x");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const TransposeArgs<T>&) {
  return 0;
}

template <class T>
TransposePath chosen_path(const TransposeArgs<T>& a) {
  Plan plan;
  if (!make_plan(a, &plan).ok()) return TransposePath::kAuto;
  return a.path == TransposePath::kAuto ? auto_path(plan) : a.path;
}

template <class T>
int merged_rank(const TransposeArgs<T>& a) {
  Plan plan;
  return make_plan(a, &plan).ok() ? plan.rank : 0;
}

template <class T>
Status run(const TransposeArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Plan plan;
  QUENCH_TRY(make_plan(a, &plan));
  if (plan.total == 0) return Status::ok_status();
  switch (chosen_path(a)) {
    case TransposePath::kCopy:
      return cuda_status(cudaMemcpyAsync(a.y, a.x, static_cast<size_t>(plan.total) * sizeof(T), cudaMemcpyDeviceToDevice, stream),
                         "transpose: cudaMemcpyAsync");
    case TransposePath::kRows: return dispatch_gather(plan, rows_width(a, plan), a, stream);
    case TransposePath::kTiled:
      return sizeof(T) == 2 ? launch_tiled<uint16_t>(plan, a.x, a.y, stream) : launch_tiled<uint32_t>(plan, a.x, a.y, stream);
    default: return dispatch_gather(plan, 1, a, stream);
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const TransposeArgs<__half>&);
template Status can_implement<float>(const TransposeArgs<float>&);
template size_t workspace_bytes<__half>(const TransposeArgs<__half>&);
template size_t workspace_bytes<float>(const TransposeArgs<float>&);
template TransposePath chosen_path<__half>(const TransposeArgs<__half>&);
template TransposePath chosen_path<float>(const TransposeArgs<float>&);
template int merged_rank<__half>(const TransposeArgs<__half>&);
template int merged_rank<float>(const TransposeArgs<float>&);
template Status run<__half>(const TransposeArgs<__half>&, void*, cudaStream_t);
template Status run<float>(const TransposeArgs<float>&, void*, cudaStream_t);

}  // namespace quench::kernels::transpose
