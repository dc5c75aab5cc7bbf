#include "cli/profile_output.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <vector>

#include "cli/json_writer.h"
#include "cli/util.h"

namespace quench::cli {
namespace {

// Milliseconds with about four significant digits.
std::string ms_str(double seconds) {
  const double ms = seconds * 1e3;
  return fixed(ms, ms >= 100 ? 1 : ms >= 1 ? 3 : 4);
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 1) + "%"; }

// A name too long for its column keeps its end, which tells layers apart ("/features.3/conv/Conv").
std::string fit(const std::string& s, size_t width) {
  return s.size() <= width ? s : "..." + s.substr(s.size() - (width - 3));
}

std::string line(const char* fmt, auto... args) {
  const int n = std::snprintf(nullptr, 0, fmt, args...);
  if (n <= 0) return {};
  std::string s(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(s.data(), s.size(), fmt, args...);
  s.pop_back();
  return s;
}

}  // namespace

std::string profile_table(const ProfileRun& run, const ProfileReport& r, int64_t top) {
  std::string out;
  const DeviceCeilings& c = r.ceilings;
  out += line("model       %s\n", run.model.c_str());
  out += line("device      %s\n", run.device.c_str());
  out += line("backend     %s\n", run.backend.c_str());
  out += line("precision   %s\n", run.precision.c_str());
  out += line("batch       %lld\n", static_cast<long long>(r.batch));
  out +=
      line("runs        %lld profiled + %lld plain, interleaved, after %lld + %lld warmup; random inputs, seed %llu\n",
           static_cast<long long>(r.iterations), static_cast<long long>(r.iterations), static_cast<long long>(r.warmup),
           static_cast<long long>(r.warmup), static_cast<unsigned long long>(run.seed));
  out +=
      line("ceilings    memory  %s GB/s   (%s)\n", fixed(c.bytes_per_s / 1e9, 2).c_str(), c.bandwidth_method.c_str());
  out += line("            compute %s GFLOP/s (%s)\n", fixed(c.flop_per_s / 1e9, 2).c_str(), c.compute_method.c_str());
  out += line("            overhead-bound: under %s us, or under %s of the roofline floor\n",
              fixed(c.overhead_s * 1e6, 1).c_str(), percent(c.overhead_fraction).c_str());

  std::vector<size_t> order(r.layers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.layers[a].seconds > r.layers[b].seconds; });
  const size_t shown = std::min(order.size(), static_cast<size_t>(top));
  out += line("\ntop %zu of %zu layers by time\n", shown, r.layers.size());
  out += line(
      "  (ms: in a typical run, the mean over the middle third of profiled runs; median: the layer's own;\n"
      "   share of the layer sum; %% ceil: the achieved share of the bounding ceiling)\n");
  out += line("%4s  %-34s %-23s %10s %10s %7s %10s %11s %9s %8s %-9s %7s\n", "#", "layer", "op", "ms", "median",
              "share", "FLOPs", "bytes", "GFLOP/s", "GB/s", "bound", "% ceil");
  for (size_t k = 0; k < shown; ++k) {
    const LayerProfile& L = r.layers[order[k]];
    out += line("%4zu  %-34s %-23s %10s %10s %7s %10s %11s %9s %8s %-9s %7s\n", k + 1, fit(L.name, 34).c_str(),
                fit(L.op_type, 23).c_str(), ms_str(L.seconds).c_str(), ms_str(L.median_seconds).c_str(),
                percent(L.share).c_str(), si(static_cast<double>(L.flops)).c_str(),
                bytes_str(static_cast<double>(L.bytes)).c_str(), fixed(L.flop_per_s / 1e9, 2).c_str(),
                fixed(L.bytes_per_s / 1e9, 2).c_str(), bound_name(L.bound), percent(L.ceiling_fraction).c_str());
  }
  if (shown < order.size()) {
    double rest = 0;
    for (size_t k = shown; k < order.size(); ++k) rest += r.layers[order[k]].seconds;
    const std::string more = line("(%zu more layers)", order.size() - shown);
    out += line("%4s  %-34s %-23s %10s %10s %7s\n", "", more.c_str(), "", ms_str(rest).c_str(), "",
                percent(r.layer_sum_seconds > 0 ? rest / r.layer_sum_seconds : 0.0).c_str());
  }

  int64_t counts[3] = {0, 0, 0};
  for (const LayerProfile& L : r.layers) ++counts[static_cast<int>(L.bound)];
  const LatencyStats& m = r.model;
  out += line("\ntotal       sum of layers %s ms = %s of the whole-model median %s ms\n",
              ms_str(r.layer_sum_seconds).c_str(), percent(m.p50 > 0 ? r.layer_sum_seconds / m.p50 : 0.0).c_str(),
              ms_str(m.p50).c_str());
  out += line("whole model plain runs%s: min %s  p50 %s  p90 %s  max %s ms\n",
              run.cuda_graph ? " (CUDA graph replay)" : "", ms_str(m.min).c_str(),
              ms_str(m.p50).c_str(), ms_str(m.p90).c_str(), ms_str(m.max).c_str());
  out += line("work        %s FLOPs, %s moved at least; %lld compute-, %lld memory-, %lld overhead-bound layers\n",
              si(static_cast<double>(r.total_flops)).c_str(), bytes_str(static_cast<double>(r.total_bytes)).c_str(),
              static_cast<long long>(counts[static_cast<int>(Bound::kCompute)]),
              static_cast<long long>(counts[static_cast<int>(Bound::kMemory)]),
              static_cast<long long>(counts[static_cast<int>(Bound::kOverhead)]));
  return out;
}

