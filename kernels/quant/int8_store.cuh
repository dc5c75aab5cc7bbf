// Device side of the INT8 epilogue (kernels/quant/int8_epilogue.cuh): channel constants into
// registers, V consecutive outputs of one row at a time with vector loads and stores, and the
// store of a GEMM / convolution tile from its staged INT32 accumulators.
//
// The epilogue's shape is fixed once per launch (Mode, residual or not: with_mode), so the
// per-element code carries no switch on it and loads only the channel constants it uses.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/mma_pipeline.cuh"
#include "kernels/quant/int8_epilogue.cuh"

namespace quench::kernels::int8 {

enum class Mode : int {
  kClamp = 0,  // INT8 output, none / ReLU / Clip
  kAct,        // INT8 output, another activation
  kFloat,      // FP32 / FP16 output
};

template <Mode M, bool kResidual>
struct ModeTag {
  static constexpr Mode mode = M;
  static constexpr bool residual = kResidual;
};

// Calls f(ModeTag<M, kResidual>{}) for the launch's epilogue (uniform across the launch).
template <class Out, class F>
__device__ __forceinline__ void with_mode(const Epilogue& e, bool has_residual, F&& f) {
  if constexpr (std::is_same_v<Out, int8_t>) {
    if (e.int_clamp) {
      if (has_residual) {
        f(ModeTag<Mode::kClamp, true>{});
      } else {
        f(ModeTag<Mode::kClamp, false>{});
      }
    } else {
      if (has_residual) {
        f(ModeTag<Mode::kAct, true>{});
      } else {
        f(ModeTag<Mode::kAct, false>{});
      }
    }
  } else {
    if (has_residual) {
      f(ModeTag<Mode::kFloat, true>{});
    } else {
      f(ModeTag<Mode::kFloat, false>{});
    }
  }
}

// ---- channel constants --------------------------------------------------------------------------

// V consecutive words of one table field from p, global or shared memory (V = 1 scalar; 4 or 8:
// p 16-byte aligned).
template <int V>
__device__ __forceinline__ void load_field(const int32_t* p, int32_t (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = *p;
  } else {
    static_assert(V % 4 == 0, "vector field loads take 4 words at a time");
#pragma unroll
    for (int i = 0; i < V / 4; ++i) {
      const int4 w = reinterpret_cast<const int4*>(p)[i];
      out[4 * i] = w.x;
      out[4 * i + 1] = w.y;
      out[4 * i + 2] = w.z;
      out[4 * i + 3] = w.w;
    }
  }
}

// Channels c0 .. c0+V-1 of a table (global: stride table_stride(channels); or the block's copy in
// shared memory); only the fields mode M uses are read, the others stay zero. V > 1 needs
// c0 % 4 == 0, stride % 4 == 0 and a 16-byte aligned table.
template <Mode M, bool kResidual, int V>
__device__ __forceinline__ void load_channels(const int32_t* table, int64_t stride, int c0, Channel (&ch)[V]) {
  int32_t w[V];
  load_field<V>(table + kBias * stride + c0, w);
#pragma unroll
  for (int i = 0; i < V; ++i) ch[i].bias = w[i];
  if constexpr (M == Mode::kClamp) {
    load_field<V>(table + kRequantMult * stride + c0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) ch[i].requant.mult = w[i];
    load_field<V>(table + kRequantShift * stride + c0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) ch[i].requant.shift = w[i];
  }
  if constexpr (M != Mode::kFloat && kResidual) {
    load_field<V>(table + kResidualMult * stride + c0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) ch[i].residual.mult = w[i];
    load_field<V>(table + kResidualShift * stride + c0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) ch[i].residual.shift = w[i];
  }
  if constexpr (M != Mode::kClamp) {
    load_field<V>(table + kDequant * stride + c0, w);
#pragma unroll
    for (int i = 0; i < V; ++i) ch[i].dequant = __int_as_float(w[i]);
  }
}

// ---- V outputs of one row -----------------------------------------------------------------------

// What the element arithmetic works on: int8_t for INT8 outputs, float for FP32 / FP16 ones
// (the FP16 residual widened exactly, the FP16 output rounded once at the store).
template <class Out>
using Val = std::conditional_t<std::is_same_v<Out, int8_t>, int8_t, float>;

template <class Out>
struct Lanes;  // elements of Out in one 32-bit word
template <>
struct Lanes<int8_t> {
  static constexpr int kPerWord = 4;
  static __device__ __forceinline__ int8_t get(uint32_t w, int lane) { return static_cast<int8_t>(w >> (8 * lane)); }
  static __device__ __forceinline__ uint32_t put(int8_t v, int lane) {
    return static_cast<uint32_t>(static_cast<uint8_t>(v)) << (8 * lane);
  }
};
template <>
struct Lanes<__half> {
  static constexpr int kPerWord = 2;
  static __device__ __forceinline__ float get(uint32_t w, int lane) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> (16 * lane))));
  }
  static __device__ __forceinline__ uint32_t put(float v, int lane) {
    return static_cast<uint32_t>(__half_as_ushort(__float2half_rn(v))) << (16 * lane);
  }
};
template <>
struct Lanes<float> {
  static constexpr int kPerWord = 1;
  static __device__ __forceinline__ float get(uint32_t w, int) { return __uint_as_float(w); }
  static __device__ __forceinline__ uint32_t put(float v, int) { return __float_as_uint(v); }
};

