#include "engine/profiler/roofline.h"

#include <algorithm>

namespace quench {

const char* bound_name(Bound b) {
  switch (b) {
    case Bound::kMemory: return "memory";
    case Bound::kCompute: return "compute";
    case Bound::kOverhead: return "overhead";
  }
  return "?";
}

namespace profiler {

Verdict classify(const LayerCost& cost, double seconds, const DeviceCeilings& c) {
  Verdict v;
  const double mem_s = c.bytes_per_s > 0 ? static_cast<double>(cost.bytes()) / c.bytes_per_s : 0.0;
  const double flop_s = c.flop_per_s > 0 ? static_cast<double>(cost.flops) / c.flop_per_s : 0.0;
  v.floor_seconds = std::max(mem_s, flop_s);
  if (seconds > 0) v.ceiling_fraction = v.floor_seconds / seconds;
  // The side of the ridge point the layer's arithmetic intensity falls on decides which
  // ceiling it would meet first; a layer that gets nowhere near it is limited by neither.
  if (!(seconds > 0) || seconds < c.overhead_s || v.ceiling_fraction < c.overhead_fraction)
    v.bound = Bound::kOverhead;
  else
    v.bound = flop_s > mem_s ? Bound::kCompute : Bound::kMemory;
  return v;
}

}  // namespace profiler
}  // namespace quench
