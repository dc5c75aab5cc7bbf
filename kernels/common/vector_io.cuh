// V consecutive elements of T moved as one access (16, 8, 4 or 2 bytes), converted to and from
// V floats: the loads and stores of the memory-bound families (elementwise, pool, softmax,
// resize). Pointers must be aligned to V * sizeof(T); launchers check that before picking V.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace quench::kernels {

// The unsigned type of `bytes` bytes, for raw copies.
template <int Bytes>
struct RawWord;
template <> struct RawWord<16> { using type = uint4; };
template <> struct RawWord<8> { using type = uint2; };
template <> struct RawWord<4> { using type = uint32_t; };
template <> struct RawWord<2> { using type = uint16_t; };
template <> struct RawWord<1> { using type = uint8_t; };

#ifdef __CUDACC__
// Element <-> float for the storage types, and 32-bit words <-> floats without taking addresses
// (an address-taken register array is easily demoted to local memory).
__device__ __forceinline__ float to_float(__half h) { return __half2float(h); }
__device__ __forceinline__ float to_float(float v) { return v; }
template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }

template <class T>
struct WordCodec;  // one 32-bit word = 32 / (8 * sizeof(T)) elements

template <>
struct WordCodec<__half> {
  static constexpr int kPerWord = 2;
  static __device__ __forceinline__ void unpack(uint32_t w, float* f) {
    f[0] = __half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu)));
    f[1] = __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16)));
  }
  static __device__ __forceinline__ uint32_t pack(const float* f) {
    const uint32_t lo = __half_as_ushort(__float2half_rn(f[0])), hi = __half_as_ushort(__float2half_rn(f[1]));
    return lo | (hi << 16);
  }
};

template <>
struct WordCodec<float> {
  static constexpr int kPerWord = 1;
  static __device__ __forceinline__ void unpack(uint32_t w, float* f) { f[0] = __uint_as_float(w); }
  static __device__ __forceinline__ uint32_t pack(const float* f) { return __float_as_uint(f[0]); }
};

template <class T, int V>
struct VecIO {
  static_assert(V == 1 || V == 2 || V == 4 || V == 8, "vector width 1, 2, 4 or 8");
  static constexpr int kBytes = V * static_cast<int>(sizeof(T));
  using Word = typename RawWord<kBytes>::type;

  // Read-only data (never written during the kernel): through the non-coherent cache.
  static __device__ __forceinline__ void load_ro(const T* p, float (&f)[V]) {
    unpack(__ldg(reinterpret_cast<const Word*>(p)), f);
  }
  // Data that may alias the output (in-place operations).
  static __device__ __forceinline__ void load(const T* p, float (&f)[V]) { unpack(*reinterpret_cast<const Word*>(p), f); }
  static __device__ __forceinline__ void store(T* p, const float (&f)[V]) { *reinterpret_cast<Word*>(p) = pack(f); }

  static __device__ __forceinline__ void unpack(const Word& raw, float (&f)[V]) {
    if constexpr (kBytes == 2) {
      f[0] = to_float(__ushort_as_half(raw));
    } else if constexpr (kBytes == 4) {
      WordCodec<T>::unpack(raw, f);
    } else if constexpr (kBytes == 8) {
      constexpr int k = WordCodec<T>::kPerWord;
      WordCodec<T>::unpack(raw.x, f);
      WordCodec<T>::unpack(raw.y, f + k);
    } else {
      constexpr int k = WordCodec<T>::kPerWord;
      WordCodec<T>::unpack(raw.x, f);
      WordCodec<T>::unpack(raw.y, f + k);
      WordCodec<T>::unpack(raw.z, f + 2 * k);
      WordCodec<T>::unpack(raw.w, f + 3 * k);
    }
  }
  static __device__ __forceinline__ Word pack(const float (&f)[V]) {
    if constexpr (kBytes == 2) {
      return __half_as_ushort(__float2half_rn(f[0]));
    } else if constexpr (kBytes == 4) {
      return WordCodec<T>::pack(f);
    } else if constexpr (kBytes == 8) {
      constexpr int k = WordCodec<T>::kPerWord;
      return make_uint2(WordCodec<T>::pack(f), WordCodec<T>::pack(f + k));
    } else {
      constexpr int k = WordCodec<T>::kPerWord;
      return make_uint4(WordCodec<T>::pack(f), WordCodec<T>::pack(f + k), WordCodec<T>::pack(f + 2 * k),
                        WordCodec<T>::pack(f + 3 * k));
    }
  }
};
#endif  // __CUDACC__

// True when every non-null pointer is aligned to `bytes`.
inline bool all_aligned(unsigned bytes, std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % bytes != 0) return false;
  return true;
}

// Elements per access along a contiguous innermost dim of `inner` elements: 8 or 2 when the
// caller allows it (`max_vector`), `inner` divides and every pointer is aligned for it; else 1.
inline int vector_width_for(int max_vector, int64_t inner, unsigned elem_bytes, std::initializer_list<const void*> ptrs) {
  for (int v : {8, 2})
    if (max_vector >= v && inner % v == 0 && all_aligned(v * elem_bytes, ptrs)) return v;
  return 1;
}

// True when [p, p + p_bytes) and [q, q + q_bytes) share a byte.
inline bool ranges_overlap(const void* p, size_t p_bytes, const void* q, size_t q_bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(q);
  return a < b + q_bytes && b < a + p_bytes;
}

}  // namespace quench::kernels
