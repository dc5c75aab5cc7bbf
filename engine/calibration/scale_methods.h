// Clipping thresholds (amax) for a per-tensor symmetric INT8 scale, chosen from an |x|
// histogram (engine/calibration/histogram.h), and the scale that follows: amax / 127.
//
//   max         the exact max|x| seen: nothing clipped, coarsest resolution.
//   percentile  the p-th percentile of the nonzero |x| (e.g. 99.99): the rare largest values
//               are clipped, linear interpolation inside the histogram bin that holds it.
//   entropy     the threshold whose 128-level quantization loses least information, measured
//               as the KL divergence between the clipped histogram and its quantized copy
//               (the method TensorRT's entropy calibrator made usual; this is quench's own
//               implementation, described step by step in scale_methods.cpp).
//
// Every method returns 0 for a tensor that was always zero, and scale_from_threshold turns a
// zero threshold into scale 1 (any scale represents zeros exactly), so no division by zero
// happens downstream.
#pragma once

#include <string_view>

#include "engine/calibration/histogram.h"

namespace quench::calib {

enum class CalibrationMethod { kMax, kPercentile, kEntropy };

// "max", "percentile", "entropy", and back (false for another name).
std::string_view method_name(CalibrationMethod m);
bool method_from_name(std::string_view name, CalibrationMethod* out);

double max_threshold(const AbsHistogram& h);
// `percentile` in (0, 100]; values outside are clamped to that range.
double percentile_threshold(const AbsHistogram& h, double percentile);
// `levels`: the quantized levels on one side of zero (128 for INT8's [-128, 127]).
double entropy_threshold(const AbsHistogram& h, int levels = 128);

double threshold(const AbsHistogram& h, CalibrationMethod m, double percentile = 99.99);

// amax / 127 in float (amax = 0 gives 1).
float scale_from_threshold(double amax);

}  // namespace quench::calib
