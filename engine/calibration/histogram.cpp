#include "engine/calibration/histogram.h"

#include <algorithm>
#include <cmath>

namespace quench::calib {

namespace {

size_t power_of_two_at_least(int n) {
  size_t p = 2;
  while (p < static_cast<size_t>(std::max(n, 2)) && p < (size_t{1} << 24)) p *= 2;
  return p;
}

}  // namespace

AbsHistogram::AbsHistogram(int bins) : counts_(power_of_two_at_least(bins), 0) {}

void AbsHistogram::grow_to(double max_abs) {
  int e = 0;
  std::frexp(max_abs, &e);
  const double r = std::ldexp(1.0, e);  // the smallest power of two above max_abs
  if (range_ == 0) {
    range_ = r;
    return;
  }
  int k = 0;  // doublings: new bin i gathers old bins [i * 2^k, (i + 1) * 2^k)
  for (double old = range_; old < r; old *= 2) ++k;
  const size_t n = counts_.size();
  for (size_t i = 1; i < n; ++i) {
    const size_t to = k >= 62 ? 0 : i >> k;
    if (to != i) {
      counts_[to] += counts_[i];
      counts_[i] = 0;
    }
  }
  range_ = r;
}

void AbsHistogram::add(std::span<const float> values) {
  double batch_max = 0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    batch_max = std::max(batch_max, static_cast<double>(std::fabs(v)));
  }
  if (batch_max >= range_ && batch_max > 0) grow_to(batch_max);
  max_abs_ = std::max(max_abs_, batch_max);
  // bins / range and |v| * bins / range are exact (powers of two), so a value's bin at a later
  // range is its bin now shifted right: what the merge above assumes.
  const double per_unit = range_ > 0 ? static_cast<double>(counts_.size()) / range_ : 0;
  const int64_t last = static_cast<int64_t>(counts_.size()) - 1;
  for (float v : values) {
    if (!std::isfinite(v)) {
      ++nonfinite_;
    } else if (v == 0) {
      ++zeros_;
    } else {
      const int64_t b = static_cast<int64_t>(static_cast<double>(std::fabs(v)) * per_unit);
      ++counts_[static_cast<size_t>(std::min(b, last))];
      ++nonzero_;
    }
  }
}

}  // namespace quench::calib
