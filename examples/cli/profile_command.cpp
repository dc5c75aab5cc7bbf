// `quench profile MODEL`: builds an engine, profiles every layer (quench::profile) and prints the
// slowest layers with their bounds, or the whole report as JSON; writes a Chrome/Perfetto trace
// and a roofline plot on request.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/profile_output.h"
#include "cli/util.h"
#include "quench/profile.h"

extern char** environ;

#ifndef QUENCH_ROOFLINE_SCRIPT
#define QUENCH_ROOFLINE_SCRIPT "scripts/roofline_plot.py"
#endif

namespace quench::cli {
namespace {

namespace fs = std::filesystem;

// The plotting script: $QUENCH_ROOFLINE_SCRIPT, else the one in the source tree this tool was
// built from.
std::string roofline_script() {
  const char* env = std::getenv("QUENCH_ROOFLINE_SCRIPT");
  return env && *env ? env : QUENCH_ROOFLINE_SCRIPT;
}

// $QUENCH_PYTHON, else Debian's interpreter (which has python3-matplotlib; a pyenv python3 on
// the PATH may not), else python3 from the PATH.
std::string python() {
  const char* env = std::getenv("QUENCH_PYTHON");
  if (env && *env) return env;
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::optional<CliError> write_file(const std::string& path, const std::string& text, const char* what) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f << text;
  if (!f || !f.flush()) return CliError{kExitRuntime, std::string(what) + ": cannot write '" + path + "'"};
  return std::nullopt;
}

// Runs `python script report.json out.png`; its output goes to a file whose last line becomes
// the error message when it fails, so that the error stays one line.
std::optional<CliError> plot(const std::string& report_json, const std::string& png) {
  std::error_code ec;
  const fs::path dir = fs::temp_directory_path(ec);
  if (ec) return CliError{kExitRuntime, "--plot: no temporary directory: " + ec.message()};
  const std::string stem = (dir / ("quench-profile-" + std::to_string(getpid()))).string();
  const std::string json_path = stem + ".json", log_path = stem + ".log";
  if (auto e = write_file(json_path, report_json, "--plot")) return e;
  const std::string py = python(), script = roofline_script();
  std::vector<std::string> args = {py, script, json_path, png};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, py.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  const bool ran = rc == 0 && waitpid(pid, &status, 0) == pid;
  std::string last;
  std::ifstream log(log_path);
  for (std::string l; std::getline(log, l);)
    if (!l.empty()) last = l;
  fs::remove(json_path, ec);
  fs::remove(log_path, ec);
  if (!ran) return CliError{kExitRuntime, "--plot: cannot run " + py + " (" + std::strerror(rc) + ")"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return CliError{kExitRuntime, "--plot: " + script + " failed" + (last.empty() ? "" : ": " + last)};
  return std::nullopt;
}

}  // namespace

int profile_command(const Options& o) {
  const std::string cmd = "profile";
  Model model;
  if (auto e = load_model(o, &model)) return report_error(cmd, *e);
  if (auto e = check_input_names(o, model)) return report_error(cmd, *e);
  // Checked before the long part, so that a typo fails at once.
  if (!o.trace.empty())
    if (auto e = write_file(o.trace, "", "--trace")) return report_error(cmd, *e);
  if (!o.plot.empty() && !fs::is_regular_file(roofline_script()))
    return report_error(cmd, {kExitRuntime, "--plot: cannot find the plotting script '" + roofline_script() +
                                                "' (set QUENCH_ROOFLINE_SCRIPT)"});

  BuildOptions bo;
  bool explicit_batch = false;
  if (auto e = make_build_options(o, 1, &bo, &explicit_batch)) return report_error(cmd, *e);
  auto engine = build(model, bo);
  if (!engine.ok()) return report_error(cmd, {kExitRuntime, "cannot build the engine: " + engine.status().to_string()});
  int64_t batch = 1;
  if (auto e = check_batch(engine->inputs(), bo.max_batch, explicit_batch, &batch)) return report_error(cmd, *e);

  // The inputs `quench run` would feed with the same seed.
  ProfileOptions po;
  po.warmup = o.warmup;
  po.iterations = o.iterations;
  po.seed = o.seed;
  po.cuda_graph = o.cuda_graph_given && o.cuda_graph;
  std::mt19937_64 rng(o.seed);
  for (const TensorInfo& in : engine->inputs()) {
    Tensor t = Tensor::zeros(in.dtype, in.shape);
    fill_random(t, rng);
    po.inputs[in.name] = std::move(t);
  }
  auto report = profile(*engine, po);
  if (!report.ok()) return report_error(cmd, {kExitRuntime, report.status().to_string()});

  const ProfileRun run{o.model, device_description(bo.backend), o.backend, o.precision, o.seed, po.cuda_graph};
  const std::string json = profile_json(run, *report);
  if (!o.trace.empty())
    if (auto e = write_file(o.trace, trace_json(run, *report), "--trace")) return report_error(cmd, *e);
  if (!o.plot.empty())
    if (auto e = plot(json, o.plot)) return report_error(cmd, *e);
  std::fputs(o.json ? json.c_str() : profile_table(run, *report, o.top).c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace quench::cli
