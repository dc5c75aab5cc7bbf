// quench's INT8 arithmetic, defined once: the CPU INT8 reference (ops/quant_*.cpp) and the
// GPU INT8 kernels (kernels/) both call these functions, so they agree bit for bit.
//
// Plain C++17 with no library calls on the run-time path: every run-time function is
// constexpr, which nvcc (with --expt-relaxed-constexpr, set for quench_kernels) accepts in
// device code, so no __host__ __device__ annotation is needed. The functions that derive
// constants from real numbers (multiplier_from_real, quantize_bias) run on the host at build
// time only. See docs/int8.md for the definition in formulas.
//
// Conventions
//   - Symmetric quantization, zero point 0: real = q * scale.
//   - Every rounding to an integer is round-half-to-even (the IEEE default, numpy's round and
//     ONNX QuantizeLinear's): it is unbiased, so errors do not drift over long accumulations.
//   - INT8 values are clamped to [-128, 127]; weights quantized from their own max|w| land in
//     [-127, 127] by construction.
#pragma once

#include <cmath>
#include <cstdint>

namespace quench::quant {

inline constexpr int32_t kInt8Min = -128;
inline constexpr int32_t kInt8Max = 127;
inline constexpr int32_t kInt32Min = -2147483647 - 1;
inline constexpr int32_t kInt32Max = 2147483647;

// The largest reduction length K for which an INT8 x INT8 dot product cannot leave int32:
// K * 128 * 128 <= 2^31 - 1. Ops refuse longer reductions, so the accumulator never wraps on
// either device.
inline constexpr int64_t kMaxReduction = kInt32Max / (128 * 128);

// v rounded to the nearest integer, ties to even, clamped to [lo, hi]; NaN gives 0.
// T is float or double. The clamp comes first so that the truncating cast below is defined;
// the fractional part v - trunc(v) of a float is exact, so the tie test is exact.
template <class T>
constexpr int64_t round_half_even(T v, int64_t lo, int64_t hi) {
  if (!(v == v)) return 0;
  if (v <= static_cast<T>(lo)) return lo;
  if (v >= static_cast<T>(hi)) return hi;
  const int64_t t = static_cast<int64_t>(v);  // toward zero
  const T frac = v - static_cast<T>(t);
  const bool odd = (t & 1) != 0;
  int64_t r = t;
  if (frac > T(0.5) || (frac == T(0.5) && odd)) r = t + 1;
  if (frac < T(-0.5) || (frac == T(-0.5) && odd)) r = t - 1;
  return r < lo ? lo : (r > hi ? hi : r);
}

// int64 -> int32, saturating.
constexpr int32_t saturate_int32(int64_t v) {
  return v < kInt32Min ? kInt32Min : (v > kInt32Max ? kInt32Max : static_cast<int32_t>(v));
}

// int32 -> [lo, hi] (an INT8 range, or a narrower one for a clamping activation).
constexpr int32_t clamp_int(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// float -> INT8: round_half_even(x / scale) clamped to [-128, 127], with x / scale one IEEE
// float32 division (correctly rounded on the host and with __fdiv_rn on the device).
// scale must be positive and finite.
constexpr int8_t quantize(float x, float scale) {
  return static_cast<int8_t>(round_half_even(x / scale, kInt8Min, kInt8Max));
}

// INT8 -> float: q * scale, one float32 multiplication (exact product rounded once).
constexpr float dequantize(int8_t q, float scale) { return static_cast<float>(q) * scale; }

// INT8 x INT8 -> INT32 multiply-accumulate. With at most kMaxReduction terms the sum is exact.
constexpr int32_t mac(int32_t acc, int8_t a, int8_t b) { return acc + int32_t{a} * int32_t{b}; }

// A positive real multiplier M as mult * 2^-shift with a 31-bit mult:
//   mult in [2^30, 2^31 - 1] (or 0 for M == 0), shift in [-1, 63].
// Applying it takes one 64-bit product and one rounding shift (apply_multiplier), so the
// result is exactly round_half_even(x * value()) for the represented value, with no
// intermediate rounding of the kind a 32-bit high-multiply followed by a shift would add.
struct Multiplier {
  int32_t mult = 0;
  int32_t shift = 0;

  // The represented value (for shift -1, a lower bound of M: every product saturates).
  constexpr double value() const {
    double v = static_cast<double>(mult);
    for (int i = 0; i < shift; ++i) v *= 0.5;  // exact: powers of two
    return shift < 0 ? 2 * v : v;
  }
};

// Derives the multiplier of a real M >= 0 (host, build time). M = m * 2^e with m in [0.5, 1);
// mult = round_half_even(m * 2^31) (exact in double: m has 53 bits), renormalized to 2^30 when
// it rounds up to 2^31; shift = 31 - e. The relative error |value() - M| / M is at most 2^-31.
// Edge cases, each giving exactly the results the unrepresentable shift would give:
//   - shift > 63 (M < ~2^-33): shift is capped at 63; |x * mult| < 2^62 for every int32 x,
//     so x * value() < 0.5 in magnitude and rounds to 0 either way.
//   - shift < 0 (M >= ~2^31): shift is capped at -1; |x * mult * 2| >= 2^31 for every
//     x != 0, so every x != 0 saturates int32 either way.
// Returns false (leaving *out unchanged) for a negative, NaN or infinite M.
inline bool multiplier_from_real(double m_real, Multiplier* out) {
  if (!(m_real >= 0) || !std::isfinite(m_real)) return false;
  if (m_real == 0) {
    *out = Multiplier{0, 0};
    return true;
  }
  int e = 0;
  const double m = std::frexp(m_real, &e);  // m in [0.5, 1)
  int64_t mult = static_cast<int64_t>(std::nearbyint(std::ldexp(m, 31)));
  if (mult == (int64_t{1} << 31)) {
    mult >>= 1;
    ++e;
  }
  int shift = 31 - e;
  if (shift < -1) shift = -1;
  if (shift > 63) shift = 63;
  *out = Multiplier{static_cast<int32_t>(mult), shift};
  return true;
}

// round_half_even(p / 2^shift) for shift in [0, 63], in integers: floor by the arithmetic
// shift, then compare the remainder with half.
constexpr int64_t rounding_shift_right(int64_t p, int32_t shift) {
  if (shift <= 0) return p;
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const uint64_t half = uint64_t{1} << (shift - 1);
  const int64_t q = p >> shift;  // floor (arithmetic shift)
  const uint64_t rem = static_cast<uint64_t>(p) & mask;
  return (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
}

// round_half_even(x * m.value()), saturated to int32. |x * mult| < 2^62, so the product is
// exact in int64; a negative shift means a left shift that saturates every nonzero product.
constexpr int32_t apply_multiplier(int32_t x, Multiplier m) {
  const int64_t p = int64_t{x} * int64_t{m.mult};
  if (m.shift < 0) return p == 0 ? 0 : (p > 0 ? kInt32Max : kInt32Min);
  return saturate_int32(rounding_shift_right(p, m.shift));
}

// The real multipliers an INT8 layer needs, each computed in double from the float32 scales
// (so the host derivation is the same whichever device runs the layer):
//   requantization  M = s_in * s_w / s_out
//   residual        K = s_r / (s_in * s_w)   (brings an INT8 residual into accumulator units)
//   dequantization  D = float(s_in * s_w)    (float output: y = float(acc) * D)
inline double requant_real(float s_in, float s_w, float s_out) {
  return static_cast<double>(s_in) * static_cast<double>(s_w) / static_cast<double>(s_out);
}
inline double residual_real(float s_r, float s_in, float s_w) {
  return static_cast<double>(s_r) / (static_cast<double>(s_in) * static_cast<double>(s_w));
}
inline float dequant_scale(float s_in, float s_w) {
  return static_cast<float>(static_cast<double>(s_in) * static_cast<double>(s_w));
}

// A float bias as INT32 at scale s_in * s_w (host, build time):
// saturate_int32(round_half_even(b / (s_in * s_w))), the division in double.
inline int32_t quantize_bias(float b, float s_in, float s_w) {
  const double unit = static_cast<double>(s_in) * static_cast<double>(s_w);
  return static_cast<int32_t>(round_half_even(static_cast<double>(b) / unit, kInt32Min, kInt32Max));
}

// The accumulator the epilogue works on: the dot product plus the INT32 bias plus the residual
// brought into accumulator units, summed in int64 and saturated once.
constexpr int32_t epilogue_accumulator(int32_t dot, int32_t bias, int8_t residual, bool has_residual,
                                       Multiplier residual_mult) {
  int64_t s = int64_t{dot} + int64_t{bias};
  if (has_residual) s += apply_multiplier(residual, residual_mult);
  return saturate_int32(s);
}

// INT8 output of an accumulator: requantize, then clamp to [lo, hi] (the INT8 range, or a
// ReLU/ReLU6/Clip range already expressed in the quantized domain, see clamp_bounds).
constexpr int8_t requantize_int8(int32_t acc, Multiplier m, int32_t lo, int32_t hi) {
  return static_cast<int8_t>(clamp_int(apply_multiplier(acc, m), lo, hi));
}

// The quantized bounds of a clamping activation min(max(y, a), b) at output scale s:
// [quantize(a, s), quantize(b, s)] (infinite bounds saturate to -128 / 127). Because quantize
// is monotonic, clamping the quantized value to these bounds equals quantizing the clamped
// real value. ReLU is a = 0, b = +inf; ReLU6 is a = 0, b = 6.
constexpr void clamp_bounds(float a, float b, float s, int32_t* lo, int32_t* hi) {
  *lo = quantize(a, s);
  *hi = quantize(b, s);
}

// Float output of an accumulator: float(acc) * D, each step one IEEE float32 operation
// (the conversion rounds to nearest even beyond 2^24).
constexpr float dequantize_accumulator(int32_t acc, float d) { return static_cast<float>(acc) * d; }

}  // namespace quench::quant
