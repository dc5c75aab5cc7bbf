// Latency statistics: percentiles by linear interpolation (numpy.percentile's default), checked
// against values computed by hand and by numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "quench/stats.h"

namespace quench {
namespace {

TEST(LatencyStats, PercentileLinearInterpolation) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 50), 2.5);   // rank 1.5: halfway between 2 and 3
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 90), 3.7);   // rank 2.7
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 99), 3.97);  // rank 2.97
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 100), 4);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 150), 4);  // clamped
  EXPECT_DOUBLE_EQ(percentile_sorted(v, -3), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, std::nan("")), 1);
  const std::vector<double> one = {7.5};
  EXPECT_DOUBLE_EQ(percentile_sorted(one, 99), 7.5);
  EXPECT_EQ(percentile_sorted({}, 50), 0.0);
}

// 1..100: numpy.percentile(range(1, 101), [50, 90, 99]) == [50.5, 90.1, 99.01].
TEST(LatencyStats, SummaryOfOneToHundredMatchesNumpy) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  const LatencyStats s = summarize_latencies(v);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.total, 5050);
  EXPECT_DOUBLE_EQ(s.p50, 50.5);
  EXPECT_NEAR(s.p90, 90.1, 1e-12);
  EXPECT_NEAR(s.p95, 95.05, 1e-12);
  EXPECT_NEAR(s.p99, 99.01, 1e-12);
  EXPECT_NEAR(s.stddev, 28.86607004772212, 1e-12);  // numpy.std(range(1, 101))
  EXPECT_NEAR(s.p99_over_p50, 99.01 / 50.5, 1e-12);
}

// One slow outlier among steady samples: p50 stays put, p99 and max see it.
TEST(LatencyStats, OutlierShowsInTailOnly) {
  std::vector<double> v(99, 2.0);
  v.push_back(50.0);
  const LatencyStats s = summarize_latencies(v);
  EXPECT_DOUBLE_EQ(s.p50, 2.0);
  EXPECT_DOUBLE_EQ(s.p90, 2.0);
  EXPECT_NEAR(s.p99, 2.0 + 0.01 * 48.0, 1e-12);  // rank 98.01: 1% of the way to 50
  EXPECT_DOUBLE_EQ(s.max, 50.0);
  EXPECT_NEAR(s.mean, 2.48, 1e-12);
  EXPECT_NEAR(s.stddev, std::sqrt(0.99 * 0.48 * 0.48 + 0.01 * 47.52 * 47.52), 1e-9);
}

TEST(LatencyStats, EmptyAndNanSamples) {
  const LatencyStats e = summarize_latencies({});
  EXPECT_EQ(e.count, 0);
  EXPECT_EQ(e.p99, 0.0);
  EXPECT_EQ(e.p99_over_p50, 0.0);
  const std::vector<double> v = {3.0, std::numeric_limits<double>::quiet_NaN(), 1.0};
  const LatencyStats s = summarize_latencies(v);
  EXPECT_EQ(s.count, 2);
  EXPECT_DOUBLE_EQ(s.p50, 2.0);
  EXPECT_DOUBLE_EQ(s.stddev, 1.0);
  const std::vector<double> zeros = {0.0, 0.0};
  EXPECT_EQ(summarize_latencies(zeros).p99_over_p50, 0.0);  // no division by zero
}

}  // namespace
}  // namespace quench
