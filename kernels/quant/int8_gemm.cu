// INT8 tensor-core GEMM, see int8_gemm.cuh.
//
// One block computes a BM x BN tile of y: the FP16 GEMM's loader (kernels/gemm/gemm_loader.cuh)
// and main loop (kernels/common/mma_pipeline.cuh) instantiated for int8_t, whose m16n8k32
// fragments sit in the same bytes as FP16's m16n8k16 ones. The K bound of the loader is
// packed_k(K): chunks past it are zero-filled; the bytes of X between K and packed_k(K) meet the
// packed weight's zeros. After the main loop (and the split-K reduction, in INT32: exact), the
// INT32 tile is staged through shared memory and each thread finishes one group of 8 columns
// through the INT8 epilogue (kernels/quant/int8_store.cuh).
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/mma_pipeline.cuh"
#include "kernels/common/split_k.cuh"
#include "kernels/gemm/gemm_loader.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "kernels/quant/int8_store.cuh"

namespace quench::kernels::int8::gemm {
namespace {

using split_k::auto_splits;
using split_k::ceil_div;
using split_k::normalize_splits;
using split_k::WorkspaceLayout;

// In bytes, the FP16 GEMM's three shapes (kernels/common/mma_pipeline.cuh: Cfg128x128 ...).
using Cfg128x128 = mma::TileConfig<128, 128, 128, 64, 32, 3, 2, 1>;
using Cfg128x64 = mma::TileConfig<128, 64, 128, 32, 32, 3, 2, 1>;
using Cfg64x64 = mma::TileConfig<64, 64, 128, 32, 32, 4, 3, 1>;

template <class Out>
struct Params {
  int m, n, kpad;  // kpad: K rounded up to 16, the loaders' K bound
  const int8_t* x;
  const int8_t* w;
  int64_t ldx, ldw;
  Int8Tile<Out> out;
  Epilogue epi;
  int splits;  // K slices (gridDim.z); 1: no split
  int k_tiles_per_split;
  int32_t* partials;
  unsigned* counters;
};

template <class Out, class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) int8_gemm_kernel(const Params<Out> p) {
  constexpr int BK = Cfg::kBK;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem_base = mma::smem_addr(smem);

  const int block_m = blockIdx.y * Cfg::kBM, block_n = blockIdx.x * Cfg::kBN;
  const int k_tiles_all = (p.kpad + BK - 1) / BK;
  const int kt_begin = blockIdx.z * p.k_tiles_per_split;
  const int k_tiles = min(k_tiles_all, kt_begin + p.k_tiles_per_split) - kt_begin;

  const mma::GemmTileLoader<int8_t, Cfg> load_stage(smem_base, p.x, p.ldx, p.m, p.w, p.ldw, p.n, p.kpad, block_m,
                                                    block_n, kt_begin);
  mma::Accumulators<Cfg, int32_t> acc;
  mma::mainloop<int8_t, Cfg>(acc, smem_base, k_tiles, load_stage);

  if (p.splits > 1) {
    const int64_t tile = static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x;
    if (!mma::split_k_reduce<Cfg>(acc, p.partials, p.counters, tile, blockIdx.z, p.splits)) return;
  }
  store_int8_accumulators<Cfg, Out>(p.out, p.epi, acc, smem, block_m, block_n);
}

// ---- host side ------------------------------------------------------------------------------

template <class Cfg>
int64_t tiles_for(int64_t m, int64_t n) {
  return ceil_div(m, Cfg::kBM) * ceil_div(n, Cfg::kBN);
}

// The FP16 GEMM's rule (kernels/gemm/gemm.cu, measured there on an H100): blocks in flight matter
// more than operand reuse for an mma.sync loop on Hopper. Not yet measured for INT8: the
// int8_gemm_variant benchmarks are the data to replace it with.
Tile choose_tile(int64_t m, int64_t n, int sms) {
  if (n > 64 && tiles_for<Cfg128x128>(m, n) >= 2 * static_cast<int64_t>(sms)) return Tile::k128x128x128;
  if (2 * tiles_for<Cfg128x64>(m, n) >= 3 * static_cast<int64_t>(sms)) return Tile::k128x64x128;
  return Tile::k64x64x128;
}

struct TileDims {
  int bm, bn, bk, threads, acc_per_thread;
};

template <class Cfg>
constexpr TileDims dims_of() {
  return {Cfg::kBM, Cfg::kBN, Cfg::kBK, Cfg::kThreads, Cfg::kAccPerThread};
}

TileDims dims(Tile t) {
  switch (t) {
    case Tile::k128x128x128: return dims_of<Cfg128x128>();
    case Tile::k128x64x128: return dims_of<Cfg128x64>();
    case Tile::k64x64x128: case Tile::kAuto: break;
  }
  return dims_of<Cfg64x64>();
}

WorkspaceLayout layout_for(const GemmPlan& pl, int64_t m, int64_t n) {
  const TileDims d = dims(pl.tile);
  const int64_t tiles = ceil_div(m, d.bm) * ceil_div(n, d.bn);
  return split_k::workspace_layout(tiles, pl.split_k, d.threads, d.acc_per_thread);
}

template <class Out, class Cfg>
Status launch(const Params<Out>& p, cudaStream_t stream) {
  const int64_t gx = ceil_div(p.n, Cfg::kBN), gy = ceil_div(p.m, Cfg::kBM);
  if (gy > 65535 || gx > INT32_MAX)
    return error(StatusCode::kUnsupported, "int8 gemm: M = ", p.m, " needs more than 65535 row tiles");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(p.splits));
  auto kernel = int8_gemm_kernel<Out, Cfg>;
  constexpr int kSmem = int8_smem_bytes<Cfg>();
  QUENCH_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
                         "int8 gemm: cudaFuncSetAttribute"));
  kernel<<<grid, Cfg::kThreads, kSmem, stream>>>(p);
  return launch_status("int8_gemm_kernel");
}

