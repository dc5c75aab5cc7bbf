// `quench run MODEL`: builds an engine, feeds it seeded random inputs (or .npy files), times
// every iteration on the host's steady clock and reports latency percentiles, throughput and
// a summary of each output.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/util.h"
#include "quench/stats.h"

namespace quench::cli {
namespace {

constexpr size_t kFirstValues = 5;

struct InputReport {
  TensorInfo info;
  std::string source;  // "random" or the .npy path
};

// How the engine came to be (built from the model now, or loaded from a plan file) and its
// context (which, on the cuda backend, loads every kernel and captures every batch's CUDA graph).
struct Preparation {
  bool from_plan = false;
  double ms = 0;
  double context_ms = 0;
  bool cuda_graph = false;  // whether the runs replayed CUDA graphs
};

struct OutputReport {
  TensorInfo info;
  TensorSummary summary;
  std::string saved;  // file written by --save-outputs
};

// Loads the --input files, checking dtype and shape against the engine's inputs later; here
// only what the batch decision needs.
std::optional<CliError> load_input_files(const Options& o, std::map<std::string, Tensor>* files) {
  for (const auto& [name, path] : o.inputs) {
    auto t = load_npy(path);
    if (!t.ok()) return CliError{kExitRuntime, "--input " + name + ": " + t.status().to_string()};
    (*files)[name] = std::move(t).value();
  }
  return std::nullopt;
}

// The batch when the user gave none: a --input file's leading dim, for an input whose batch
// dim the model leaves open.
int64_t batch_from_files(const Model& m, const std::map<std::string, Tensor>& files) {
  for (const auto& in : m.inputs()) {
    auto it = files.find(in.name);
    if (it == files.end() || in.shape.empty() || in.shape.front() >= 0 || it->second.shape().empty()) continue;
    return std::max<int64_t>(1, it->second.shape().front());
  }
  return 1;
}

// Inputs at `batch`, which may be below the engine's max batch (a plan file run smaller).
std::optional<CliError> make_inputs(const Options& o, const Engine& engine, int64_t batch,
                                    std::map<std::string, Tensor>& files, TensorMap* feeds,
                                    std::vector<InputReport>* reports) {
  std::mt19937_64 rng(o.seed);
  for (TensorInfo in : engine.inputs()) {
    if (!in.shape.empty() && in.shape[0] == engine.options().max_batch) in.shape[0] = batch;
    InputReport rep{in, "random"};
    auto it = files.find(in.name);
    if (it == files.end()) {
      Tensor t = Tensor::zeros(in.dtype, in.shape);
      fill_random(t, rng);
      (*feeds)[in.name] = std::move(t);
    } else {
      Tensor t = it->second;
      for (const auto& [n, path] : o.inputs)
        if (n == in.name) rep.source = path;
      if (t.dtype() != in.dtype) {
        Tensor converted;
        if (!convert_float(t, in.dtype, &converted))
          return CliError{kExitRuntime, "--input " + in.name + ": " + rep.source + " holds " + dtype_name(t.dtype()) +
                                            " but the model input is " + dtype_name(in.dtype)};
        std::fprintf(stderr, "quench run: note: %s converted from %s to %s\n", rep.source.c_str(), dtype_name(t.dtype()),
                     dtype_name(in.dtype));
        t = std::move(converted);
      }
      if (t.shape() != in.shape)
        return CliError{kExitRuntime, "--input " + in.name + ": " + rep.source + " has shape " + shape_str(t.shape()) +
                                          " but the engine input is " + shape_str(in.shape)};
      (*feeds)[in.name] = std::move(t);
    }
    reports->push_back(std::move(rep));
  }
  return std::nullopt;
}

// Milliseconds with about four significant digits, never in exponent form.
std::string ms_str(double ms) { return fixed(ms, ms >= 100 ? 1 : ms >= 1 ? 3 : 4); }

void print_text(const Options& o, const std::string& device, int64_t batch, const std::vector<InputReport>& inputs,
                const LatencyStats& st, const LatencyStats& dev, const std::vector<OutputReport>& outputs,
                const MemoryReport& mem, const Preparation& prep) {
  std::printf("model       %s\n", o.model.c_str());
  std::printf("device      %s\n", device.c_str());
  std::printf("backend     %s\n", o.backend.c_str());
  std::printf("precision   %s\n", o.precision.c_str());
  std::printf("batch       %lld\n", static_cast<long long>(batch));
  std::printf("engine      %s in %s ms\n", prep.from_plan ? "loaded from the plan file" : "built", ms_str(prep.ms).c_str());
  std::printf("context     created in %s ms%s\n", ms_str(prep.context_ms).c_str(),
              o.backend != "cuda"      ? ""
              : prep.cuda_graph        ? ", CUDA graphs on (one graph launch per run)"
                                       : ", CUDA graphs off (one launch per kernel)");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string src = inputs[i].source == "random" ? "random, seed " + std::to_string(o.seed) : inputs[i].source;
    std::printf("%-11s %s  %s  (%s)\n", i ? "" : "inputs", inputs[i].info.name.c_str(), describe(inputs[i].info).c_str(),
                src.c_str());
  }
  std::printf("\nlatency (ms, host steady clock, %lld iterations after %lld warmup)\n", static_cast<long long>(st.count),
              static_cast<long long>(o.warmup));
  std::printf("  %10s %10s %10s %10s %10s %10s %10s\n", "min", "mean", "p50", "p90", "p99", "max", "stddev");
  std::printf("  %10s %10s %10s %10s %10s %10s %10s\n", ms_str(st.min).c_str(), ms_str(st.mean).c_str(),
              ms_str(st.p50).c_str(), ms_str(st.p90).c_str(), ms_str(st.p99).c_str(), ms_str(st.max).c_str(),
              ms_str(st.stddev).c_str());
  std::printf("  p99/p50 %.3f\n", st.p99_over_p50);
  if (dev.count > 0) {
    std::printf("device      (ms, CUDA events around the device part of each run: copies in, kernels, copies out)\n");
    std::printf("  %10s %10s %10s %10s %10s %10s %10s\n", ms_str(dev.min).c_str(), ms_str(dev.mean).c_str(),
                ms_str(dev.p50).c_str(), ms_str(dev.p90).c_str(), ms_str(dev.p99).c_str(), ms_str(dev.max).c_str(),
                ms_str(dev.stddev).c_str());
    std::printf("  p99/p50 %.3f; host overhead at p50 %s ms\n", dev.p99_over_p50, ms_str(st.p50 - dev.p50).c_str());
  }
  const double per_s = st.mean > 0 ? 1000.0 / st.mean : 0.0;
  std::printf("throughput  %s inferences/s (%s runs/s of batch %lld)\n", fixed(per_s * static_cast<double>(batch), 1).c_str(),
              fixed(per_s, 1).c_str(), static_cast<long long>(batch));
  const double mib = 1024.0 * 1024.0;
  std::printf("memory      arena %.2f MiB (lower bound %.2f, naive %.2f), weights %.2f MiB\n", mem.arena_bytes / mib,
              mem.lower_bound_bytes / mib, mem.naive_bytes / mib, mem.weights_bytes / mib);
  std::printf("\noutputs\n");
  for (const auto& out : outputs) {
    const TensorSummary& s = out.summary;
    std::string first;
    for (double v : s.first) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", v);
      if (!first.empty()) first += ", ";
      first += buf;
    }
    std::printf("  %s  %s  min %.6g  max %.6g  mean %.6g  first [%s%s]\n", out.info.name.c_str(), describe(out.info).c_str(),
                s.min, s.max, s.mean, first.c_str(), shape_numel(out.info.shape) > static_cast<int64_t>(s.first.size()) ? ", ..." : "");
    if (s.nan_count || s.inf_count)
      std::printf("    %lld NaN, %lld Inf\n", static_cast<long long>(s.nan_count), static_cast<long long>(s.inf_count));
    if (!out.saved.empty()) std::printf("    saved to %s\n", out.saved.c_str());
  }
}

