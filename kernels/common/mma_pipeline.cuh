// Tensor-core building blocks shared by the GEMM and the implicit-GEMM convolution: tile
// configurations, the PTX wrappers (cp.async, ldmatrix, mma.sync), the multi-stage main loop, the
// serial split-K reduction and the fused epilogue store. A kernel supplies only how a k-tile of A
// and B reaches shared memory (its loader); everything from there on is this file.
//
// Shared-memory layout of one pipeline stage: an A tile of BM rows then a B tile of BN rows, each
// row BK elements = BK * ElemBytes / 16 chunks of 16 bytes, the chunk index XOR-swizzled by the row
// so that both the 16-byte stores and the 8-row ldmatrix reads touch 8 distinct 16-byte bank groups.
//
// Element types: FP16 (mma.sync m16n8k16, FP32 accumulators) and INT8 (m16n8k32, INT32
// accumulators). In bytes the two are the same problem: one instruction consumes 32 bytes of K per
// row of A and B, and its A, B and C fragments sit in the same byte positions of the same
// registers, so the ldmatrix addressing, the swizzle and the accumulator staging are shared; only
// the instruction and the accumulator type differ (Mma<T>).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"

namespace quench::kernels::mma {

// ---- tile configurations ---------------------------------------------------------------------

// BK counts elements of ElemBytes bytes (2: FP16, 1: INT8).
template <int BM, int BN, int BK, int WM, int WN, int Stages, int MinBlocks, int ElemBytes = 2>
struct TileConfig {
  static constexpr int kBM = BM, kBN = BN, kBK = BK, kWM = WM, kWN = WN, kStages = Stages;
  static constexpr int kMinBlocks = MinBlocks;  // __launch_bounds__: caps registers per thread
  static constexpr int kElemBytes = ElemBytes;
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kMI = WM / 16;      // m16 fragments per warp tile
  static constexpr int kNI = WN / 8;       // n8 fragments per warp tile
  static constexpr int kChunks = BK * ElemBytes / 16;  // 16-byte chunks per shared-memory row
  static constexpr int kATileBytes = BM * BK * ElemBytes;
  static constexpr int kStageBytes = (BM + BN) * BK * ElemBytes;
  static constexpr int kPipeBytes = kStages * kStageBytes;
  static constexpr int kCStride = BN + 8;  // 4-byte accumulators per staged output row: 8-byte stores hit 32 banks
  static constexpr int kEpilogueBytes = BM * kCStride * 4;
  static constexpr int kSmemBytes = kPipeBytes > kEpilogueBytes ? kPipeBytes : kEpilogueBytes;
  static constexpr int kALoads = BM * kChunks / kThreads;  // 16-byte chunks per thread per stage
  static constexpr int kBLoads = BN * kChunks / kThreads;
  static constexpr int kAccPerThread = kMI * kNI * 4;
  static constexpr int kRowStep = kThreads / kChunks;  // loader rows between a thread's chunks

  static_assert(ElemBytes == 1 || ElemBytes == 2, "FP16 or INT8 elements");
  static_assert(kChunks == 4 || kChunks == 8, "the swizzle is written for 4 or 8 chunks per row");
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0, "warp tiling");
  static_assert(kStages >= 3, "at least a three-stage pipeline");
  static_assert((BM * kChunks) % kThreads == 0 && (BN * kChunks) % kThreads == 0, "even loads");
  static_assert(kThreads % kChunks == 0, "a thread keeps one chunk column for all its loads");
};

// The three shapes both families compile (see gemm::Tile for when each is picked).
using Cfg128x128 = TileConfig<128, 128, 64, 64, 32, 3, 2>;  // 8 warps of 64x32
using Cfg128x64 = TileConfig<128, 64, 64, 32, 32, 3, 2>;    // 8 warps of 32x32
using Cfg64x64 = TileConfig<64, 64, 64, 32, 32, 4, 3>;      // 4 warps of 32x32

// ---- PTX wrappers ---------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when `pred` is false nothing is read and the 16 bytes are zeroed
// (src must still be a valid address).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool pred) {
  const int src_bytes = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void st_shared_16(uint32_t dst, const uint4& v) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
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

