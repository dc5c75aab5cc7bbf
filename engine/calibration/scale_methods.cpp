#include "engine/calibration/scale_methods.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace quench::calib {

std::string_view method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMax: return "max";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kEntropy: return "entropy";
  }
  return "";
}

bool method_from_name(std::string_view name, CalibrationMethod* out) {
  for (CalibrationMethod m : {CalibrationMethod::kMax, CalibrationMethod::kPercentile, CalibrationMethod::kEntropy})
    if (method_name(m) == name) {
      *out = m;
      return true;
    }
  return false;
}

double max_threshold(const AbsHistogram& h) { return h.max_abs(); }

double percentile_threshold(const AbsHistogram& h, double percentile) {
  if (h.nonzero() == 0) return 0;
  const double p = std::clamp(percentile, 1e-9, 100.0);
  const double target = p / 100.0 * static_cast<double>(h.nonzero());
  const std::vector<int64_t>& c = h.counts();
  double below = 0;  // values in the bins before b
  for (size_t b = 0; b < c.size(); ++b) {
    const double here = static_cast<double>(c[b]);
    if (below + here >= target) {
      // The target-th value lies in bin b; assume the bin's values spread evenly over it.
      const double t = (static_cast<double>(b) + (target - below) / here) * h.bin_width();
      return std::min(t, h.max_abs());
    }
    below += here;
  }
  return h.max_abs();
}

// The entropy method. For each candidate threshold of i bins (i from `levels` up to the last
// nonempty bin), with counts c[0..n):
//   1. Reference P: the first i bins, with every count beyond them (the values clipping would
//      saturate) added to the last one, bin i-1.
//   2. Candidate Q: the first i bins of c (without the clipped values) merged into `levels`
//      levels, level l covering bins [l*i/levels, (l+1)*i/levels), then expanded back to i
//      bins by spreading each level's total evenly over the bins of that level where P is
//      nonzero (a bin empty in P stays empty in Q: quantization does not invent values).
//      This is what INT8 at threshold i*width keeps of the distribution's shape.
//   3. Both normalized to sum 1. Q can be zero where P is not only in a level holding no
//      unclipped counts but clipped ones (the last level); such bins get a probability of a
//      ten-thousandth of one count, taken proportionally from Q's other bins, so that the
//      divergence is large there but finite.
//   4. KL(P || Q) = sum over bins with P > 0 of P log(P / Q).
// The threshold is i*width for the i of least divergence (the first on ties), never above the
// exact max|x|. Candidates beyond the last nonempty bin would only coarsen the levels without
// clipping less, so they are not tried. Cost: O(n^2 / 2) for n bins (2M terms for 2048).
double entropy_threshold(const AbsHistogram& h, int levels) {
  if (h.nonzero() == 0) return 0;
  const std::vector<int64_t>& c = h.counts();
  size_t top = c.size();  // one past the last nonempty bin
  while (top > 0 && c[top - 1] == 0) --top;
  const size_t nl = static_cast<size_t>(std::max(levels, 1));
  if (top <= nl) return h.max_abs();  // `levels` bins hold everything: clipping cannot help

  std::vector<double> prefix(top + 1, 0.0);  // prefix[j] = c[0] + ... + c[j-1]
  for (size_t j = 0; j < top; ++j) prefix[j + 1] = prefix[j] + static_cast<double>(c[j]);
  const double total = prefix[top];
  const double eps = 1e-4 / total;  // a ten-thousandth of one count, as a probability

  std::vector<double> p(top), q(top);
  double best_kl = std::numeric_limits<double>::infinity();
  size_t best_i = top;
  for (size_t i = nl; i <= top; ++i) {
    const double kept = prefix[i];
    if (kept == 0) continue;  // everything clipped into one bin: no shape left to compare
    for (size_t j = 0; j < i; ++j) p[j] = static_cast<double>(c[j]);
    p[i - 1] += total - kept;
    int64_t empty_q = 0;  // bins where P > 0 but Q = 0
    for (size_t l = 0; l < nl; ++l) {
      const size_t b0 = l * i / nl, b1 = (l + 1) * i / nl;
      const double sum = prefix[b1] - prefix[b0];
      int64_t nonzero = 0;
      for (size_t j = b0; j < b1; ++j) nonzero += p[j] > 0;
      for (size_t j = b0; j < b1; ++j) {
        q[j] = p[j] > 0 ? sum / static_cast<double>(nonzero) : 0.0;
        empty_q += p[j] > 0 && sum == 0;
      }
    }
    const double keep = 1.0 - eps * static_cast<double>(empty_q);  // what smoothing leaves the rest
    double kl = 0;
    for (size_t j = 0; j < i; ++j) {
      if (p[j] <= 0) continue;
      const double pj = p[j] / total;
      const double qj = q[j] > 0 ? q[j] / kept * keep : eps;
      kl += pj * std::log(pj / qj);
    }
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return std::min(static_cast<double>(best_i) * h.bin_width(), h.max_abs());
}

double threshold(const AbsHistogram& h, CalibrationMethod m, double percentile) {
  switch (m) {
    case CalibrationMethod::kMax: return max_threshold(h);
    case CalibrationMethod::kPercentile: return percentile_threshold(h, percentile);
    case CalibrationMethod::kEntropy: return entropy_threshold(h);
  }
  return max_threshold(h);
}

float scale_from_threshold(double amax) {
  if (!(amax > 0) || !std::isfinite(amax)) return 1.0f;
  const float s = static_cast<float>(amax / 127.0);
  return s > 0 ? s : std::numeric_limits<float>::denorm_min();
}

}  // namespace quench::calib
