// The implicit-GEMM convolution's shared-memory loader (im2col on the fly, kernels/conv/gather.cuh),
// for any element type of the tensor-core pipeline: the FP16 convolution (kernels/conv) and the
// INT8 one (kernels/quant) run the same one.
//
// A (the gathered input): each thread owns one 16-byte chunk column of the A tile (16 / sizeof(T)
// consecutive k) and Cfg::kALoads rows. Per row it keeps the output pixel's input corner
// (RowCorner), per k-tile the tap (kh, kw) and channel c of its chunk's first k, advanced by BK
// each k-tile (the loader is called for k-tiles in order).
//   kVector: the chunk's k are consecutive channels of one tap (Cin_g a multiple of the chunk and
//            16-byte aligned pixels): one cp.async, zero-filled (src-size 0) in the padding and
//            past K.
//   general: the chunk's k may span taps (Cin_g = 3: c, c+1, c+2 of one tap, then the next tap),
//            so each element is loaded on its own (predicated loads, all issued before the first
//            use), packed into four words and stored with one 16-byte shared store.
// B (the packed weight [Cout][kpad], kpad a multiple of the chunk): by cp.async, zero past kpad
// and past this group's Cout_g rows.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/mma_pipeline.cuh"
#include "kernels/conv/gather.cuh"

namespace quench::kernels::conv {

// The unsigned word of one element, for the general gather's raw loads.
template <int Bytes>
struct ElemWord;
template <>
struct ElemWord<1> {
  using type = uint8_t;
};
template <>
struct ElemWord<2> {
  using type = uint16_t;
};

template <class T, class Cfg, bool kVector>
struct ConvTileLoader {
  static constexpr int kRows = Cfg::kALoads;
  static constexpr int kElemsPerChunk = 16 / static_cast<int>(sizeof(T));
  static constexpr int kPerWord = 4 / static_cast<int>(sizeof(T));  // elements per packed 32-bit word

  const GatherGeometry geo;  // by value: held by reference, ptxas scheduled the general gather worse
  const T* x;
  const T* weight;  // also the address of the zero-filling B copies (nothing is read from it)
  int kpad, kt_begin, ld_chunk, ld_row;
  uint32_t smem_base;
  RowCorner rows[kRows];  // A rows: the output pixel of each row this thread loads
  // B rows: this group's output channels, kRowStep rows apart (one base pointer advanced by BK per
  // k-tile: registers are tight in the 128x128 tile); row j is inside when j * kRowStep < b_rows.
  const T* b_src;
  int b_rows;
  Tap tap;  // (kh, kw, c) of this thread's chunk in the next k-tile to load

  // m: GEMM rows (N*OH*OW); n: Cout_g; group's output channels start at group * n.
  __device__ __forceinline__ ConvTileLoader(uint32_t smem_base_, const GatherGeometry& geo_, const T* x_, const T* weight_,
                                            int m, int n, int kpad_, int group, int block_m, int block_n, int kt_begin_)
      : geo(geo_), x(x_), weight(weight_), kpad(kpad_), kt_begin(kt_begin_), smem_base(smem_base_) {
    const int tid = threadIdx.x;
    ld_chunk = tid % Cfg::kChunks;
    ld_row = tid / Cfg::kChunks;
#pragma unroll
    for (int j = 0; j < kRows; ++j) rows[j] = row_corner(geo, block_m + ld_row + j * Cfg::kRowStep, m, group);
    b_src = weight + static_cast<int64_t>(group * n + block_n + ld_row) * kpad +
            (kt_begin * Cfg::kBK + ld_chunk * kElemsPerChunk);
    b_rows = n - block_n - ld_row;
    tap = tap_of(geo, kt_begin * Cfg::kBK + ld_chunk * kElemsPerChunk);
  }

  // Issues (or performs) the copies of k-tile i into pipeline buffer `stage`; i runs 0, 1, ... in order.
  __device__ __forceinline__ void operator()(int stage, int i) {
    constexpr int kChunks = Cfg::kChunks;
    const uint32_t base = smem_base + stage * Cfg::kStageBytes;
    if constexpr (kVector) {
      const TapOffset o = tap_offset(geo, tap);
#pragma unroll
      for (int j = 0; j < kRows; ++j) {
        const bool ok = inside(geo, rows[j], o);
        mma::cp_async_16(base + mma::swizzled_chunk<kChunks>(ld_row + j * Cfg::kRowStep, ld_chunk) * 16,
                         ok ? x + (rows[j].off + o.delta) : x, ok);
      }
    } else {
      using Word = typename ElemWord<sizeof(T)>::type;
      const Word* xs = reinterpret_cast<const Word*>(x);
      uint32_t packed[kRows][4];
      Tap t = tap;
#pragma unroll
      for (int e = 0; e < kElemsPerChunk; ++e) {
        const TapOffset o = tap_offset(geo, t);
#pragma unroll
        for (int j = 0; j < kRows; ++j) {
          const uint32_t v = inside(geo, rows[j], o) ? __ldg(xs + (rows[j].off + o.delta)) : 0u;
          if (e % kPerWord == 0) {
            packed[j][e / kPerWord] = v;
          } else {
            packed[j][e / kPerWord] |= v << (8 * sizeof(T) * (e % kPerWord));
          }
        }
        step_one(geo, t);
      }
#pragma unroll
      for (int j = 0; j < kRows; ++j) {
        mma::st_shared_16(base + mma::swizzled_chunk<kChunks>(ld_row + j * Cfg::kRowStep, ld_chunk) * 16,
                          make_uint4(packed[j][0], packed[j][1], packed[j][2], packed[j][3]));
      }
    }
    // B: this k-tile of the packed weight rows (zero past the packed row).
    const bool kb_ok = (kt_begin + i) * Cfg::kBK + ld_chunk * kElemsPerChunk < kpad;
#pragma unroll
    for (int j = 0; j < Cfg::kBLoads; ++j) {
      const bool ok = kb_ok && j * Cfg::kRowStep < b_rows;
      mma::cp_async_16(base + Cfg::kATileBytes + mma::swizzled_chunk<kChunks>(ld_row + j * Cfg::kRowStep, ld_chunk) * 16,
                       ok ? b_src + static_cast<int64_t>(j * Cfg::kRowStep) * kpad : weight, ok);
    }
    b_src += Cfg::kBK;
    advance(geo, tap, Cfg::kBK);  // the next k-tile
  }
};

}  // namespace quench::kernels::conv
