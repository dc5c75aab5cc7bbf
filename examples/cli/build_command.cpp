// `quench build MODEL -o FILE.qplan`: builds an engine for batches 1..N, saves it, and loads
// the file back once to prove it loads (and to report how fast).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/int8_report.h"
#include "cli/json_writer.h"
#include "cli/util.h"

namespace quench::cli {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int build_command(const Options& o) {
  const std::string cmd = "build";
  if (is_plan_file(o.model)) return report_error(cmd, {kExitUsage, "'" + o.model + "' is already a plan file"});
  Model model;
  BuildOptions bo;
  bool explicit_batch = false;
  if (auto e = load_model_and_options(o, &model, &bo, &explicit_batch)) return report_error(cmd, *e);

  const auto t0 = std::chrono::steady_clock::now();
  auto engine = build(model, bo);
  if (!engine.ok()) return report_error(cmd, {kExitRuntime, "cannot build the engine: " + engine.status().to_string()});
  int64_t batch = 1;
  if (auto e = check_batch(engine->inputs(), bo.max_batch, explicit_batch, &batch)) return report_error(cmd, *e);
  const double build_ms = ms_since(t0);
  if (!o.save_calib.empty())
    if (Status s = engine->save_calibration(o.save_calib); !s.ok()) return report_error(cmd, {kExitRuntime, s.to_string()});
  const auto t1 = std::chrono::steady_clock::now();
  if (Status s = engine->save(o.output); !s.ok()) return report_error(cmd, {kExitRuntime, s.to_string()});
  const double save_ms = ms_since(t1);
  const auto t2 = std::chrono::steady_clock::now();
  auto loaded = Engine::load(o.output);
  const double load_ms = ms_since(t2);
  if (!loaded.ok())
    return report_error(cmd, {kExitRuntime, "the plan file written does not load back: " + loaded.status().to_string()});
  std::error_code ec;
  const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(o.output, ec));
  const MemoryReport& mem = engine->memory();

  if (o.json) {
    JsonWriter j;
    j.begin_object().field("command", "build").field("model", o.model).field("plan", o.output);
    j.field("backend", backend_name(bo.backend)).field("precision", precision_name(bo.precision));
    j.field("max_batch", static_cast<int64_t>(bo.max_batch)).field("plan_bytes", file_bytes);
    j.field("build_ms", build_ms).field("save_ms", save_ms).field("load_ms", load_ms);
    j.key("memory").begin_object().field("arena_bytes", mem.arena_bytes).field("lower_bound_bytes", mem.lower_bound_bytes);
    j.field("naive_bytes", mem.naive_bytes).field("weights_bytes", mem.weights_bytes).end_object();
    write_int8_report(j, engine->int8_report());
    j.end_object();
    std::fputs(j.str().c_str(), stdout);
  } else {
    const double mib = 1024.0 * 1024.0;
    std::printf("model       %s\n", o.model.c_str());
    std::printf("plan        %s (%.2f MiB)\n", o.output.c_str(), file_bytes / mib);
    std::printf("engine      %s %s, batches 1..%d\n", backend_name(bo.backend), precision_name(bo.precision), bo.max_batch);
    std::printf("time        build %s ms, save %s ms, load back %s ms\n", fixed(build_ms, 1).c_str(),
                fixed(save_ms, 1).c_str(), fixed(load_ms, 2).c_str());
    std::printf("memory      arena %.2f MiB (lower bound %.2f, naive %.2f), weights %.2f MiB\n", mem.arena_bytes / mib,
                mem.lower_bound_bytes / mib, mem.naive_bytes / mib, mem.weights_bytes / mib);
    print_int8_report(engine->int8_report(), true);
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace quench::cli
