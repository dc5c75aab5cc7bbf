// Tensor-core GEMM: C[M,N] = epilogue(A[M,K] . B[N,K]^T), see gemm.cuh.
//
// One thread block computes a BM x BN tile of C. Its warps split the tile into WM x WN warp tiles;
// each warp issues mma.sync m16n8k16 on fragments read by ldmatrix from shared memory. A and B
// tiles of BM x BK and BN x BK stream in through a cp.async pipeline of `Stages` buffers, so the
// loads of k-tile t+Stages-1 overlap the math on k-tile t. Shared-memory rows are BK elements
// (BK/8 chunks of 16 bytes) with the chunk index XOR-swizzled by the row, so that both the 16-byte
// cp.async stores and the 8-row ldmatrix reads touch 8 distinct 16-byte bank groups.
//
// Out-of-range rows (M, N tails) and chunks (K tail) are zero-filled by cp.async's src-size
// operand, so the math needs no predicates.
//
// Split K (small grids with long K): blocks z = 0..S-1 of one output tile each reduce a slice of
// K; the last to arrive sums the slices in order and runs the epilogue (mma::split_k_reduce).
//
// The main loop, the split-K reduction and the epilogue (bias, residual, activation, staged
// through shared memory for 16-byte stores) live in kernels/common/mma_pipeline.cuh, shared with
// the implicit-GEMM convolution; the loaders in kernels/gemm/gemm_loader.cuh, shared with the INT8
// GEMM; this file holds the FP16 kernel and its host side.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/mma_pipeline.cuh"
#include "kernels/common/split_k.cuh"
#include "kernels/gemm/gemm.cuh"
#include "kernels/gemm/gemm_loader.cuh"

namespace quench::kernels::gemm {
namespace {

using mma::Cfg128x128;
using mma::Cfg128x64;
using mma::Cfg64x64;
using split_k::auto_splits;
using split_k::ceil_div;
using split_k::normalize_splits;
using split_k::WorkspaceLayout;

template <class T>
struct Params {
  int m, n, k;
  const T* a;
  const T* b;
  T* c;
  int64_t lda, ldb, ldc, ldr;
  const float* bias;
  const T* residual;
  EpilogueParams epi;
  bool vector_store;  // c (and residual) rows allow 16-byte accesses at multiples of 8 columns
  bool vector_bias;   // bias is 16-byte aligned
  int splits;         // K slices (gridDim.z); 1: no split
  int k_tiles_per_split;
  float* partials;    // [tiles][splits][threads * acc per thread] when splits > 1
  unsigned* counters; // [tiles], zero before the launch
};

// ---- the kernel -----------------------------------------------------------------------------

template <class T, class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) gemm_kernel(const Params<T> p) {
  constexpr int BK = Cfg::kBK;

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem_base = mma::smem_addr(smem);

  const int block_m = blockIdx.y * Cfg::kBM, block_n = blockIdx.x * Cfg::kBN;
  const int k_tiles_all = (p.k + BK - 1) / BK;
  const int kt_begin = blockIdx.z * p.k_tiles_per_split;
  const int k_tiles = min(k_tiles_all, kt_begin + p.k_tiles_per_split) - kt_begin;

  const mma::GemmTileLoader<T, Cfg> load_stage(smem_base, p.a, p.lda, p.m, p.b, p.ldb, p.n, p.k, block_m, block_n,
                                               kt_begin);

  mma::Accumulators<Cfg> acc;
  mma::mainloop<T, Cfg>(acc, smem_base, k_tiles, load_stage);

  if (p.splits > 1) {
    const int64_t tile = static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x;
    if (!mma::split_k_reduce<Cfg>(acc, p.partials, p.counters, tile, blockIdx.z, p.splits)) return;
  }
  const mma::OutputTile<T> out{p.m, p.n, p.c, p.ldc, p.ldr, p.bias, p.residual, p.epi, p.vector_store, p.vector_bias};
  mma::store_accumulators<T, Cfg>(out, acc, smem, block_m, block_n);
}

// ---- host side ------------------------------------------------------------------------------

template <class Cfg>
int64_t tiles_for(int64_t m, int64_t n) {
  return ceil_div(m, Cfg::kBM) * ceil_div(n, Cfg::kBN);
}

// The tile shape. On Hopper this mma.sync main loop is latency-bound, so blocks in flight matter
// more than the operand reuse a larger tile buys: 128x128 only when it still gives every
// multiprocessor two blocks (and N > 64, else half of it is padding), 128x64 when it gives one and
// a half, else 64x64 (most blocks), with K split when even that cannot fill the GPU. The
// thresholds pick the fastest tile on every shape measured with pinned tiles on an H100
// (bench/results/*-kernels.md, "GEMM variants"); they stand in for measured tactic selection.
Tile choose_tile(int64_t m, int64_t n, int sms) {
  if (n > 64 && tiles_for<Cfg128x128>(m, n) >= 2 * static_cast<int64_t>(sms)) return Tile::k128x128x64;
  if (2 * tiles_for<Cfg128x64>(m, n) >= 3 * static_cast<int64_t>(sms)) return Tile::k128x64x64;
  return Tile::k64x64x64;
}

struct TileDims {
  int bm, bn, bk, threads, acc_per_thread;
};

TileDims dims(Tile t) {
  switch (t) {
    case Tile::k128x128x64: return {128, 128, 64, Cfg128x128::kThreads, Cfg128x128::kAccPerThread};
    case Tile::k128x64x64: return {128, 64, 64, Cfg128x64::kThreads, Cfg128x64::kAccPerThread};
    case Tile::k64x64x64: return {64, 64, 64, Cfg64x64::kThreads, Cfg64x64::kAccPerThread};
    case Tile::kAuto: break;
  }
  return {64, 64, 64, Cfg64x64::kThreads, Cfg64x64::kAccPerThread};
}

WorkspaceLayout layout_for(const GemmPlan& pl, int64_t m, int64_t n) {
  const TileDims d = dims(pl.tile);
  const int64_t tiles = ceil_div(m, d.bm) * ceil_div(n, d.bn);
  return split_k::workspace_layout(tiles, pl.split_k, d.threads, d.acc_per_thread);
}

template <class T, class Cfg>
Status launch(const Params<T>& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.n, Cfg::kBN)), static_cast<unsigned>(ceil_div(p.m, Cfg::kBM)),
                  static_cast<unsigned>(p.splits));
  if (grid.y > 65535u) return error(StatusCode::kUnsupported, "gemm: M = ", p.m, " needs more than 65535 row tiles");
  auto kernel = gemm_kernel<T, Cfg>;
  QUENCH_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes),
                         "gemm: cudaFuncSetAttribute"));
  kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  return launch_status("gemm_kernel");
}

