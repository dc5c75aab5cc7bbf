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
// K, write their FP32 accumulators to the workspace in register order (coalesced, no shared
// memory) and count themselves in on a per-tile counter; the last to arrive adds the S slices in
// slice order (deterministic whichever block is last), resets the counter, and runs the epilogue.
//
// The epilogue stages the FP32 accumulators through shared memory (reusing the pipeline buffers)
// so that bias, residual and the output move as coalesced 16-byte vectors; ragged edges and
// unaligned strides fall back to scalar accesses. The activation is a template argument of the
// store loop, chosen once per launch.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/gemm/gemm.cuh"

namespace quench::kernels::gemm {
namespace {

// ---- tile configurations ---------------------------------------------------------------------

template <int BM, int BN, int BK, int WM, int WN, int Stages, int MinBlocks>
struct TileConfig {
  static constexpr int kBM = BM, kBN = BN, kBK = BK, kWM = WM, kWN = WN, kStages = Stages;
  static constexpr int kMinBlocks = MinBlocks;  // __launch_bounds__: caps registers per thread
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kMI = WM / 16;      // m16 fragments per warp tile
  static constexpr int kNI = WN / 8;       // n8 fragments per warp tile
  static constexpr int kChunks = BK / 8;   // 16-byte chunks per shared-memory row (FP16)
  static constexpr int kATileBytes = BM * BK * 2;
  static constexpr int kStageBytes = (BM + BN) * BK * 2;
  static constexpr int kPipeBytes = kStages * kStageBytes;
  static constexpr int kCStride = BN + 8;  // floats per staged output row: float2 stores hit 32 banks
  static constexpr int kEpilogueBytes = BM * kCStride * 4;
  static constexpr int kSmemBytes = kPipeBytes > kEpilogueBytes ? kPipeBytes : kEpilogueBytes;
  static constexpr int kALoads = BM * kChunks / kThreads;  // 16-byte cp.async per thread per stage
  static constexpr int kBLoads = BN * kChunks / kThreads;
  static constexpr int kAccPerThread = kMI * kNI * 4;