// W 32-bit words at p (W = 1, 2, 4 or 8; p aligned to min(4 W, 16) bytes).
template <int W>
__device__ __forceinline__ void load_words(const void* p, uint32_t (&w)[W]) {
  if constexpr (W == 1) {
    w[0] = *static_cast<const uint32_t*>(p);
  } else if constexpr (W == 2) {
    const uint2 v = *static_cast<const uint2*>(p);
    w[0] = v.x;
    w[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < W / 4; ++i) {
      const uint4 v = static_cast<const uint4*>(p)[i];
      w[4 * i] = v.x;
      w[4 * i + 1] = v.y;
      w[4 * i + 2] = v.z;
      w[4 * i + 3] = v.w;
    }
  }
}
template <int W>
__device__ __forceinline__ void store_words(void* p, const uint32_t (&w)[W]) {
  if constexpr (W == 1) {
    *static_cast<uint32_t*>(p) = w[0];
  } else if constexpr (W == 2) {
    *static_cast<uint2*>(p) = make_uint2(w[0], w[1]);
  } else {
#pragma unroll
    for (int i = 0; i < W / 4; ++i)
      static_cast<uint4*>(p)[i] = make_uint4(w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]);
  }
}

// V elements of Out at p as Val (V = 1, or a multiple of the elements per word with p aligned to
// the vector). Plain loads: a residual may alias the output (read before written, same thread).
template <class Out, int V>
__device__ __forceinline__ void load_vals(const Out* p, Val<Out> (&v)[V]) {
  if constexpr (V == 1) {
    if constexpr (std::is_same_v<Out, __half>) {
      v[0] = __half2float(*p);
    } else {
      v[0] = *p;
    }
  } else {
    constexpr int kPer = Lanes<Out>::kPerWord, kWords = V / kPer;
    static_assert(V % kPer == 0, "whole words only");
    uint32_t w[kWords];
    load_words<kWords>(p, w);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = Lanes<Out>::get(w[i / kPer], i % kPer);
  }
}

template <class Out, int V>
__device__ __forceinline__ void store_vals(Out* p, const Val<Out> (&v)[V]) {
  if constexpr (V == 1) {
    if constexpr (std::is_same_v<Out, __half>) {
      *p = __float2half_rn(v[0]);
    } else {
      *p = v[0];
    }
  } else {
    constexpr int kPer = Lanes<Out>::kPerWord, kWords = V / kPer;
    uint32_t w[kWords];
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = 0;
#pragma unroll
    for (int i = 0; i < V; ++i) w[i / kPer] |= Lanes<Out>::put(v[i], i % kPer);
    store_words<kWords>(p, w);
  }
}

template <class Out, Mode M, bool kResidual>
__device__ __forceinline__ Val<Out> finish_element(int32_t dot, const Channel& c, Val<Out> r, const Epilogue& e) {
  if constexpr (M == Mode::kClamp) {
    return element_int8_clamp(dot, c, r, kResidual, e);
  } else if constexpr (M == Mode::kAct) {
    return element_int8_act(dot, c, r, kResidual, e);
  } else {
    return element_float(dot, c, r, kResidual, e);
  }
}

// y[0..V) = epilogue(dot[i]) with channel constants ch[i] and residual res[0..V) (kResidual).
template <class Out, Mode M, bool kResidual, int V>
__device__ __forceinline__ void finish_row(const int32_t (&dot)[V], const Channel (&ch)[V], const Out* res, Out* y,
                                           const Epilogue& e) {
  Val<Out> r[V];
  if constexpr (kResidual) {
    load_vals<Out, V>(res, r);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) r[i] = 0;
  }
  Val<Out> v[V];
#pragma unroll
  for (int i = 0; i < V; ++i) v[i] = finish_element<Out, M, kResidual>(dot[i], ch[i], r[i], e);
  store_vals<Out, V>(y, v);
}

