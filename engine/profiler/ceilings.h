// The ceilings a layer's achieved rates are judged against, measured once per process.
#pragma once

#include "quench/profile.h"

namespace quench::profiler {

// The CPU reference backend's ceilings (measured on the first call, then cached; thread-safe).
const DeviceCeilings& cpu_ceilings();

// The current CUDA device's ceilings (engine/profiler/cuda_ceilings.cpp), measured on the first
// call for each device, then cached; thread-safe. kUnavailable without a device.
Result<DeviceCeilings> cuda_ceilings();

}  // namespace quench::profiler