  static_assert(BK == 32 || BK == 64, "the swizzle is written for 4 or 8 chunks per row");
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0, "warp tiling");
  static_assert(kStages >= 3, "at least a three-stage pipeline");
  static_assert((BM * kChunks) % kThreads == 0 && (BN * kChunks) % kThreads == 0, "even loads");
  static_assert(kThreads % kChunks == 0, "a thread keeps one chunk column for all its loads");
};

using Cfg128x128 = TileConfig<128, 128, 64, 64, 32, 3, 2>;
using Cfg128x64 = TileConfig<128, 64, 64, 32, 32, 3, 2>;
using Cfg64x64 = TileConfig<64, 64, 64, 32, 32, 4, 3>;

// ---- PTX wrappers ---------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when `pred` is false nothing is read and the 16 bytes are zeroed.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool pred) {
  const int src_bytes = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// The element type's tensor-core instruction. INT8 joins with m16n8k32 and an int32 accumulator.
template <class T>
struct Mma;

template <>
struct Mma<__half> {
  static constexpr int kK = 16;  // k per instruction
  using Acc = float;
  // d += a (16x16, row) . b (16x8, col)
  static __device__ __forceinline__ void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half from_float(float v) { return __float2half_rn(v); }
};

// Chunk index (16-byte units) of logical (row, chunk) inside a swizzled tile.
template <int kChunks>
__device__ __forceinline__ int swizzled_chunk(int row, int chunk) {
  if constexpr (kChunks == 4) {
    return row * 4 + (chunk ^ ((row >> 1) & 3));  // two 64-byte rows share one 128-byte bank line
  } else {
    return row * 8 + (chunk ^ (row & 7));
  }
}

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

// ---- epilogue -------------------------------------------------------------------------------

// Shared-memory FP32 tile -> bias, residual, activation -> C, 8 columns per thread per step.
template <class T, class Cfg, Activation A>
__device__ __forceinline__ void store_tile(const Params<T>& p, const float* cs, int block_m, int block_n) {
  using MmaT = Mma<T>;
  constexpr int kVecPerRow = Cfg::kBN / 8;
  for (int idx = threadIdx.x; idx < Cfg::kBM * kVecPerRow; idx += Cfg::kThreads) {
    const int r = idx / kVecPerRow, cv = idx % kVecPerRow;
    const int gm = block_m + r, gn = block_n + cv * 8;
    if (gm >= p.m || gn >= p.n) continue;
    const float* src = cs + r * Cfg::kCStride + cv * 8;
    const float4 lo = *reinterpret_cast<const float4*>(src);
    const float4 hi = *reinterpret_cast<const float4*>(src + 4);
    float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    T* out = p.c + gm * p.ldc + gn;
    const T* res = p.residual ? p.residual + gm * p.ldr + gn : nullptr;
    if (p.vector_store && gn + 8 <= p.n) {
      if (p.bias) {
        float b[8];
        if (p.vector_bias) {
          const float4 b0 = __ldg(reinterpret_cast<const float4*>(p.bias + gn));
          const float4 b1 = __ldg(reinterpret_cast<const float4*>(p.bias + gn + 4));
          b[0] = b0.x, b[1] = b0.y, b[2] = b0.z, b[3] = b0.w, b[4] = b1.x, b[5] = b1.y, b[6] = b1.z, b[7] = b1.w;
        } else {
#pragma unroll
          for (int j = 0; j < 8; ++j) b[j] = __ldg(p.bias + gn + j);
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] += b[j];
      }
      float rv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      if (res) {
        const uint4 raw = *reinterpret_cast<const uint4*>(res);
        const T* rh = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int j = 0; j < 8; ++j) rv[j] = MmaT::to_float(rh[j]);
      }
      uint4 packed;
      T* oh = reinterpret_cast<T*>(&packed);
#pragma unroll
      for (int j = 0; j < 8; ++j) oh[j] = MmaT::from_float(apply_epilogue<A>(v[j], rv[j], p.epi));
      *reinterpret_cast<uint4*>(out) = packed;
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        if (gn + j < p.n) {
          const float b = p.bias ? __ldg(p.bias + gn + j) : 0.0f;
          const float rv = res ? MmaT::to_float(res[j]) : 0.0f;
          out[j] = MmaT::from_float(apply_epilogue<A>(v[j] + b, rv, p.epi));
        }
      }
    }
  }
}

// ---- the kernel -----------------------------------------------------------------------------

template <class T, class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) gemm_kernel(const Params<T> p) {
  constexpr int BM = Cfg::kBM, BN = Cfg::kBN, BK = Cfg::kBK, kStages = Cfg::kStages;
  constexpr int kChunks = Cfg::kChunks, kMI = Cfg::kMI, kNI = Cfg::kNI;
  constexpr int kElemsPerChunk = 16 / sizeof(T);
  using MmaT = Mma<T>;

  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ bool s_last;
  const uint32_t smem_base = smem_addr(smem);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp / Cfg::kWarpsN, warp_n = warp % Cfg::kWarpsN;
  const int block_m = blockIdx.y * BM, block_n = blockIdx.x * BN;
  const int k_tiles_all = (p.k + BK - 1) / BK;
  const int kt_begin = blockIdx.z * p.k_tiles_per_split;
  const int k_tiles = min(k_tiles_all, kt_begin + p.k_tiles_per_split) - kt_begin;

  // Loader coordinates: this thread always copies chunk column `ld_chunk` of rows ld_row + i*step.
  constexpr int kRowStep = Cfg::kThreads / kChunks;
  const int ld_chunk = tid % kChunks, ld_row = tid / kChunks;
  const T* a_src[Cfg::kALoads];
  const T* b_src[Cfg::kBLoads];
  uint32_t a_dst[Cfg::kALoads], b_dst[Cfg::kBLoads];
  bool a_ok[Cfg::kALoads], b_ok[Cfg::kBLoads];
#pragma unroll
  for (int i = 0; i < Cfg::kALoads; ++i) {
    const int row = ld_row + i * kRowStep, gm = block_m + row;
    a_ok[i] = gm < p.m;
    a_src[i] = p.a + (a_ok[i] ? gm * p.lda : 0) + ld_chunk * kElemsPerChunk;
    a_dst[i] = swizzled_chunk<kChunks>(row, ld_chunk) * 16;
  }
#pragma unroll
  for (int i = 0; i < Cfg::kBLoads; ++i) {
    const int row = ld_row + i * kRowStep, gn = block_n + row;
    b_ok[i] = gn < p.n;
    b_src[i] = p.b + (b_ok[i] ? gn * p.ldb : 0) + ld_chunk * kElemsPerChunk;
    b_dst[i] = Cfg::kATileBytes + swizzled_chunk<kChunks>(row, ld_chunk) * 16;
  }

  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * BK;
    const bool k_ok = k0 + ld_chunk * kElemsPerChunk < p.k;
    const uint32_t base = smem_base + stage * Cfg::kStageBytes;
#pragma unroll
    for (int i = 0; i < Cfg::kALoads; ++i) {
      const bool ok = a_ok[i] && k_ok;
      cp_async_16(base + a_dst[i], ok ? a_src[i] + k0 : p.a, ok);
    }
#pragma unroll
    for (int i = 0; i < Cfg::kBLoads; ++i) {
      const bool ok = b_ok[i] && k_ok;
      cp_async_16(base + b_dst[i], ok ? b_src[i] + k0 : p.b, ok);
    }
  };

  float acc[kMI][kNI][4];
