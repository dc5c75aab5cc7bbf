// What one backend's timing runs produce before quench::profile reduces them to a report:
// each layer's identity and cost, each profiled run's per-layer times, each plain run's time.
// The CPU backend fills it in engine/profiler/profile.cpp, the CUDA one in cuda_profile.cpp.
#pragma once

#include <string>
#include <vector>

#include "engine/api_impl.h"
#include "engine/profiler/cost_model.h"
#include "quench/profile.h"

namespace quench::profiler {

struct StepTime {
  double start = 0, seconds = 0;  // from the beginning of the run
};

struct RawProfile {
  std::vector<LayerProfile> layers;  // step, name, op_type, impl set
  std::vector<LayerCost> costs;      // per layer
  std::vector<StepTime> times;       // [iteration][layer]
  std::vector<double> model_seconds;  // per plain run
};

// "Conv", or "quench.InvertedResidual" for an op outside the ONNX domain.
std::string op_label(const ir::Node& n);

// The CUDA engine's layers timed with an event between every two steps (and around the
// boundary copies, which are layers of their own here), on a context of the profiler's own
// that launches step by step; the plain runs replay the CUDA graph when o.cuda_graph.
// Each run's times are device times.
Result<RawProfile> time_cuda(const Engine& engine, int64_t batch, const TensorMap& feeds, const ProfileOptions& o);

}  // namespace quench::profiler