Status multiprocessors(int* sms) {
  int device = 0;
  QUENCH_TRY(cuda_status(cudaGetDevice(&device), "gemm: cudaGetDevice"));
  return cuda_status(cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device), "gemm: cudaDeviceGetAttribute");
}

}  // namespace

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::kAuto: return "auto";
    case Tile::k128x128x64: return "128x128x64";
    case Tile::k128x64x64: return "128x64x64";
    case Tile::k64x64x64: return "64x64x64";
  }
  return "unknown";
}

template <class T>
Status can_implement(const GemmArgs<T>& args) {
  static_assert(std::is_same_v<T, __half>, "gemm: only FP16 is instantiated so far");
  constexpr int64_t kVec = 16 / sizeof(T);
  const int64_t lda = args.lda ? args.lda : args.k, ldb = args.ldb ? args.ldb : args.k;
  const int64_t ldc = args.ldc ? args.ldc : args.n, ldr = args.ldr ? args.ldr : ldc;
  if (args.m <= 0 || args.n <= 0 || args.k <= 0)
    return error(StatusCode::kInvalidArgument, "gemm: M, N, K must be positive (got ", args.m, ", ", args.n, ", ", args.k, ")");
  if (!args.a || !args.b || !args.c) return error(StatusCode::kInvalidArgument, "gemm: A, B and C must be non-null");
  if (lda < args.k || ldb < args.k || ldc < args.n || ldr < args.n)
    return error(StatusCode::kInvalidArgument, "gemm: a leading dimension is smaller than its row");
  if (args.m > INT32_MAX || args.n > INT32_MAX || args.k > INT32_MAX)
    return error(StatusCode::kUnsupported, "gemm: M, N and K must fit in 32 bits");
  if (args.k % kVec != 0 || lda % kVec != 0 || ldb % kVec != 0)
    return error(StatusCode::kUnsupported, "gemm: K, lda and ldb must be multiples of ", kVec, " (got K = ", args.k,
                 ", lda = ", lda, ", ldb = ", ldb, ")");
  if (!aligned_to(args.a, 16) || !aligned_to(args.b, 16))
    return error(StatusCode::kUnsupported, "gemm: A and B must be 16-byte aligned");
  if (!aligned_to(args.c, sizeof(T)) || (args.residual && !aligned_to(args.residual, sizeof(T))) ||
      (args.bias && !aligned_to(args.bias, sizeof(float))))
    return error(StatusCode::kInvalidArgument, "gemm: C, bias and the residual must be aligned to their element");
  if (!epilogue_params_valid(args.epilogue)) return error(StatusCode::kInvalidArgument, "gemm: bad epilogue parameters");
  switch (args.tile) {
    case Tile::kAuto: case Tile::k128x128x64: case Tile::k128x64x64: case Tile::k64x64x64: break;
    default: return error(StatusCode::kInvalidArgument, "gemm: unknown tile");
  }
  if (args.split_k < 0 || args.split_k > 64) return error(StatusCode::kInvalidArgument, "gemm: split_k must be in 0..64");
  return Status::ok_status();
}