template <>
struct Mma<int8_t> {
  static constexpr int kK = 32;  // k per instruction
  using Acc = int32_t;
  // d += a (16x32, row) . b (32x8, col), exact: the callers bound K (quant::kMaxReduction), so no
  // partial sum leaves int32 and the wrapping (non-.satfinite) form never wraps.
  static __device__ __forceinline__ void run(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// 2- and 4-wide vectors of an accumulator type, for the staging and split-K stores.
template <class Acc>
struct AccVec;
template <>
struct AccVec<float> {
  using V2 = float2;
  using V4 = float4;
  static __device__ __forceinline__ V2 make2(float a, float b) { return make_float2(a, b); }
  static __device__ __forceinline__ V4 make4(float a, float b, float c, float d) { return make_float4(a, b, c, d); }
};
template <>
struct AccVec<int32_t> {
  using V2 = int2;
  using V4 = int4;
  static __device__ __forceinline__ V2 make2(int32_t a, int32_t b) { return make_int2(a, b); }
  static __device__ __forceinline__ V4 make4(int32_t a, int32_t b, int32_t c, int32_t d) { return make_int4(a, b, c, d); }
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

// ---- main loop ------------------------------------------------------------------------------

template <class Cfg, class Acc = float>
using Accumulators = Acc[Cfg::kMI][Cfg::kNI][4];

// Accumulates k-tiles 0 .. k_tiles-1 into `acc` (zeroed first). load_stage(stage, i) must issue
// the copies of k-tile i into pipeline buffer `stage` (cp.async, or plain shared stores); it is
// called once for each i, in increasing order, so a loader may keep incremental state. Loads of
// k-tile i + Stages - 1 overlap the math on k-tile i. On return every copy has landed, but other
// warps may still be reading the pipeline buffers.
template <class T, class Cfg, class LoadStage>
__device__ __forceinline__ void mainloop(Accumulators<Cfg, typename Mma<T>::Acc>& acc, uint32_t smem_base, int k_tiles,
                                         LoadStage&& load_stage) {
  constexpr int BK = Cfg::kBK, kStages = Cfg::kStages, kChunks = Cfg::kChunks;
  constexpr int kMI = Cfg::kMI, kNI = Cfg::kNI;
  using MmaT = Mma<T>;
  using Acc = typename MmaT::Acc;
  static_assert(sizeof(T) == Cfg::kElemBytes, "the tile configuration is for another element size");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp / Cfg::kWarpsN, warp_n = warp % Cfg::kWarpsN;

#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[mi][ni][r] = Acc(0);

  // Prologue: fill Stages-1 buffers (empty groups keep the group count uniform for short K).
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < k_tiles) load_stage(s, s);
    cp_async_commit();
  }

  // ldmatrix source rows for this lane: A's four 8x8 matrices (of 16-bit units) are
  // (rows 0-7 | 8-15) x (bytes 0-15 | 16-31) in a0..a3 order; B's are (n 0-7, bytes 0-15),
  // (n 0-7, bytes 16-31), (n 8-15, bytes 0-15), (n 8-15, bytes 16-31). For FP16 16 bytes are 8
  // k, for INT8 16 k; either way the fragments land where the instruction expects them.
  const int a_row = warp_m * Cfg::kWM + (lane & 15), a_khalf = lane >> 4;
  const int b_row = warp_n * Cfg::kWN + (lane & 7) + ((lane >> 4) << 3), b_khalf = (lane >> 3) & 1;

  for (int i = 0; i < k_tiles; ++i) {
    cp_async_wait<kStages - 2>();  // k-tile i has landed (for this thread) ...
    __syncthreads();               // ... for all threads, and stage i-1 is free to refill
    const int next = i + kStages - 1;
    if (next < k_tiles) load_stage(next % kStages, next);
    cp_async_commit();

    const uint32_t a_base = smem_base + (i % kStages) * Cfg::kStageBytes;
    const uint32_t b_base = a_base + Cfg::kATileBytes;
#pragma unroll
    for (int kk = 0; kk < BK / MmaT::kK; ++kk) {  // 32 bytes of K (two chunks) per step
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
}

// ---- split K --------------------------------------------------------------------------------

// Blocks split = 0..splits-1 of output tile `tile` each reduced a slice of K into `acc`. Each
// writes its accumulators (FP32 or INT32) to `partials` in register order (coalesced, no shared
// memory) and counts itself in on counters[tile]; the last to arrive adds the slices in slice
// order (deterministic whichever block is last; INT32 sums are exact in any order) into `acc`,
// resets the counter and returns true. The others return false and must exit without touching
// the output.
template <class Cfg, class Acc>
__device__ __forceinline__ bool split_k_reduce(Accumulators<Cfg, Acc>& acc, Acc* partials, unsigned* counters,
                                               int64_t tile, int split, int splits) {
  constexpr int kMI = Cfg::kMI, kNI = Cfg::kNI;
  constexpr int kSliceVecs = Cfg::kThreads * Cfg::kAccPerThread / 4;
  using V4 = typename AccVec<Acc>::V4;
  __shared__ bool s_last;
  const int tid = threadIdx.x;
  V4* mine = reinterpret_cast<V4*>(partials) + (tile * splits + split) * kSliceVecs;
#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni)
      __stcg(mine + (mi * kNI + ni) * Cfg::kThreads + tid,
             AccVec<Acc>::make4(acc[mi][ni][0], acc[mi][ni][1], acc[mi][ni][2], acc[mi][ni][3]));
  __threadfence();  // release: the slice is visible device-wide before the count says so
  __syncthreads();
  if (tid == 0) s_last = atomicAdd(counters + tile, 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!s_last) return false;
  __threadfence();  // acquire: the other slices' stores are visible from here on
  const V4* all = reinterpret_cast<const V4*>(partials) + tile * splits * kSliceVecs;
#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[mi][ni][r] = Acc(0);
  // Every slice (this block's too) is read back in slice order, so the sum does not depend on
  // which block came last. L2 only (__ldcg): this SM's L1 may hold these lines from earlier.
  for (int z = 0; z < splits; ++z) {
    const V4* slice = all + static_cast<int64_t>(z) * kSliceVecs;
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni) {
        const V4 v = __ldcg(slice + (mi * kNI + ni) * Cfg::kThreads + tid);
        acc[mi][ni][0] += v.x;
        acc[mi][ni][1] += v.y;
        acc[mi][ni][2] += v.z;
        acc[mi][ni][3] += v.w;
      }
  }
  if (tid == 0) counters[tile] = 0u;  // ready for the next launch
  return true;
}

// ---- epilogue -------------------------------------------------------------------------------

// Where the output tile goes: C[m, n] row-major with row stride ldc, FP32 bias[n], residual
// [m, ldr] of C's type (may alias C: each element is read before it is written, by one thread).
template <class T>
struct OutputTile {
  int m, n;
  T* c;
  int64_t ldc, ldr;
  const float* bias;
  const T* residual;
  EpilogueParams epi;
  bool vector_store;  // c (and residual) rows allow 16-byte accesses at multiples of 8 columns
  bool vector_bias;   // bias is 16-byte aligned
};

// Shared-memory FP32 tile -> bias, residual, activation -> C, 8 columns per thread per step.
template <class T, class Cfg, Activation A>
__device__ __forceinline__ void store_tile(const OutputTile<T>& p, const float* cs, int block_m, int block_n) {
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

// Accumulators -> shared memory (reusing the pipeline buffers): a BM x BN tile of Acc, row stride
// Cfg::kCStride, at `smem`. Synchronizes before (every warp is done reading the pipeline buffers)
// and after (the tile is complete).
template <class Cfg, class Acc>
__device__ __forceinline__ void stage_accumulators(Accumulators<Cfg, Acc>& acc, unsigned char* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp / Cfg::kWarpsN, warp_n = warp % Cfg::kWarpsN;
  using V2 = typename AccVec<Acc>::V2;
  __syncthreads();  // every warp is done reading the pipeline buffers
  Acc* cs = reinterpret_cast<Acc*>(smem);
  {
    const int r0 = warp_m * Cfg::kWM + (lane >> 2), c0 = warp_n * Cfg::kWN + (lane & 3) * 2;
#pragma unroll
    for (int mi = 0; mi < Cfg::kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < Cfg::kNI; ++ni) {
        Acc* dst = cs + (r0 + mi * 16) * Cfg::kCStride + c0 + ni * 8;
        *reinterpret_cast<V2*>(dst) = AccVec<Acc>::make2(acc[mi][ni][0], acc[mi][ni][1]);
        *reinterpret_cast<V2*>(dst + 8 * Cfg::kCStride) = AccVec<Acc>::make2(acc[mi][ni][2], acc[mi][ni][3]);
      }
  }
  __syncthreads();
}

// Accumulators -> shared memory (FP32, reusing the pipeline buffers) -> bias, residual, activation
// -> C, so that bias, residual and output move as coalesced 16-byte vectors; ragged edges and
// unaligned strides fall back to scalar accesses. The activation is a template argument of the
// store loop, chosen once per launch.
template <class T, class Cfg>
__device__ __forceinline__ void store_accumulators(const OutputTile<T>& p, Accumulators<Cfg>& acc, unsigned char* smem,
                                                   int block_m, int block_n) {
  stage_accumulators<Cfg, float>(acc, smem);
  const float* cs = reinterpret_cast<const float*>(smem);
  with_activation(p.epi.activation, [&](auto act) {
    store_tile<T, Cfg, decltype(act)::value>(p, cs, block_m, block_n);
  });
}

}  // namespace quench::kernels::mma
