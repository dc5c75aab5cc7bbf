// The GEMM's shared-memory loader, for any element type of the tensor-core pipeline
// (kernels/common/mma_pipeline.cuh): the FP16 GEMM (kernels/gemm) and the INT8 GEMM
// (kernels/quant) run the same one.
//
// A is row-major [m, lda], B row-major [n, ldb], both K-contiguous with 16-byte aligned rows. Each
// thread owns one 16-byte chunk column of the k-tile (ld_chunk) and Cfg::kALoads / kBLoads rows,
// kRowStep apart; a stage is one cp.async per owned chunk. Rows past m or n, and chunks whose first
// element is at or past k, are zero-filled by cp.async's src-size operand, so the math needs no
// predicates.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/mma_pipeline.cuh"

namespace quench::kernels::mma {

template <class T, class Cfg>
struct GemmTileLoader {
  static constexpr int kElemsPerChunk = 16 / static_cast<int>(sizeof(T));

  const T* a;  // a valid address for the zero-filling copies (nothing is read from it)
  const T* b;
  int k, kt_begin, k_chunk;  // K bound, first k-tile of this block, first k of this thread's chunk
  uint32_t smem_base;
  const T* a_src[Cfg::kALoads];
  const T* b_src[Cfg::kBLoads];
  uint32_t a_dst[Cfg::kALoads], b_dst[Cfg::kBLoads];
  bool a_ok[Cfg::kALoads], b_ok[Cfg::kBLoads];

  // k: elements of a row taking part (chunks at or past it are zero); k-tile i of this block is
  // k-tile kt_begin + i of the matrices.
  __device__ __forceinline__ GemmTileLoader(uint32_t smem_base_, const T* a_, int64_t lda, int m, const T* b_,
                                            int64_t ldb, int n, int k_, int block_m, int block_n, int kt_begin_)
      : a(a_), b(b_), k(k_), kt_begin(kt_begin_), smem_base(smem_base_) {
    const int tid = threadIdx.x;
    const int ld_chunk = tid % Cfg::kChunks, ld_row = tid / Cfg::kChunks;
    k_chunk = ld_chunk * kElemsPerChunk;
#pragma unroll
    for (int i = 0; i < Cfg::kALoads; ++i) {
      const int row = ld_row + i * Cfg::kRowStep, gm = block_m + row;
      a_ok[i] = gm < m;
      a_src[i] = a + (a_ok[i] ? gm * lda : 0) + k_chunk;
      a_dst[i] = swizzled_chunk<Cfg::kChunks>(row, ld_chunk) * 16;
    }
#pragma unroll
    for (int i = 0; i < Cfg::kBLoads; ++i) {
      const int row = ld_row + i * Cfg::kRowStep, gn = block_n + row;
      b_ok[i] = gn < n;
      b_src[i] = b + (b_ok[i] ? gn * ldb : 0) + k_chunk;
      b_dst[i] = Cfg::kATileBytes + swizzled_chunk<Cfg::kChunks>(row, ld_chunk) * 16;
    }
  }

  // Issues the copies of k-tile i (of this block) into pipeline buffer `stage`.
  __device__ __forceinline__ void operator()(int stage, int i) const {
    const int k0 = (kt_begin + i) * Cfg::kBK;
    const bool k_ok = k0 + k_chunk < k;
    const uint32_t base = smem_base + stage * Cfg::kStageBytes;
#pragma unroll
    for (int j = 0; j < Cfg::kALoads; ++j) {
      const bool ok = a_ok[j] && k_ok;
      cp_async_16(base + a_dst[j], ok ? a_src[j] + k0 : a, ok);
    }
#pragma unroll
    for (int j = 0; j < Cfg::kBLoads; ++j) {
      const bool ok = b_ok[j] && k_ok;
      cp_async_16(base + b_dst[j], ok ? b_src[j] + k0 : b, ok);
    }
  }
};

}  // namespace quench::kernels::mma
