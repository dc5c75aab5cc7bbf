// The |x| histogram and the scale methods (max, percentile, entropy) on known distributions.
// Every expected range below is derived in its comment from the distribution, the sample
// count and the histogram's bin width; none is read off a run.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/calibration/histogram.h"
#include "engine/calibration/scale_methods.h"

namespace quench::calib {
namespace {

constexpr int kSamples = 1'000'000;

std::vector<float> gaussian(uint32_t seed, int n = kSamples) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

AbsHistogram histogram_of(const std::vector<float>& v, int bins = AbsHistogram::kDefaultBins) {
  AbsHistogram h(bins);
  h.add(v);
  return h;
}

int64_t count_above(const std::vector<float>& v, double t) {
  int64_t k = 0;
  for (float x : v) k += std::fabs(x) > t;
  return k;
}

// ---- Histogram -------------------------------------------------------------------------------

// The test's own binning at a given final range: the smallest power of two above max|x|.
std::vector<int64_t> direct_bins(const std::vector<float>& v, int bins, double* range_out) {
  double mx = 0;
  for (float x : v) mx = std::max(mx, static_cast<double>(std::fabs(x)));
  double r = 1;
  while (r <= mx) r *= 2;
  while (r / 2 > mx) r /= 2;
  *range_out = r;
  std::vector<int64_t> c(static_cast<size_t>(bins), 0);
  for (float x : v)
    if (x != 0) ++c[static_cast<size_t>(std::floor(std::fabs(x) / r * bins))];
  return c;
}

TEST(CalibrationHistogram, GrowingTheRangeLosesNoCountAndMatchesDirectBinning) {
  std::mt19937 rng(1);
  std::vector<float> all;
  AbsHistogram grown(256);
  // Batches whose max grows by 7x, 150x and then a lone large value: several merges.
  for (float spread : {0.3f, 2.1f, 315.0f}) {
    std::uniform_real_distribution<float> d(-spread, spread);
    std::vector<float> batch(5000);
    for (float& x : batch) x = d(rng);
    grown.add(batch);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  const std::vector<float> lone{-4096.5f};
  grown.add(lone);
  all.push_back(lone[0]);
  double range = 0;
  const std::vector<int64_t> want = direct_bins(all, 256, &range);
  EXPECT_EQ(grown.range(), range);
  EXPECT_EQ(grown.range(), 8192.0);
  EXPECT_EQ(grown.counts(), want);
  EXPECT_EQ(grown.nonzero(), static_cast<int64_t>(all.size()));
  EXPECT_EQ(grown.max_abs(), 4096.5);
  // Order does not matter: all at once, and largest first.
  EXPECT_EQ(histogram_of(all, 256).counts(), want);
  std::vector<float> reversed(all.rbegin(), all.rend());
  EXPECT_EQ(histogram_of(reversed, 256).counts(), want);
}

TEST(CalibrationHistogram, ZerosAndNonFiniteValuesAreCountedApart) {
  AbsHistogram h(100);  // rounded up to 128
  EXPECT_EQ(h.bins(), 128);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  h.add(std::vector<float>{0.0f, -0.0f, 0.0f});
  EXPECT_EQ(h.range(), 0.0);  // nothing nonzero yet
  h.add(std::vector<float>{inf, nan, -inf, 0.75f, -0.5f, 0.0f});
  EXPECT_EQ(h.zeros(), 4);
  EXPECT_EQ(h.nonfinite(), 3);
  EXPECT_EQ(h.nonzero(), 2);
  EXPECT_EQ(h.max_abs(), 0.75);
  EXPECT_EQ(h.range(), 1.0);
  EXPECT_EQ(h.counts()[96], 1);  // 0.75 * 128
  EXPECT_EQ(h.counts()[64], 1);  // 0.5 * 128
}

// ---- Scale methods on known distributions -----------------------------------------------------

// Uniform on [-1, 1]: |x| is uniform on [0, 1] with density 1.
//   max: the largest of 1M draws is within 1e-5 of 1 except with probability e^-10.
//   percentile 99.99: 0.9999; the empirical quantile's standard deviation is
//     sqrt(p (1 - p) / N) / density = 1e-5, and interpolation inside a bin is exact for a flat
//     density, so 1e-4 is ten deviations.
//   entropy: a flat density is reproduced by every 128-level merge up to sampling noise, so
//     clipping gains nothing while the clipped mass costs (k / N) ln k: the threshold stays
//     at the top, within 0.1% of max (a clip of at most 1000 samples).
TEST(CalibrationScales, Uniform) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(kSamples);
  for (float& x : v) x = d(rng);
  const AbsHistogram h = histogram_of(v);
  EXPECT_GE(max_threshold(h), 1.0 - 1e-5);
  EXPECT_LE(max_threshold(h), 1.0);
  EXPECT_NEAR(percentile_threshold(h, 99.99), 0.9999, 1e-4);
  EXPECT_NEAR(percentile_threshold(h, 50.0), 0.5, 5e-3);
  const double e = entropy_threshold(h);
  EXPECT_GE(e, 0.999 * max_threshold(h));
  EXPECT_LE(e, max_threshold(h));
}

// Gaussian, sigma 1, 1M samples.
//   max: P(max|x| < 4.4) = (1 - 2 Phi(-4.4))^N = e^-10.8; P(max|x| > 6) = N 2 Phi(-6) = 0.002.
//   percentile 99.99: P(|x| > t) = 1e-4 at t = 3.8906; the empirical quantile's deviation is
//     sqrt(p (1 - p) / N) / (2 phi(t)) = 1e-5 / 4.2e-4 = 0.024, bins are 8 / 2048 wide:
//     0.1 is four deviations plus a bin.
//   entropy: clipping k samples into the last bin costs about (k / N) ln(k / q) in KL, q the
//     one or two counts Q gives that bin, while dropping the sparse tail bins above the
//     threshold saves at most their sampling-noise divergence, about 1 / 2N per dropped bin.
//     The ~290 bins between 3.89 sigma (beyond which 100 samples lie) and the max save less
//     (290 / 2N = 1.5e-4) than clipping 100 samples costs (1e-4 ln 100 = 4.6e-4), so the
//     threshold lies above 3.8906; and the tail beyond ~4.4 sigma
//     is a handful of isolated samples, each leaving a mostly empty level that Q must spread
//     over, so clipping at least the largest one pays: the threshold lies below the max.
//     Hence: 3.8906 <= entropy < max, clipping between 1 and 100 samples.
TEST(CalibrationScales, Gaussian) {
  const std::vector<float> v = gaussian(3);
  const AbsHistogram h = histogram_of(v);
  const double mx = max_threshold(h), p = percentile_threshold(h, 99.99), e = entropy_threshold(h);
  EXPECT_GT(mx, 4.4);
  EXPECT_LT(mx, 6.0);
  EXPECT_NEAR(p, 3.8906, 0.1);
  EXPECT_GE(e, 3.8906);
  EXPECT_LT(e, mx);
  const int64_t clipped = count_above(v, e);
  EXPECT_GE(clipped, 1);
  EXPECT_LE(clipped, 100);
}

// Laplacian, b = 1: |x| is exponential with rate 1, P(|x| > t) = e^-t.
//   max: around ln N = 13.8; P(max < 11) = (1 - e^-11)^N = e^-16.7, P(max > 20) = N e^-20 = 0.002.
//   percentile 99.99: t = ln(1e4) = 9.2103; deviation sqrt(p (1 - p) / N) / e^-t = 0.1; bins
//     16 / 2048 wide: 0.4 is four deviations plus a bin.
//   entropy: the same argument as for the Gaussian, with the 100-sample point at 9.2103.
TEST(CalibrationScales, Laplacian) {
  std::mt19937 rng(4);
  std::exponential_distribution<float> mag(1.0f);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(kSamples);
  for (float& x : v) x = sign(rng) ? mag(rng) : -mag(rng);
  const AbsHistogram h = histogram_of(v);
  const double mx = max_threshold(h), p = percentile_threshold(h, 99.99), e = entropy_threshold(h);
  EXPECT_GT(mx, 11.0);
  EXPECT_LT(mx, 20.0);
  EXPECT_NEAR(p, 9.2103, 0.4);
  EXPECT_GE(e, 9.2103);
  EXPECT_LT(e, mx);
  const int64_t clipped = count_above(v, e);
  EXPECT_GE(clipped, 1);
  EXPECT_LE(clipped, 100);
}

// A Gaussian bulk (sigma 1) with ten rare outliers at +-1000 (one in 100,000 values).
//   max: exactly 1000; it takes the outlier.
//   percentile 99.99: the outliers are 1e-5 of the values, so the percentile is the bulk's,
//     3.8906 +- 0.1 as above, but now bins are 1024 / 2048 = 0.5 wide and interpolation
//     inside a bin assumes a flat density: within 3.8906 +- 0.6.
//   entropy: candidates start at 128 bins (128 levels need at least one bin each), here
//     128 * 0.5 = 64, the smallest threshold the method can return at this resolution; any
//     candidate keeping the outliers spreads the bulk over a handful of levels. So the
//     outliers are clipped: the threshold is at most 64 and, not clipping the bulk, at least
//     3.8906.
TEST(CalibrationScales, RareLargeOutliers) {
  std::vector<float> v = gaussian(5);
  for (int i = 0; i < 10; ++i) v[static_cast<size_t>(i * 99991)] = i % 2 ? 1000.0f : -1000.0f;
  const AbsHistogram h = histogram_of(v);
  ASSERT_EQ(h.bin_width(), 0.5);
  EXPECT_EQ(max_threshold(h), 1000.0);
  EXPECT_NEAR(percentile_threshold(h, 99.99), 3.8906, 0.6);
  const double e = entropy_threshold(h);
  EXPECT_LE(e, 128 * h.bin_width());
  EXPECT_GE(e, 3.8906);
  const int64_t clipped = count_above(v, e);
  EXPECT_GE(clipped, 10);        // the outliers
  EXPECT_LE(clipped, 10 + 100);  // and at most the bulk's far tail
}

TEST(CalibrationScales, AllZeroTensor) {
  const AbsHistogram h = histogram_of(std::vector<float>(1000, 0.0f));
  for (CalibrationMethod m : {CalibrationMethod::kMax, CalibrationMethod::kPercentile, CalibrationMethod::kEntropy}) {
    const double t = threshold(h, m);
    EXPECT_EQ(t, 0.0) << method_name(m);
    const float s = scale_from_threshold(t);
    EXPECT_EQ(s, 1.0f);
    EXPECT_TRUE(std::isfinite(1.0f / s));
  }
  const AbsHistogram empty;
  EXPECT_EQ(entropy_threshold(empty), 0.0);
  EXPECT_EQ(percentile_threshold(empty, 99.99), 0.0);
}

// Every value the same: all three thresholds are that value's magnitude, exactly.
TEST(CalibrationScales, SingleConstantValue) {
  for (float c : {3.0f, -3.0f, 0.1f, 1e-30f, 5e4f}) {
    const AbsHistogram h = histogram_of(std::vector<float>(4096, c));
    const double want = std::fabs(static_cast<double>(c));
    for (CalibrationMethod m : {CalibrationMethod::kMax, CalibrationMethod::kPercentile, CalibrationMethod::kEntropy})
      EXPECT_EQ(threshold(h, m), want) << c << " " << method_name(m);
    EXPECT_EQ(scale_from_threshold(want), static_cast<float>(want / 127.0));
  }
}

TEST(CalibrationScales, ScaleFromThresholdAndMethodNames) {
  EXPECT_EQ(scale_from_threshold(127.0), 1.0f);
  EXPECT_EQ(scale_from_threshold(0.0), 1.0f);
  EXPECT_EQ(scale_from_threshold(std::numeric_limits<double>::quiet_NaN()), 1.0f);
  EXPECT_EQ(scale_from_threshold(std::numeric_limits<double>::infinity()), 1.0f);
  EXPECT_GT(scale_from_threshold(1e-300), 0.0f);  // never a zero scale
  for (CalibrationMethod m : {CalibrationMethod::kMax, CalibrationMethod::kPercentile, CalibrationMethod::kEntropy}) {
    CalibrationMethod back = CalibrationMethod::kMax;
    ASSERT_TRUE(method_from_name(method_name(m), &back));
    EXPECT_EQ(back, m);
  }
  CalibrationMethod unused;
  EXPECT_FALSE(method_from_name("kl", &unused));
}

}  // namespace
}  // namespace quench::calib
