// Latency statistics over per-iteration timings: what `quench run` and the profiler report.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace quench {

struct LatencyStats {
  int64_t count = 0;  // samples summarized; every other field is 0 when this is 0
  double min = 0, mean = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
  double stddev = 0;     // population standard deviation (divides by count, as numpy.std)
  double total = 0;      // sum of the samples
  double p99_over_p50 = 0;  // jitter ratio; 0 when p50 is 0
};

// Percentile p (0..100) of `sorted` (ascending), by linear interpolation between the two
// nearest ranks: rank = p/100 * (n-1), as numpy.percentile's default ("linear") method.
// Chosen over nearest-rank so that p50 of an even count is the usual median. 0 when empty.
double percentile_sorted(std::span<const double> sorted, double p);

// Summary of `samples` (any unit; the result is in the same unit). NaN samples are ignored.
LatencyStats summarize_latencies(std::span<const double> samples);

}  // namespace quench