Status multiprocessors(int* sms) {
  int device = 0;
  QUENCH_TRY(cuda_status(cudaGetDevice(&device), "int8 gemm: cudaGetDevice"));
  return cuda_status(cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device),
                     "int8 gemm: cudaDeviceGetAttribute");
}

template <class Out>
int64_t row_stride_x(const GemmArgs<Out>& a) {
  return a.ldx ? a.ldx : a.k;
}
template <class Out>
int64_t row_stride_y(const GemmArgs<Out>& a) {
  return a.ldy ? a.ldy : a.n;
}
template <class Out>
int64_t row_stride_r(const GemmArgs<Out>& a) {
  return a.ldr ? a.ldr : row_stride_y(a);
}

// Outputs (and residual) of 8 consecutive columns as one access: 8 bytes (INT8), 16 (FP16) or
// two of 16 (FP32).
template <class Out>
bool vector_rows(const void* p, int64_t ld) {
  constexpr unsigned kAlign = 8 * sizeof(Out) < 16 ? 8 * sizeof(Out) : 16;
  return ld % 8 == 0 && aligned_to(p, kAlign);
}

}  // namespace

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::kAuto: return "auto";
    case Tile::k128x128x128: return "128x128x128";
    case Tile::k128x64x128: return "128x64x128";
    case Tile::k64x64x128: return "64x64x128";
  }
  return "unknown";
}

int64_t packed_k(int64_t k) { return (k + 15) / 16 * 16; }

Status pack_weights(int64_t n, int64_t k, const int8_t* w, bool w_is_nk, int8_t* packed) {
  if (n <= 0 || k <= 0 || !w || !packed)
    return error(StatusCode::kInvalidArgument, "int8 gemm: pack_weights needs positive N, K and both buffers");
  const int64_t kp = packed_k(k);
  for (int64_t j = 0; j < n; ++j) {
    int8_t* row = packed + j * kp;
    if (w_is_nk) {
      std::memcpy(row, w + j * k, static_cast<size_t>(k));
    } else {
      for (int64_t i = 0; i < k; ++i) row[i] = w[i * n + j];
    }
    std::memset(row + k, 0, static_cast<size_t>(kp - k));
  }
  return Status::ok_status();
}