std::string profile_json(const ProfileRun& run, const ProfileReport& r) {
  JsonWriter j;
  j.begin_object();
  j.field("command", "profile").field("model", run.model).field("device", run.device).field("backend", run.backend);
  j.field("precision", run.precision)
      .field("batch", r.batch)
      .field("iterations", r.iterations)
      .field("warmup", r.warmup);
  j.field("seed", static_cast<uint64_t>(run.seed)).field("cuda_graph", run.cuda_graph);
  const DeviceCeilings& c = r.ceilings;
  j.key("ceilings").begin_object();
  j.field("bytes_per_s", c.bytes_per_s).field("flop_per_s", c.flop_per_s).field("overhead_s", c.overhead_s);
  j.field("overhead_fraction", c.overhead_fraction).field("bandwidth_method", c.bandwidth_method);
  j.field("compute_method", c.compute_method).end_object();
  const LatencyStats& m = r.model;
  j.key("model_ms").begin_object();
  j.field("clock", "host steady_clock, plain runs").field("count", m.count).field("min", m.min * 1e3);
  j.field("mean", m.mean * 1e3).field("p50", m.p50 * 1e3).field("p90", m.p90 * 1e3).field("p99", m.p99 * 1e3);
  j.field("max", m.max * 1e3).field("stddev", m.stddev * 1e3).end_object();
  j.field("layer_sum_ms", r.layer_sum_seconds * 1e3);
  j.field("layer_sum_over_model", m.p50 > 0 ? r.layer_sum_seconds / m.p50 : 0.0);
  j.field("total_flops", r.total_flops).field("total_bytes", r.total_bytes);
  j.key("layers").begin_array();
  for (const LayerProfile& L : r.layers) {
    j.begin_object().field("step", L.step).field("name", L.name).field("op_type", L.op_type).field("impl", L.impl);
    j.field("ms", L.seconds * 1e3).field("median_ms", L.median_seconds * 1e3).field("min_ms", L.min_seconds * 1e3);
    j.field("max_ms", L.max_seconds * 1e3);
    j.field("share", L.share).field("flops", L.flops).field("bytes", L.bytes).field("weight_bytes", L.weight_bytes);
    j.field("intensity", L.bytes > 0 ? static_cast<double>(L.flops) / static_cast<double>(L.bytes) : 0.0);
    j.field("gflop_per_s", L.flop_per_s / 1e9).field("gb_per_s", L.bytes_per_s / 1e9);
    j.field("floor_ms", L.floor_seconds * 1e3).field("bound", bound_name(L.bound));
    j.field("ceiling_fraction", L.ceiling_fraction);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

std::string trace_json(const ProfileRun& run, const ProfileReport& r) {
  constexpr int kPid = 1, kTid = 1;
  JsonWriter j;
  j.begin_object();
  j.field("displayTimeUnit", "ms");
  j.key("traceEvents").begin_array();
  j.begin_object().field("name", "process_name").field("ph", "M").field("pid", kPid).field("tid", kTid);
  j.key("args")
      .begin_object()
      .field("name", "quench profile " + run.model + " (" + run.backend + ", " + run.precision + ", batch " +
                         std::to_string(r.batch) + ")")
      .end_object();
  j.end_object();
  j.begin_object().field("name", "thread_name").field("ph", "M").field("pid", kPid).field("tid", kTid);
  j.key("args").begin_object().field("name", run.backend + " steps (the median profiled run)").end_object();
  j.end_object();
  for (const LayerProfile& L : r.layers) {
    // Times in microseconds, as the format wants.
    j.begin_object().field("name", L.name).field("cat", "layer").field("ph", "X").field("pid", kPid).field("tid", kTid);
    j.field("ts", L.trace_start_seconds * 1e6).field("dur", L.trace_seconds * 1e6);
    j.key("args")
        .begin_object()
        .field("op", L.op_type)
        .field("step", L.step)
        .field("flops", L.flops)
        .field("bytes", L.bytes);
    j.field("typical_ms", L.seconds * 1e3)
        .field("median_ms", L.median_seconds * 1e3)
        .field("bound", bound_name(L.bound))
        .field("ceiling_fraction", L.ceiling_fraction);
    j.end_object().end_object();
  }
  j.end_array();
  j.key("otherData").begin_object().field("model", run.model).field("device", run.device).end_object();
  j.end_object();
  return j.str();
}

}  // namespace quench::cli
