// The ceilings a layer's achieved rates are judged against, measured once per process.
#pragma once

#include "quench/profile.h"

namespace quench::profiler {

// The CPU reference backend's ceilings (measured on the first call, then cached; thread-safe).
const DeviceCeilings& cpu_ceilings();

}  // namespace quench::profiler