template <class Out>
Status can_implement(const GemmArgs<Out>& a) {
  const int64_t ldx = row_stride_x(a), ldy = row_stride_y(a), ldr = row_stride_r(a);
  if (a.m <= 0 || a.n <= 0 || a.k <= 0)
    return error(StatusCode::kInvalidArgument, "int8 gemm: M, N, K must be positive (got ", a.m, ", ", a.n, ", ", a.k, ")");
  if (!a.x || !a.w || !a.y) return error(StatusCode::kInvalidArgument, "int8 gemm: X, W and y must be non-null");
  if (a.k > quant::kMaxReduction)
    return error(StatusCode::kUnsupported, "int8 gemm: each output sums K = ", a.k, " INT8 products; more than ",
                 quant::kMaxReduction, " could overflow the INT32 accumulator");
  if (a.m > INT32_MAX || a.n > INT32_MAX)
    return error(StatusCode::kUnsupported, "int8 gemm: M and N must fit in 32 bits");
  if (ldx < a.k || ldy < a.n || ldr < a.n)
    return error(StatusCode::kInvalidArgument, "int8 gemm: a leading dimension is smaller than its row");
  if (ldx % 16 != 0)
    return error(StatusCode::kUnsupported, "int8 gemm: ldx (", ldx, ") must be a multiple of 16: X rows are read as ",
                 "16-byte vectors up to K rounded up to 16 (pad the rows, or run a 1x1 conv on the general gather)");
  if (!aligned_to(a.x, 16) || !aligned_to(a.w, 16))
    return error(StatusCode::kUnsupported, "int8 gemm: X and the packed W must be 16-byte aligned");
  if (!aligned_to(a.y, sizeof(Out)) || (a.residual && !aligned_to(a.residual, sizeof(Out))))
    return error(StatusCode::kInvalidArgument, "int8 gemm: y and the residual must be aligned to their element");
  QUENCH_TRY(check_epilogue(a.epilogue, output_of<Out>(), a.residual != nullptr, a.n, a.channel_table, "int8 gemm"));
  switch (a.tile) {
    case Tile::kAuto: case Tile::k128x128x128: case Tile::k128x64x128: case Tile::k64x64x128: break;
    default: return error(StatusCode::kInvalidArgument, "int8 gemm: unknown tile");
  }
  if (a.split_k < 0 || a.split_k > 64) return error(StatusCode::kInvalidArgument, "int8 gemm: split_k must be in 0..64");
  return Status::ok_status();
}

template <class Out>
GemmPlan plan(const GemmArgs<Out>& a, int sms) {
  GemmPlan pl;
  sms = std::max(sms, 1);
  pl.tile = a.tile == Tile::kAuto ? choose_tile(a.m, a.n, sms) : a.tile;
  const TileDims d = dims(pl.tile);
  const int64_t tiles = ceil_div(a.m, d.bm) * ceil_div(a.n, d.bn);
  const int64_t k_tiles = std::max<int64_t>(1, ceil_div(packed_k(a.k), d.bk));
  int splits = a.split_k > 0 ? a.split_k : auto_splits(tiles, k_tiles, sms);
  int per_split = 0;
  normalize_splits(k_tiles, &splits, &per_split);
  pl.split_k = splits;
  return pl;
}

template <class Out>
size_t workspace_bytes(const GemmArgs<Out>& a, int sms) {
  if (a.m <= 0 || a.n <= 0 || a.k <= 0) return 0;
  return layout_for(plan(a, sms), a.m, a.n).total();
}

template <class Out>
size_t workspace_bytes(const GemmArgs<Out>& a) {
  int sms = 1;
  if (!multiprocessors(&sms).ok()) sms = 1;
  return workspace_bytes(a, sms);
}

