// kernels/quant/quant_math.h against independent models of the same definition: exact
// integer arithmetic (__int128) for the fixed-point requantization, float64 for the real
// multiplier, and hand-computed ties and extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/quant/quant_math.h"

namespace quench::quant {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

// Usable in constant expressions, hence in device code under --expt-relaxed-constexpr.
static_assert(quantize(1.5f, 1.0f) == 2 && quantize(2.5f, 1.0f) == 2 && quantize(-2.5f, 1.0f) == -2);
static_assert(apply_multiplier(3, Multiplier{1 << 30, 31}) == 2);  // 1.5 -> 2
static_assert(rounding_shift_right(-5, 1) == -2);                  // -2.5 -> -2

// round_half_even(p / 2^s) in exact 128-bit integers, written independently of the header:
// the quotient and remainder of truncating division, then the tie rule.
__int128 exact_round_shift(__int128 p, int s) {
  if (s <= 0) return p * (static_cast<__int128>(1) << -s);
  const __int128 d = static_cast<__int128>(1) << s;
  __int128 q = p / d, r = p % d;  // truncating
  if (r < 0) {  // to floor
    q -= 1;
    r += d;
  }
  const __int128 twice = 2 * r;
  if (twice > d || (twice == d && (q % 2 != 0))) q += 1;
  return q;
}

int32_t exact_apply(int32_t x, Multiplier m) {
  const __int128 v = exact_round_shift(static_cast<__int128>(x) * m.mult, m.shift);
  return v > kMax ? kMax : (v < kMin ? kMin : static_cast<int32_t>(v));
}

float float_from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST(QuantMath, RoundHalfEvenTies) {
  const float ties[] = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, -3.5f, 126.5f, -127.5f};
  const int64_t want[] = {0, 2, 2, 4, 0, -2, -2, -4, 126, -128};
  for (size_t i = 0; i < std::size(ties); ++i) EXPECT_EQ(round_half_even(ties[i], -128, 127), want[i]) << ties[i];
  // Next to a tie, the nearest integer wins.
  EXPECT_EQ(round_half_even(std::nextafter(2.5f, 3.0f), -128, 127), 3);
  EXPECT_EQ(round_half_even(std::nextafter(2.5f, 2.0f), -128, 127), 2);
  EXPECT_EQ(round_half_even(std::nextafter(-2.5f, -3.0f), -128, 127), -3);
  // Clamping, infinities and NaN.
  EXPECT_EQ(round_half_even(127.5f, -128, 127), 127);
  EXPECT_EQ(round_half_even(-128.5f, -128, 127), -128);
  EXPECT_EQ(round_half_even(1e30f, -128, 127), 127);
  EXPECT_EQ(round_half_even(-std::numeric_limits<float>::infinity(), -128, 127), -128);
  EXPECT_EQ(round_half_even(std::numeric_limits<float>::quiet_NaN(), -128, 127), 0);
  EXPECT_EQ(round_half_even(-0.0f, -128, 127), 0);
}

// Every 127th float bit pattern (34 million of them, all exponents and both signs) against
// nearbyint in float64 (the host's default rounding mode is to nearest, ties to even).
TEST(QuantMath, RoundHalfEvenMatchesNearbyintDensely) {
  int64_t checked = 0;
  for (uint64_t b = 0; b <= 0xffffffffu; b += 127) {
    const float v = float_from_bits(static_cast<uint32_t>(b));
    if (std::isnan(v)) continue;
    const double r = std::nearbyint(static_cast<double>(v));
    const int64_t want = r < -128 ? -128 : (r > 127 ? 127 : static_cast<int64_t>(r));
    ASSERT_EQ(round_half_even(v, -128, 127), want) << "bits " << b;
    ++checked;
  }
  EXPECT_GT(checked, 30'000'000);
}

TEST(QuantMath, QuantizeAndDequantize) {
  // x / scale in float, then ties to even.
  EXPECT_EQ(quantize(0.3f, 0.1f), 3);
  EXPECT_EQ(quantize(0.25f, 0.5f), 0);   // 0.5 -> 0
  EXPECT_EQ(quantize(0.75f, 0.5f), 2);   // 1.5 -> 2
  EXPECT_EQ(quantize(-0.75f, 0.5f), -2);
  EXPECT_EQ(quantize(1000.0f, 0.5f), 127);
  EXPECT_EQ(quantize(-1000.0f, 0.5f), -128);
  EXPECT_EQ(dequantize(-128, 0.5f), -64.0f);
  EXPECT_EQ(dequantize(127, 0.1f), 127.0f * 0.1f);
  // Dense: every INT8 value survives dequantize -> quantize at many scales.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> log_scale(-20.0f, 20.0f);
  for (int t = 0; t < 2000; ++t) {
    const float s = std::exp2(log_scale(rng));
    for (int q = -128; q <= 127; ++q) ASSERT_EQ(quantize(dequantize(static_cast<int8_t>(q), s), s), q) << s;
  }
}