std::string report_json(const Options& o, const std::string& device, int64_t batch, const std::vector<InputReport>& inputs,
                        const LatencyStats& st, const LatencyStats& dev, const std::vector<OutputReport>& outputs,
                        const MemoryReport& mem, const Preparation& prep) {
  JsonWriter j;
  j.begin_object();
  j.field("command", "run").field("model", o.model).field("device", device).field("backend", o.backend);
  j.field("precision", o.precision).field("batch", batch).field("iterations", o.iterations).field("warmup", o.warmup);
  j.field("seed", static_cast<uint64_t>(o.seed)).field("cuda_graph", prep.cuda_graph);
  j.key("engine").begin_object().field("source", prep.from_plan ? "plan" : "model").field("prepare_ms", prep.ms);
  j.field("context_ms", prep.context_ms).end_object();
  j.key("inputs").begin_array();
  for (const auto& in : inputs)
    j.begin_object().field("name", in.info.name).field("dtype", dtype_name(in.info.dtype)).shape("shape", in.info.shape)
        .field("source", in.source).end_object();
  j.end_array();
  latency_json(j, "latency_ms", st, "host steady_clock, per iteration");
  if (dev.count > 0) latency_json(j, "device_ms", dev, "CUDA events around each run's device part");
  const double per_s = st.mean > 0 ? 1000.0 / st.mean : 0.0;
  j.key("throughput").begin_object().field("inferences_per_s", per_s * static_cast<double>(batch)).field("runs_per_s", per_s).end_object();
  j.key("memory").begin_object().field("arena_bytes", mem.arena_bytes).field("lower_bound_bytes", mem.lower_bound_bytes);
  j.field("naive_bytes", mem.naive_bytes).field("weights_bytes", mem.weights_bytes).end_object();
  j.key("outputs").begin_array();
  for (const auto& out : outputs) {
    const TensorSummary& s = out.summary;
    j.begin_object().field("name", out.info.name).field("dtype", dtype_name(out.info.dtype)).shape("shape", out.info.shape);
    j.field("min", s.min).field("max", s.max).field("mean", s.mean).field("nan_count", s.nan_count).field("inf_count", s.inf_count);
    j.key("first").begin_array(true);
    for (double v : s.first) j.value(v);
    j.end_array();
    if (!out.saved.empty()) j.field("saved", out.saved);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

// A plan file's engine, run at --batch (any batch up to the plan's) or its largest batch.
std::optional<CliError> load_plan(const Options& o, Engine* engine, int64_t* batch, Options* shown) {
  if (auto e = load_plan_file(o, engine, batch)) return e;
  for (const auto& [name, f] : o.inputs) {
    bool known = false;
    for (const auto& in : engine->inputs()) known = known || in.name == name;
    if (!known) return CliError{kExitUsage, "--input names '" + name + "', which is not an input of the plan"};
  }
  shown->backend = backend_name(engine->options().backend);
  shown->precision = precision_name(engine->options().precision);
  return std::nullopt;
}

}  // namespace

int run_command(const Options& opts) {
  const std::string cmd = "run";
  Options o = opts;  // backend and precision come from the plan file when one is run
  const bool from_plan = is_plan_file(o.model);
  Model model;
  if (!from_plan) {
    if (auto e = load_model(o, &model)) return report_error(cmd, *e);
    if (auto e = check_input_names(o, model)) return report_error(cmd, *e);
  }
  // Made before the long part, so that an unwritable directory fails at once.
  if (!o.save_outputs.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.save_outputs, ec);
    if (ec || !std::filesystem::is_directory(o.save_outputs))
      return report_error(cmd, {kExitRuntime, "--save-outputs: cannot create directory '" + o.save_outputs + "'" +
                                                  (ec ? ": " + ec.message() : "")});
  }
  std::map<std::string, Tensor> files;
  if (auto e = load_input_files(o, &files)) return report_error(cmd, *e);

  Engine engine;
  int64_t batch = 1;
  const auto t_prepare = std::chrono::steady_clock::now();
  if (from_plan) {
    if (auto e = load_plan(opts, &engine, &batch, &o)) return report_error(cmd, *e);
  } else {
    BuildOptions bo;
    bool explicit_batch = false;
    if (auto e = make_build_options(o, batch_from_files(model, files), &bo, &explicit_batch)) return report_error(cmd, *e);
    auto built = build(model, bo);
    if (!built.ok()) return report_error(cmd, {kExitRuntime, "cannot build the engine: " + built.status().to_string()});
    engine = std::move(built).value();
    if (auto e = check_batch(engine.inputs(), bo.max_batch, explicit_batch, &batch)) return report_error(cmd, *e);
  }
  const double prepare_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_prepare).count();

  TensorMap feeds, outputs;
  std::vector<InputReport> input_reports;
  if (auto e = make_inputs(o, engine, batch, files, &feeds, &input_reports)) return report_error(cmd, *e);
  ContextOptions co;
  co.cuda_graph = o.cuda_graph;  // the cpu backend ignores both
  co.device_timing = true;
  const auto t_context = std::chrono::steady_clock::now();
  auto ctx = engine.create_context(co);
  if (!ctx.ok()) return report_error(cmd, {kExitRuntime, "cannot create a context: " + ctx.status().to_string()});
  const double context_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_context).count();
  const Preparation prep{from_plan, prepare_ms, context_ms, ctx->uses_cuda_graph()};

  for (int64_t i = 0; i < o.warmup; ++i) {
    Status s = ctx->run(feeds, outputs);
    if (!s.ok()) return report_error(cmd, {kExitRuntime, "warmup run " + std::to_string(i) + " failed: " + s.to_string()});
  }
  // Per-iteration host time around a synchronous run(). When runs become asynchronous on a
  // stream, the run must be followed by a synchronize inside the timed region.
  std::vector<double> ms, device_ms;
  ms.reserve(static_cast<size_t>(o.iterations));
  device_ms.reserve(static_cast<size_t>(o.iterations));
  for (int64_t i = 0; i < o.iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = ctx->run(feeds, outputs);
    const auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) return report_error(cmd, {kExitRuntime, "run " + std::to_string(i) + " failed: " + s.to_string()});
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (ctx->last_device_seconds() >= 0) device_ms.push_back(ctx->last_device_seconds() * 1e3);
  }
  const LatencyStats st = summarize_latencies(ms), dev = summarize_latencies(device_ms);

  std::vector<OutputReport> out_reports;
  std::set<std::string> taken;
  for (const TensorInfo& info : engine.outputs()) {
    auto it = outputs.find(info.name);
    if (it == outputs.end()) return report_error(cmd, {kExitRuntime, "the engine gave no output '" + info.name + "'"});
    const Tensor& t = it->second;
    OutputReport rep{{info.name, t.dtype(), t.shape()}, summarize(t, kFirstValues), ""};
    if (!o.save_outputs.empty()) {
      rep.saved = (std::filesystem::path(o.save_outputs) / (file_name_for(info.name, &taken) + ".npy")).string();
      Status s = save_npy(rep.saved, t);
      if (!s.ok()) return report_error(cmd, {kExitRuntime, "--save-outputs: " + s.to_string()});
    }
    out_reports.push_back(std::move(rep));
  }

  const std::string device = device_description(engine.options().backend);
  if (o.json)
    std::fputs(report_json(o, device, batch, input_reports, st, dev, out_reports, engine.memory(), prep).c_str(), stdout);
  else
    print_text(o, device, batch, input_reports, st, dev, out_reports, engine.memory(), prep);
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace quench::cli
