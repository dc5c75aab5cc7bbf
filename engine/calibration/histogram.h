// A histogram of |x| over one activation tensor, accumulated over many calibration runs,
// from which the scale methods (engine/calibration/scale_methods.h) choose a clipping
// threshold.
//
// Bins cover [0, range) evenly, where range is the smallest power of two above every |x| seen
// so far. When a value reaches the range, the range doubles as many times as needed, each
// doubling merging bins 2i and 2i+1 into bin i: the old bin edges are new bin edges, so no
// count moves to a wrong bin and none is lost. With power-of-two ranges the products that
// place a value are exact, so the result is exactly the histogram that binning every value at
// the final range would have given, whatever the order the values came in (tested). Exact zeros and non-finite values are counted apart: a
// zero is exact at any scale and says nothing about the threshold (half of a ReLU output is
// zeros, which would otherwise swamp bin 0), and a NaN or infinity has no place in a range.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace quench::calib {

class AbsHistogram {
 public:
  static constexpr int kDefaultBins = 2048;

  // `bins` is rounded up to a power of two (at least 2, at most 2^24), which keeps every
  // binning product exact.
  explicit AbsHistogram(int bins = kDefaultBins);

  void add(std::span<const float> values);

  int bins() const { return static_cast<int>(counts_.size()); }
  double range() const { return range_; }  // a power of two; 0 until a nonzero value arrives
  double bin_width() const { return range_ / static_cast<double>(counts_.size()); }
  const std::vector<int64_t>& counts() const { return counts_; }  // nonzero finite |x| only
  int64_t nonzero() const { return nonzero_; }
  int64_t zeros() const { return zeros_; }
  int64_t nonfinite() const { return nonfinite_; }
  double max_abs() const { return max_abs_; }  // exact, over finite values

 private:
  void grow_to(double max_abs);

  std::vector<int64_t> counts_;
  double range_ = 0;
  double max_abs_ = 0;
  int64_t nonzero_ = 0, zeros_ = 0, nonfinite_ = 0;
};

}  // namespace quench::calib