template <class Out>
Status initialize_workspace(const GemmArgs<Out>& a, void* workspace, cudaStream_t stream) {
  // Only the shape and the plan matter here (the operands may not exist yet).
  if (a.m <= 0 || a.n <= 0 || a.k <= 0 || a.split_k < 0 || a.split_k > 64)
    return error(StatusCode::kInvalidArgument, "int8 gemm: initialize_workspace: bad shape or split_k");
  int sms = 1;
  if (a.tile == Tile::kAuto || a.split_k == 0) QUENCH_TRY(multiprocessors(&sms));
  const WorkspaceLayout w = layout_for(plan(a, sms), a.m, a.n);
  if (w.counter_bytes == 0) return Status::ok_status();
  if (!workspace) return error(StatusCode::kInvalidArgument, "int8 gemm: split K needs a workspace of ", w.total(), " bytes");
  return cuda_status(cudaMemsetAsync(static_cast<char*>(workspace) + w.partial_bytes, 0, w.counter_bytes, stream),
                     "int8 gemm: clearing the split-K counters");
}

template <class Out>
Status run(const GemmArgs<Out>& a, void* workspace, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Params<Out> p;
  p.m = static_cast<int>(a.m);
  p.n = static_cast<int>(a.n);
  p.kpad = static_cast<int>(packed_k(a.k));
  p.x = a.x;
  p.w = a.w;
  p.ldx = row_stride_x(a);
  p.ldw = p.kpad;
  p.out.m = p.m;
  p.out.n = p.n;
  p.out.y = a.y;
  p.out.ldy = row_stride_y(a);
  p.out.residual = a.residual;
  p.out.ldr = row_stride_r(a);
  p.out.table = a.channel_table;
  p.out.stride = table_stride(a.n);
  p.out.vector_store = vector_rows<Out>(a.y, p.out.ldy) && (!a.residual || vector_rows<Out>(a.residual, p.out.ldr));
  p.epi = a.epilogue;

  int sms = 1;
  if (a.tile == Tile::kAuto || a.split_k == 0) QUENCH_TRY(multiprocessors(&sms));
  const GemmPlan pl = plan(a, sms);
  const TileDims d = dims(pl.tile);
  p.splits = pl.split_k;
  int splits = pl.split_k;
  normalize_splits(std::max<int64_t>(1, ceil_div(p.kpad, d.bk)), &splits, &p.k_tiles_per_split);
  p.partials = nullptr;
  p.counters = nullptr;
  if (p.splits > 1) {
    const WorkspaceLayout w = layout_for(pl, a.m, a.n);
    if (!workspace) return error(StatusCode::kInvalidArgument, "int8 gemm: split K needs a workspace of ", w.total(), " bytes");
    if (!aligned_to(workspace, 16)) return error(StatusCode::kInvalidArgument, "int8 gemm: workspace must be 16-byte aligned");
    p.partials = static_cast<int32_t*>(workspace);
    p.counters = reinterpret_cast<unsigned*>(static_cast<char*>(workspace) + w.partial_bytes);
  }
  switch (pl.tile) {
    case Tile::k128x128x128: return launch<Out, Cfg128x128>(p, stream);
    case Tile::k128x64x128: return launch<Out, Cfg128x64>(p, stream);
    case Tile::k64x64x128: return launch<Out, Cfg64x64>(p, stream);
    case Tile::kAuto: break;
  }
  return error(StatusCode::kInternal, "int8 gemm: no tile selected");
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<int8_t>(const GemmArgs<int8_t>&);
template GemmPlan plan<int8_t>(const GemmArgs<int8_t>&, int);
template size_t workspace_bytes<int8_t>(const GemmArgs<int8_t>&);
template size_t workspace_bytes<int8_t>(const GemmArgs<int8_t>&, int);
template Status initialize_workspace<int8_t>(const GemmArgs<int8_t>&, void*, cudaStream_t);
template Status run<int8_t>(const GemmArgs<int8_t>&, void*, cudaStream_t);
template Status can_implement<__half>(const GemmArgs<__half>&);
template GemmPlan plan<__half>(const GemmArgs<__half>&, int);
template size_t workspace_bytes<__half>(const GemmArgs<__half>&);
template size_t workspace_bytes<__half>(const GemmArgs<__half>&, int);
template Status initialize_workspace<__half>(const GemmArgs<__half>&, void*, cudaStream_t);
template Status run<__half>(const GemmArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::int8::gemm
