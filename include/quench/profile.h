// Where the time goes: every layer of an engine timed on its own (a separate profiling run; the
// normal run stays untimed), its FLOPs and minimum bytes, the rates it achieved, and whether
// it is bound by memory bandwidth, by arithmetic or by fixed per-layer overhead.
//
//   quench::ProfileOptions opt;  opt.iterations = 50;
//   auto report = quench::profile(*engine, opt);
//   for (const auto& l : report->layers) std::cout << l.name << " " << l.seconds << "\n";
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/quench.h"
#include "quench/stats.h"

namespace quench {

// What limits a layer, judged on the roofline of the measured ceilings (docs/profiling.md):
//   memory    its bytes at the bandwidth ceiling take longer than its FLOPs at the compute one
//   compute   the other way round
//   overhead  its time is not explained by either: it is shorter than DeviceCeilings::overhead_s,
//             or it reaches under DeviceCeilings::overhead_fraction of its roofline floor, so
//             fixed per-layer costs (dispatch, launch, index arithmetic) dominate
enum class Bound { kMemory, kCompute, kOverhead };
const char* bound_name(Bound b);  // "memory", "compute", "overhead"

// The device's ceilings, measured once per process and cached.
struct DeviceCeilings {
  double bytes_per_s = 0;  // bytes read + written per second by a large copy
  double flop_per_s = 0;   // the arithmetic rate of a large matrix product
  double overhead_s = 0;   // a layer faster than this is overhead-bound
  double overhead_fraction = 0;  // a layer under this fraction of its floor is overhead-bound
  std::string bandwidth_method, compute_method;  // how each was measured, in words
};

struct ProfileOptions {
  int64_t batch = 0;  // 0: the engine's max_batch; otherwise 1..max_batch
  int64_t warmup = 3;       // untimed runs of each kind first
  int64_t iterations = 20;  // timed runs of each kind: profiled (per layer) and plain (whole model)
  uint64_t seed = 0;        // random inputs: floats uniform in [-1, 1), integers 0, bools false
  // Inputs to run on instead of random ones (each with the engine's dtype and shape at `batch`).
  TensorMap inputs;
  // CUDA engines: the plain (whole-model) runs replay the context's CUDA graph when true; when
  // false they launch step by step as the profiled runs do, so that the per-layer sum and the
  // whole-model time compare like for like (launch gaps in both).
  bool cuda_graph = false;
};

struct LayerProfile {
  int64_t step = 0;  // index in the execution plan
  std::string name, op_type;
  std::string impl;  // the implementation that ran it ("cpu.reference")
  int64_t flops = 0;
  int64_t bytes = 0;         // minimum moved: each distinct input read once, each output written once
  int64_t weight_bytes = 0;  // the constant part of the inputs
  // The layer's time in a typical run: its mean over the profiled runs whose totals are the
  // middle third (the median run and its neighbours). Unlike per-layer medians these add up
  // to a typical run: when other processes take the CPU, each step is slowed in only some runs,
  // so every median leaves that time out while every whole run contains it.
  double seconds = 0;
  double median_seconds = 0;  // the layer's own median over all profiled runs
  double min_seconds = 0, max_seconds = 0;
  double share = 0;           // seconds / the sum of every layer's seconds
  double flop_per_s = 0, bytes_per_s = 0;  // achieved in `seconds`
  double floor_seconds = 0;  // max(bytes / bandwidth ceiling, flops / compute ceiling)
  Bound bound = Bound::kOverhead;
  double ceiling_fraction = 0;  // floor_seconds / seconds: the achieved share of the bounding ceiling
  // The layer in the representative iteration (the profiled one whose layer sum is the median),
  // for a trace: start from the beginning of that run, and duration.
  double trace_start_seconds = 0, trace_seconds = 0;
};

struct ProfileReport {
  Backend backend = Backend::kCpu;
  Precision precision = Precision::kFP32;
  int64_t batch = 1, warmup = 0, iterations = 0;
  DeviceCeilings ceilings;
  std::vector<LayerProfile> layers;  // executed steps in plan order (Concats written in place are not run)
  LatencyStats model;                // seconds of the plain (untimed-per-layer) runs
  double layer_sum_seconds = 0;      // sum of every layer's seconds: a typical profiled run
  int64_t total_flops = 0, total_bytes = 0;
};

// Profiles `engine` at options.batch: warmup, then `iterations` rounds of one plain run and one
// per-layer-timed run, interleaved so that a change in the machine's load affects both alike.
Result<ProfileReport> profile(const Engine& engine, const ProfileOptions& options = {});

// The ceilings of the backend `engine` runs on (measured on first use, then cached).
Result<DeviceCeilings> device_ceilings(Backend backend);

}  // namespace quench
