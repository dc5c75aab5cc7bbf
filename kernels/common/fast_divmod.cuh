// Division by a divisor fixed at launch time, with a multiply-high and a shift instead of the
// ~20-instruction integer division: index arithmetic of the broadcast, pad and transpose kernels
// (one division per dimension per element) would otherwise cost more than their memory traffic.
//
// For a divisor d in [1, 2^31) let s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1 (< 2^32);
// then for every n in [0, 2^31):  n / d == (umulhi(n, m) + n) >> s  (Granlund & Montgomery, 1994;
// the sum cannot overflow because umulhi(n, m) < n). Launchers keep their indices below 2^31.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace quench::kernels {

struct FastDivmod {
  uint32_t divisor = 1;
  uint32_t multiplier = 1;
  uint32_t shift = 0;

  FastDivmod() = default;
  // d must lie in [1, 2^31); callers check (a 0 or larger divisor gives wrong quotients).
  __host__ __device__ explicit FastDivmod(uint32_t d) : divisor(d) {
    shift = 0;
    while ((uint64_t{1} << shift) < d) ++shift;
    multiplier = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }

  // n in [0, 2^31).
  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t hi = __umulhi(n, multiplier);
#else
    const uint32_t hi = static_cast<uint32_t>((uint64_t{n} * multiplier) >> 32);
#endif
    return (hi + n) >> shift;
  }

  // quotient and remainder of n / divisor, n in [0, 2^31).
  __host__ __device__ __forceinline__ void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
    q = div(n);
    r = n - q * divisor;
  }
};

inline constexpr uint32_t kFastDivmodLimit = 0x80000000u;  // exclusive bound on n and d

}  // namespace quench::kernels