// ---- GEMM / convolution tiles -------------------------------------------------------------------

// Where a BM x BN tile goes: y [m, ldy] (columns 0..n-1 of this matrix), the residual [m, ldr] of
// y's type (may alias y), channel j's constants at table[j] (already offset to the matrix's first
// channel; stride table_stride(all channels)).
template <class Out>
struct Int8Tile {
  int m, n;
  Out* y;
  int64_t ldy;
  const Out* residual;
  int64_t ldr;
  const int32_t* table;
  int64_t stride;
  bool vector_store;  // y and residual rows allow 8-element accesses at multiples of 8 columns
};

// Shared memory an INT8 tile epilogue needs: the staged INT32 tile, then the block's BN columns of
// every channel-table field.
template <class Cfg>
constexpr int int8_epilogue_smem_bytes() {
  return Cfg::kEpilogueBytes + Cfg::kBN * kTableFields * 4;
}
template <class Cfg>
constexpr int int8_smem_bytes() {
  return Cfg::kPipeBytes > int8_epilogue_smem_bytes<Cfg>() ? Cfg::kPipeBytes : int8_epilogue_smem_bytes<Cfg>();
}

// Staged INT32 tile (row stride Cfg::kCStride) and the block's channel constants (`consts`,
// [kTableFields][BN]) -> epilogue -> y, 8 columns per thread per step; ragged edges and unaligned
// rows fall back to one column at a time.
template <class Cfg, class Out, Mode M, bool kResidual>
__device__ __forceinline__ void store_int8_tile(const Int8Tile<Out>& t, const Epilogue& e, const int32_t* cs,
                                                const int32_t* consts, int block_m, int block_n) {
  constexpr int kV = 8, kVecPerRow = Cfg::kBN / kV;
  for (int idx = threadIdx.x; idx < Cfg::kBM * kVecPerRow; idx += Cfg::kThreads) {
    const int r = idx / kVecPerRow, cv = idx % kVecPerRow;
    const int gm = block_m + r, gn = block_n + cv * kV;
    if (gm >= t.m || gn >= t.n) continue;
    const int4 lo = *reinterpret_cast<const int4*>(cs + r * Cfg::kCStride + cv * kV);
    const int4 hi = *reinterpret_cast<const int4*>(cs + r * Cfg::kCStride + cv * kV + 4);
    const int32_t dot[kV] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    Channel ch[kV];
    load_channels<M, kResidual, kV>(consts, Cfg::kBN, cv * kV, ch);
    Out* out = t.y + gm * t.ldy + gn;
    const Out* res = kResidual ? t.residual + gm * t.ldr + gn : nullptr;
    if (t.vector_store && gn + kV <= t.n) {
      finish_row<Out, M, kResidual, kV>(dot, ch, res, out, e);
    } else {
#pragma unroll
      for (int j = 0; j < kV; ++j) {
        if (gn + j < t.n) {
          const int32_t d[1] = {dot[j]};
          const Channel c[1] = {ch[j]};
          finish_row<Out, M, kResidual, 1>(d, c, kResidual ? res + j : nullptr, out + j, e);
        }
      }
    }
  }
}

// Accumulators -> shared memory, with the block's channel constants beside them -> the launch's
// epilogue -> y. The kernel's dynamic shared memory must be int8_smem_bytes<Cfg>().
template <class Cfg, class Out>
__device__ __forceinline__ void store_int8_accumulators(const Int8Tile<Out>& t, const Epilogue& e,
                                                        mma::Accumulators<Cfg, int32_t>& acc, unsigned char* smem,
                                                        int block_m, int block_n) {
  mma::stage_accumulators<Cfg, int32_t>(acc, smem);  // the pipeline buffers are free from here on
  int32_t* consts = reinterpret_cast<int32_t*>(smem + Cfg::kEpilogueBytes);
  for (int idx = threadIdx.x; idx < kTableFields * Cfg::kBN; idx += Cfg::kThreads) {
    const int field = idx / Cfg::kBN, j = idx % Cfg::kBN;
    consts[idx] = block_n + j < t.n ? __ldg(t.table + field * t.stride + block_n + j) : 0;
  }
  __syncthreads();
  const int32_t* cs = reinterpret_cast<const int32_t*>(smem);
  with_mode<Out>(e, t.residual != nullptr, [&](auto tag) {
    using Tag = decltype(tag);
    store_int8_tile<Cfg, Out, Tag::mode, Tag::residual>(t, e, cs, consts, block_m, block_n);
  });
}

}  // namespace quench::kernels::int8
