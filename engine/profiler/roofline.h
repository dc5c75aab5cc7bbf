// Which ceiling bounds a layer, and how close it came, on the roofline of the measured
// ceilings (rules in include/quench/profile.h, at Bound).
#pragma once

#include "engine/profiler/cost_model.h"
#include "quench/profile.h"

namespace quench::profiler {

struct Verdict {
  Bound bound = Bound::kOverhead;
  double floor_seconds = 0;     // max(bytes / bandwidth, flops / compute): the layer at its ceiling
  double ceiling_fraction = 0;  // floor_seconds / seconds; 0 for a non-positive time
};

Verdict classify(const LayerCost& cost, double seconds, const DeviceCeilings& ceilings);

}  // namespace quench::profiler