TEST(QuantMath, MacIsExactForAllInt8Pairs) {
  for (int a = -128; a <= 127; ++a)
    for (int b = -128; b <= 127; ++b) ASSERT_EQ(mac(7, static_cast<int8_t>(a), static_cast<int8_t>(b)), 7 + a * b);
  // The longest allowed reduction at the worst operands stays inside int32.
  EXPECT_LE(kMaxReduction * 128 * 128, int64_t{kMax});
  EXPECT_GT((kMaxReduction + 1) * 128 * 128, int64_t{kMax});
}

TEST(QuantMath, MultiplierDerivationIsNormalizedAndClose) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log_m(-40.0, 40.0);
  for (int t = 0; t < 200000; ++t) {
    const double m = std::exp2(log_m(rng));
    Multiplier q;
    ASSERT_TRUE(multiplier_from_real(m, &q));
    ASSERT_GE(q.shift, -1);
    ASSERT_LE(q.shift, 63);
    if (m >= 0x1p31 || m < 0x1p-33) continue;  // the capped ends, checked below
    ASSERT_GE(q.mult, 1 << 30) << m;
    ASSERT_LE(q.mult, kMax) << m;
    // The 31-bit representation: relative error at most 2^-31.
    ASSERT_LE(std::fabs(q.value() - m), std::ldexp(m, -31)) << m;
  }
  // Exactly representable multipliers come back exactly.
  for (double m : {1.0, 0.5, 0.25, 0.75, 3.0, 1024.0, 0x1p-20, 0.1015625, 0x1.fffffffcp-1}) {
    Multiplier q;
    ASSERT_TRUE(multiplier_from_real(m, &q));
    EXPECT_EQ(q.value(), m);
  }
  // Rounding up to 2^31 renormalizes: m just below 1 with more than 31 bits.
  Multiplier q;
  ASSERT_TRUE(multiplier_from_real(std::nextafter(1.0, 0.0), &q));
  EXPECT_EQ(q.mult, 1 << 30);
  EXPECT_EQ(q.shift, 30);
  // Zero, and refusals.
  ASSERT_TRUE(multiplier_from_real(0.0, &q));
  EXPECT_EQ(q.mult, 0);
  EXPECT_FALSE(multiplier_from_real(-1.0, &q));
  EXPECT_FALSE(multiplier_from_real(std::numeric_limits<double>::infinity(), &q));
  EXPECT_FALSE(multiplier_from_real(std::numeric_limits<double>::quiet_NaN(), &q));
}

// The fixed-point product against exact 128-bit arithmetic of the same definition:
// bit-exact for every x, over multipliers from 2^-40 to 2^40.
TEST(QuantMath, ApplyMultiplierIsExactRoundingOfTheRepresentedMultiplier) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> log_m(-40.0, 40.0);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  std::uniform_int_distribution<int32_t> small(-(1 << 20), 1 << 20);
  for (int t = 0; t < 2000; ++t) {
    Multiplier m;
    ASSERT_TRUE(multiplier_from_real(std::exp2(log_m(rng)), &m));
    for (int32_t x : {kMin, kMin + 1, -1, 0, 1, kMax - 1, kMax}) ASSERT_EQ(apply_multiplier(x, m), exact_apply(x, m));
    for (int i = 0; i < 500; ++i) {
      const int32_t x = i % 2 ? any(rng) : small(rng);
      ASSERT_EQ(apply_multiplier(x, m), exact_apply(x, m)) << "x " << x << " mult " << m.mult << " shift " << m.shift;
    }
  }
  // Exhaustive over a dense block of accumulators for a typical requantization multiplier.
  Multiplier typical;
  ASSERT_TRUE(multiplier_from_real(0.0123 * 0.0041 / 0.0457, &typical));
  for (int32_t x = -(1 << 21); x <= (1 << 21); ++x) ASSERT_EQ(apply_multiplier(x, typical), exact_apply(x, typical));
}

