#include "quench/stats.h"

#include <algorithm>
#include <cmath>

namespace quench {

double percentile_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0.0;
  if (!(p > 0)) return sorted.front();  // also catches NaN p
  if (p >= 100) return sorted.back();
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

LatencyStats summarize_latencies(std::span<const double> samples) {
  std::vector<double> v;
  v.reserve(samples.size());
  for (double s : samples)
    if (!std::isnan(s)) v.push_back(s);
  LatencyStats st;
  if (v.empty()) return st;
  std::sort(v.begin(), v.end());
  st.count = static_cast<int64_t>(v.size());
  st.min = v.front();
  st.max = v.back();
  for (double s : v) st.total += s;
  st.mean = st.total / static_cast<double>(v.size());
  // Two-pass variance: numerically stable for the small spreads latencies have.
  double ss = 0;
  for (double s : v) ss += (s - st.mean) * (s - st.mean);
  st.stddev = std::sqrt(ss / static_cast<double>(v.size()));
  st.p50 = percentile_sorted(v, 50);
  st.p90 = percentile_sorted(v, 90);
  st.p95 = percentile_sorted(v, 95);
  st.p99 = percentile_sorted(v, 99);
  st.p99_over_p50 = st.p50 > 0 ? st.p99 / st.p50 : 0.0;
  return st;
}

}  // namespace quench