#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[mi][ni][r] = 0.0f;

  // Prologue: fill Stages-1 buffers (empty groups keep the group count uniform for short K).
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < k_tiles) load_stage(s, kt_begin + s);
    cp_async_commit();
  }

  // ldmatrix source rows for this lane: A's four 8x8 matrices are (rows 0-7 | 8-15) x (k 0-7 | 8-15)
  // in a0..a3 order; B's are (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15).
  const int a_row = warp_m * Cfg::kWM + (lane & 15), a_khalf = lane >> 4;
  const int b_row = warp_n * Cfg::kWN + (lane & 7) + ((lane >> 4) << 3), b_khalf = (lane >> 3) & 1;

  for (int i = 0; i < k_tiles; ++i) {
    cp_async_wait<kStages - 2>();  // k-tile i has landed (for this thread) ...
    __syncthreads();               // ... for all threads, and stage i-1 is free to refill
    const int next = i + kStages - 1;
    if (next < k_tiles) load_stage(next % kStages, kt_begin + next);
    cp_async_commit();

    const uint32_t a_base = smem_base + (i % kStages) * Cfg::kStageBytes;
    const uint32_t b_base = a_base + Cfg::kATileBytes;
#pragma unroll
    for (int kk = 0; kk < BK / MmaT::kK; ++kk) {
      uint32_t af[kMI][4];
      uint32_t bf[kNI][2];
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
        ldmatrix_x4(af[mi], a_base + swizzled_chunk<kChunks>(a_row + mi * 16, kk * 2 + a_khalf) * 16);
      }
#pragma unroll
      for (int nj = 0; nj < kNI / 2; ++nj) {
        uint32_t r[4];
        ldmatrix_x4(r, b_base + swizzled_chunk<kChunks>(b_row + nj * 16, kk * 2 + b_khalf) * 16);
        bf[2 * nj][0] = r[0];
        bf[2 * nj][1] = r[1];
        bf[2 * nj + 1][0] = r[2];
        bf[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) MmaT::run(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  }
  cp_async_wait<0>();

  // ---- split K: publish this slice; the last block of the tile sums all slices in order ----
  if (p.splits > 1) {
    const int tile = blockIdx.y * gridDim.x + blockIdx.x;
    float4* mine = reinterpret_cast<float4*>(p.partials) +
                   (static_cast<int64_t>(tile) * p.splits + blockIdx.z) * (Cfg::kThreads * Cfg::kAccPerThread / 4);
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
        __stcg(mine + (mi * kNI + ni) * Cfg::kThreads + tid,
               make_float4(acc[mi][ni][0], acc[mi][ni][1], acc[mi][ni][2], acc[mi][ni][3]));
    __threadfence();  // release: the slice is visible device-wide before the count says so
    __syncthreads();
    if (tid == 0) s_last = atomicAdd(p.counters + tile, 1u) == static_cast<unsigned>(p.splits - 1);
    __syncthreads();
    if (!s_last) return;
    __threadfence();  // acquire: the other slices' stores are visible from here on
    const float4* all = reinterpret_cast<const float4*>(p.partials) +
                        static_cast<int64_t>(tile) * p.splits * (Cfg::kThreads * Cfg::kAccPerThread / 4);
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[mi][ni][r] = 0.0f;
    // Every slice (this block's too) is read back in slice order, so the sum does not depend on
    // which block came last. L2 only (__ldcg): this SM's L1 may hold these lines from earlier.
    for (int z = 0; z < p.splits; ++z) {
      const float4* slice = all + static_cast<int64_t>(z) * (Cfg::kThreads * Cfg::kAccPerThread / 4);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          const float4 v = __ldcg(slice + (mi * kNI + ni) * Cfg::kThreads + tid);
          acc[mi][ni][0] += v.x;
          acc[mi][ni][1] += v.y;
          acc[mi][ni][2] += v.z;
          acc[mi][ni][3] += v.w;
        }
    }
    if (tid == 0) p.counters[tile] = 0u;  // ready for the next launch
  }

  // ---- epilogue: accumulators -> shared memory (FP32) -> bias, residual, activation -> C ----
  __syncthreads();  // every warp is done reading the pipeline buffers
  float* cs = reinterpret_cast<float*>(smem);
  {
    const int r0 = warp_m * Cfg::kWM + (lane >> 2), c0 = warp_n * Cfg::kWN + (lane & 3) * 2;
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni) {
        float* dst = cs + (r0 + mi * 16) * Cfg::kCStride + c0 + ni * 8;
        *reinterpret_cast<float2*>(dst) = make_float2(acc[mi][ni][0], acc[mi][ni][1]);
        *reinterpret_cast<float2*>(dst + 8 * Cfg::kCStride) = make_float2(acc[mi][ni][2], acc[mi][ni][3]);
      }
  }
  __syncthreads();
  with_activation(p.epi.activation, [&](auto act) {
    store_tile<T, Cfg, decltype(act)::value>(p, cs, block_m, block_n);
  });
}