// Against the float64 model round(acc * M) of the real multiplier. The represented value M'
// differs from M by at most M * 2^-31, so acc * M' differs from acc * M by at most
// |acc| * M * 2^-31 (plus float64's own rounding of acc * M, under 2^-52 relative). The
// fixed-point result may therefore differ from round(acc * M) only when acc * M lies that
// close to a tie, and then by exactly one. In the range that matters for an INT8 output
// (|acc * M| <= 200) the bound is below 1e-7, so such cases are vanishingly rare.
TEST(QuantMath, ApplyMultiplierMatchesRealMultiplierExceptWithinTheBoundOfATie) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> log_m(-24.0, 4.0), unit(-1.0, 1.0);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  int64_t cases = 0, in_int8_range = 0, differ_in_int8_range = 0;
  for (int t = 0; t < 4000; ++t) {
    const double m_real = std::exp2(log_m(rng));
    Multiplier m;
    ASSERT_TRUE(multiplier_from_real(m_real, &m));
    for (int i = 0; i < 1000; ++i) {
      // Half the accumulators of every magnitude, half landing in [-200, 200] after scaling.
      const int32_t acc = i % 2 ? any(rng) >> (i % 31)
                                : static_cast<int32_t>(std::max(-2e9, std::min(2e9, unit(rng) * 200.0 / m_real)));
      const double prod = static_cast<double>(acc) * m_real;
      if (std::fabs(prod) > 2e9) continue;  // saturation, tested separately
      const double want = std::nearbyint(prod);
      const int32_t got = apply_multiplier(acc, m);
      const double bound = std::fabs(prod) * (0x1p-31 + 0x1p-52);
      const double to_tie = std::fabs(std::fabs(prod - std::floor(prod)) - 0.5);
      ++cases;
      const bool small = std::fabs(prod) <= 200.0;
      in_int8_range += small;
      if (static_cast<double>(got) == want) continue;
      differ_in_int8_range += small;
      ASSERT_LE(to_tie, bound) << "acc " << acc << " M " << m_real;
      ASSERT_EQ(std::fabs(static_cast<double>(got) - want), 1.0);
    }
  }
  EXPECT_GT(cases, 3'000'000);
  EXPECT_GT(in_int8_range, 2'000'000);
  // Expected count: 2 * 1e-7 per case at most, under 1 in 2 million.
  EXPECT_LE(differ_in_int8_range, 5);
  // Exactly representable M (<= 31 bits) and |acc| < 2^22: acc * M is exact in double, so
  // the result equals round(acc * M) with ties to even, no exception.
  for (double m_real : {0.5, 0.25, 0.375, 1.5, 0x1p-10 * 3}) {
    Multiplier m;
    ASSERT_TRUE(multiplier_from_real(m_real, &m));
    for (int32_t acc = -(1 << 16); acc <= (1 << 16); ++acc)
      ASSERT_EQ(apply_multiplier(acc, m), static_cast<int32_t>(std::nearbyint(acc * m_real))) << acc << " " << m_real;
  }
}

TEST(QuantMath, ApplyMultiplierEdgeCases) {
  Multiplier half, one, two, huge, tiny, zero;
  ASSERT_TRUE(multiplier_from_real(0.5, &half));
  ASSERT_TRUE(multiplier_from_real(1.0, &one));
  ASSERT_TRUE(multiplier_from_real(2.0, &two));
  ASSERT_TRUE(multiplier_from_real(1e12, &huge));
  ASSERT_TRUE(multiplier_from_real(1e-15, &tiny));
  ASSERT_TRUE(multiplier_from_real(0.0, &zero));
  EXPECT_EQ(apply_multiplier(kMin, one), kMin);
  EXPECT_EQ(apply_multiplier(kMax, one), kMax);
  EXPECT_EQ(apply_multiplier(kMin, half), -(1 << 30));
  EXPECT_EQ(apply_multiplier(kMax, half), 1 << 30);  // 1073741823.5 -> even
  EXPECT_EQ(apply_multiplier(kMax - 2, half), (1 << 30) - 2);  // 1073741822.5 -> even
  EXPECT_EQ(apply_multiplier(-3, half), -2);  // -1.5
  EXPECT_EQ(apply_multiplier(-5, half), -2);  // -2.5
  EXPECT_EQ(apply_multiplier(5, half), 2);
  EXPECT_EQ(apply_multiplier(7, half), 4);
  EXPECT_EQ(apply_multiplier(kMax, two), kMax);  // saturates
  EXPECT_EQ(apply_multiplier(kMin, two), kMin);
  EXPECT_EQ(apply_multiplier(1 << 29, two), 1 << 30);
  EXPECT_EQ(apply_multiplier(1, huge), kMax);
  EXPECT_EQ(apply_multiplier(-1, huge), kMin);
  EXPECT_EQ(apply_multiplier(0, huge), 0);
  EXPECT_EQ(apply_multiplier(kMax, tiny), 0);
  EXPECT_EQ(apply_multiplier(kMin, tiny), 0);
  EXPECT_EQ(apply_multiplier(kMax, zero), 0);
  // M at 2^-33..2^-32 (shift near 63) still rounds exactly: 2^31 * 2^-32 = 0.5 -> 0 (even).
  Multiplier m;
  ASSERT_TRUE(multiplier_from_real(0x1p-32, &m));
  EXPECT_EQ(apply_multiplier(kMin, m), 0);  // -0.5 -> 0
  ASSERT_TRUE(multiplier_from_real(0x1p-31, &m));
  EXPECT_EQ(apply_multiplier(kMin, m), -1);  // -1
  EXPECT_EQ(apply_multiplier(kMax, m), 1);   // 0.99999... -> 1
}