template <class T>
GemmPlan plan(const GemmArgs<T>& args, int sms) {
  GemmPlan pl;
  sms = std::max(sms, 1);
  pl.tile = args.tile;
  if (pl.tile == Tile::kAuto) pl.tile = choose_tile(args.m, args.n, sms);
  const TileDims d = dims(pl.tile);
  const int64_t tiles = ceil_div(args.m, d.bm) * ceil_div(args.n, d.bn);
  const int64_t k_tiles = std::max<int64_t>(1, ceil_div(args.k, d.bk));
  int splits = args.split_k > 0 ? args.split_k : auto_splits(tiles, k_tiles, sms);
  int per_split = 0;
  normalize_splits(k_tiles, &splits, &per_split);
  pl.split_k = splits;
  return pl;
}

template <class T>
size_t workspace_bytes(const GemmArgs<T>& args, int sms) {
  return layout_for(plan(args, sms), args.m, args.n).total();
}

template <class T>
size_t workspace_bytes(const GemmArgs<T>& args) {
  int sms = 1;
  if (!multiprocessors(&sms).ok()) sms = 1;
  return workspace_bytes(args, sms);
}

template <class T>
Status initialize_workspace(const GemmArgs<T>& args, void* workspace, cudaStream_t stream) {
  // Only the shape and the plan matter here (the operands may not exist yet).
  if (args.m <= 0 || args.n <= 0 || args.k <= 0 || args.split_k < 0 || args.split_k > 64)
    return error(StatusCode::kInvalidArgument, "gemm: initialize_workspace: bad shape or split_k");
  int sms = 1;
  if (args.tile == Tile::kAuto || args.split_k == 0) QUENCH_TRY(multiprocessors(&sms));
  const WorkspaceLayout w = layout_for(plan(args, sms), args.m, args.n);
  if (w.counter_bytes == 0) return Status::ok_status();
  if (!workspace) return error(StatusCode::kInvalidArgument, "gemm: split K needs a workspace of ", w.total(), " bytes");
  return cuda_status(cudaMemsetAsync(static_cast<char*>(workspace) + w.partial_bytes, 0, w.counter_bytes, stream),
                     "gemm: clearing the split-K counters");
}

template <class T>
Status run(const GemmArgs<T>& args, void* workspace, cudaStream_t stream) {
  QUENCH_TRY(can_implement(args));
  Params<T> p;
  p.m = static_cast<int>(args.m);
  p.n = static_cast<int>(args.n);
  p.k = static_cast<int>(args.k);
  p.a = args.a;
  p.b = args.b;
  p.c = args.c;
  p.lda = args.lda ? args.lda : args.k;
  p.ldb = args.ldb ? args.ldb : args.k;
  p.ldc = args.ldc ? args.ldc : args.n;
  p.ldr = args.ldr ? args.ldr : p.ldc;
  p.bias = args.bias;
  p.residual = args.residual;
  p.epi = args.epilogue;
  p.vector_store = p.ldc % 8 == 0 && aligned_to(args.c, 16) &&
                   (!args.residual || (p.ldr % 8 == 0 && aligned_to(args.residual, 16)));
  p.vector_bias = args.bias && aligned_to(args.bias, 16);

  int sms = 1;
  if (args.tile == Tile::kAuto || args.split_k == 0) QUENCH_TRY(multiprocessors(&sms));
  const GemmPlan pl = plan(args, sms);
  const TileDims d = dims(pl.tile);
  p.splits = pl.split_k;
  int splits = pl.split_k;
  normalize_splits(std::max<int64_t>(1, ceil_div(args.k, d.bk)), &splits, &p.k_tiles_per_split);
  p.partials = nullptr;
  p.counters = nullptr;
  if (p.splits > 1) {
    const WorkspaceLayout w = layout_for(pl, args.m, args.n);
    if (!workspace) return error(StatusCode::kInvalidArgument, "gemm: split K needs a workspace of ", w.total(), " bytes");
    if (!aligned_to(workspace, 16)) return error(StatusCode::kInvalidArgument, "gemm: workspace must be 16-byte aligned");
    p.partials = static_cast<float*>(workspace);
    p.counters = reinterpret_cast<unsigned*>(static_cast<char*>(workspace) + w.partial_bytes);
  }
  switch (pl.tile) {
    case Tile::k128x128x64: return launch<T, Cfg128x128>(p, stream);
    case Tile::k128x64x64: return launch<T, Cfg128x64>(p, stream);
    case Tile::k64x64x64: return launch<T, Cfg64x64>(p, stream);
    case Tile::kAuto: break;
  }
  return error(StatusCode::kInternal, "gemm: no tile selected");
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const GemmArgs<__half>&);
template GemmPlan plan<__half>(const GemmArgs<__half>&, int);
template Status initialize_workspace<__half>(const GemmArgs<__half>&, void*, cudaStream_t);
template size_t workspace_bytes<__half>(const GemmArgs<__half>&);
template size_t workspace_bytes<__half>(const GemmArgs<__half>&, int);
template Status run<__half>(const GemmArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::gemm