// ---- host side ------------------------------------------------------------------------------

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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

// Slices of K: enough blocks to cover the GPU about once, each slice at least 4 k-tiles, at most 16.
int auto_splits(int64_t tiles, int64_t k_tiles, int sms) {
  if (tiles * 2 > sms || k_tiles < 8) return 1;
  const int64_t want = std::min<int64_t>(ceil_div(sms, tiles), 16);
  const int64_t by_k = k_tiles / 4;
  return static_cast<int>(std::max<int64_t>(1, std::min(want, by_k)));
}

// Final (splits, k-tiles per split): no empty slice.
void normalize_splits(int64_t k_tiles, int* splits, int* per_split) {
  const int64_t s = std::clamp<int64_t>(*splits, 1, k_tiles);
  const int64_t per = ceil_div(k_tiles, s);
  *per_split = static_cast<int>(per);
  *splits = static_cast<int>(ceil_div(k_tiles, per));
}

size_t align16(size_t v) { return (v + 15) / 16 * 16; }

struct WorkspaceLayout {
  size_t partial_bytes = 0, counter_bytes = 0;
  size_t total() const { return partial_bytes + counter_bytes; }
};

WorkspaceLayout layout_for(const GemmPlan& pl, int64_t m, int64_t n) {
  WorkspaceLayout w;
  if (pl.split_k <= 1) return w;
  const TileDims d = dims(pl.tile);
  const int64_t tiles = ceil_div(m, d.bm) * ceil_div(n, d.bn);
  w.partial_bytes = align16(static_cast<size_t>(tiles) * pl.split_k * d.threads * d.acc_per_thread * sizeof(float));
  w.counter_bytes = align16(static_cast<size_t>(tiles) * sizeof(unsigned));
  return w;
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