TEST(QuantMath, BiasAccumulatorAndRequantization) {
  // b / (s_in * s_w) in double, ties to even, saturated.
  EXPECT_EQ(quantize_bias(0.75f, 0.5f, 1.0f), 2);   // 1.5
  EXPECT_EQ(quantize_bias(1.25f, 0.5f, 1.0f), 2);   // 2.5
  EXPECT_EQ(quantize_bias(-1.25f, 0.5f, 1.0f), -2);
  EXPECT_EQ(quantize_bias(1e30f, 1e-3f, 1e-3f), kMax);
  EXPECT_EQ(quantize_bias(-1e30f, 1e-3f, 1e-3f), kMin);
  EXPECT_EQ(quantize_bias(0.1f, 0.01f, 0.02f), static_cast<int32_t>(std::nearbyint(
                                                   double{0.1f} / (double{0.01f} * double{0.02f}))));
  // dot + bias + residual term, summed wide and saturated once.
  Multiplier k;
  ASSERT_TRUE(multiplier_from_real(3.0, &k));
  EXPECT_EQ(epilogue_accumulator(10, 5, -4, true, k), 10 + 5 - 12);
  EXPECT_EQ(epilogue_accumulator(10, 5, -4, false, k), 15);
  EXPECT_EQ(epilogue_accumulator(kMax, kMax, 127, true, k), kMax);
  EXPECT_EQ(epilogue_accumulator(kMin, kMin, -128, true, k), kMin);
  EXPECT_EQ(epilogue_accumulator(kMax, -1, 0, false, k), kMax - 1);  // no early saturation
  // Requantization clamps to the INT8 range, or to an activation's quantized bounds.
  Multiplier m;
  ASSERT_TRUE(multiplier_from_real(0.25, &m));
  EXPECT_EQ(requantize_int8(1000, m, kInt8Min, kInt8Max), 127);
  EXPECT_EQ(requantize_int8(-1000, m, kInt8Min, kInt8Max), -128);
  EXPECT_EQ(requantize_int8(-510, m, kInt8Min, kInt8Max), -128);  // -127.5 -> -128
  EXPECT_EQ(requantize_int8(506, m, kInt8Min, kInt8Max), 126);    // 126.5 -> 126
  int32_t lo = 0, hi = 0;
  clamp_bounds(0.0f, 6.0f, 0.05f, &lo, &hi);  // ReLU6 at scale 0.05: [0, 120]
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 120);
  EXPECT_EQ(requantize_int8(-400, m, lo, hi), 0);
  EXPECT_EQ(requantize_int8(484, m, lo, hi), 120);  // 121 -> 120
  EXPECT_EQ(requantize_int8(476, m, lo, hi), 119);
  clamp_bounds(0.0f, std::numeric_limits<float>::infinity(), 0.05f, &lo, &hi);  // ReLU
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 127);
  // Clamping the quantized value equals quantizing the clamped real value (quantize is
  // monotonic): checked for ReLU6 at scale 0.07 (6 / 0.07 = 85.7: the bound falls between
  // two levels) over many accumulators, with an exactly representable M.
  Multiplier exact;
  ASSERT_TRUE(multiplier_from_real(0x1p-7, &exact));
  clamp_bounds(0.0f, 6.0f, 0.07f, &lo, &hi);
  EXPECT_EQ(hi, 86);
  const double top = static_cast<double>(6.0f / 0.07f);
  for (int32_t acc = -40000; acc <= 40000; ++acc) {
    const double y = std::min(std::max(acc * 0x1p-7, 0.0), top);
    ASSERT_EQ(requantize_int8(acc, exact, lo, hi), static_cast<int32_t>(std::nearbyint(y))) << acc;
  }
  // Float output: float(acc) * D.
  EXPECT_EQ(dequantize_accumulator(-300, 0.125f), -37.5f);
  EXPECT_EQ(dequantize_accumulator((1 << 24) + 1, 1.0f), static_cast<float>(1 << 24));  // ties to even
}

}  // namespace
}  // namespace quench::quant
