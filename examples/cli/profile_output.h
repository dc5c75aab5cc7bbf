// The three faces of a profile report: the terminal table, the --json report and the
// Chrome/Perfetto trace.
#pragma once

#include <cstdint>
#include <string>

#include "quench/profile.h"

namespace quench::cli {

// What the report does not know about itself.
struct ProfileRun {
  std::string model, device, backend, precision;
  uint64_t seed = 0;
  bool cuda_graph = false;  // the plain runs replayed a CUDA graph
};

// Header, ceilings, the `top` slowest layers and the totals line.
std::string profile_table(const ProfileRun& run, const ProfileReport& r, int64_t top);
// Every layer, in plan order, with the ceilings and whole-model statistics.
std::string profile_json(const ProfileRun& run, const ProfileReport& r);
// Trace Event Format (chrome://tracing, ui.perfetto.dev): one complete ("X") slice per layer
// of the representative run, on the track of the thread that ran the steps.
std::string trace_json(const ProfileRun& run, const ProfileReport& r);

}  // namespace quench::cli
