// quench: the command-line face of the engine, in the spirit of trtexec.
//   quench inspect MODEL [--json] [--batch N] [--shape NAME=DIMS]
//   quench run MODEL [--backend cpu|cuda] [--precision fp32] [--batch N] ...
// The commands live in examples/cli/; this file only dispatches.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace quench::cli {

const char* const kMainUsage =
    "usage: quench COMMAND MODEL [options]\n"
    "\n"
    "commands:\n"
    "  inspect   show a model's inputs, outputs, op histogram, parameters and per-layer FLOPs\n"
    "  run       build an engine and time it on random or given inputs\n"
    "  help      'quench help COMMAND' shows a command's options\n"
    "\n"
    "build, validate and profile are not available yet.\n"
    "Exit codes: 0 success, 1 a runtime failure, 2 bad usage.\n";

const char* const kInspectUsage =
    "usage: quench inspect MODEL [options]\n"
    "\n"
    "Shows the model as the engine will run it at one batch: inputs and outputs, the op\n"
    "histogram, parameter count and bytes, and per layer the shapes, FLOPs (multiply-add = 2)\n"
    "and weights, after shape inference and constant folding.\n"
    "\n"
    "options:\n"
    "  --batch N              batch to infer shapes at (default 1, or the --shape batch)\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open, e.g. x=1x3x224x224\n"
    "  --json                 machine-readable report on stdout\n"
    "  --help                 this text\n";

const char* const kRunUsage =
    "usage: quench run MODEL [options]\n"
    "\n"
    "Builds an engine, runs it --warmup times untimed and --iterations times timed (host\n"
    "steady clock, per iteration), and reports latency min/mean/p50/p90/p99/max/stddev,\n"
    "p99/p50, throughput and a summary of every output.\n"
    "\n"
    "options:\n"
    "  --backend cpu|cuda     where to run (default cpu)\n"
    "  --precision P          fp32 | fp16 | int8 (default fp32)\n"
    "  --batch N              batch size (default 1, or the batch of --shape / --input)\n"
    "  --iterations N         timed runs (default 20)\n"
    "  --warmup N             untimed runs first (default 3)\n"
    "  --input NAME=FILE.npy  feed an input from a .npy file (repeatable); others are random\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open (repeatable)\n"
    "  --seed S               seed of the random inputs (default 0): floats uniform in [-1, 1),\n"
    "                         uint8 in [0, 255], other integers in [0, 9], bools 0/1\n"
    "  --save-outputs DIR     write each output as DIR/NAME.npy (NAME made safe for the filesystem)\n"
    "  --json                 machine-readable report on stdout\n"
    "  --help                 this text\n";

namespace {

const char* usage_for(const std::string& command) {
  if (command == "inspect") return kInspectUsage;
  if (command == "run") return kRunUsage;
  return nullptr;
}

int main_impl(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kMainUsage, stderr);
    return kExitUsage;
  }
  const std::string& command = args[0];
  if (command == "--help" || command == "-h" || (command == "help" && args.size() == 1)) {
    std::fputs(kMainUsage, stdout);
    return kExitOk;
  }
  if (command == "help") {
    if (args.size() > 2) return report_error("", {kExitUsage, "'help' takes one command (see 'quench --help')"});
    const char* u = usage_for(args[1]);
    if (!u) return report_error("", {kExitUsage, "no help for unknown command '" + args[1] + "' (see 'quench --help')"});
    std::fputs(u, stdout);
    return kExitOk;
  }
  if (command == "build" || command == "validate" || command == "profile")
    return report_error("", {kExitUsage, "command '" + command + "' is not available yet (see 'quench --help')"});
  const char* u = usage_for(command);
  if (!u) return report_error("", {kExitUsage, "unknown command '" + command + "' (see 'quench --help')"});

  Options o;
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (auto e = parse_options(command, rest, &o)) return report_error(command, *e);
  if (o.help) {
    std::fputs(u, stdout);
    return kExitOk;
  }
  return command == "inspect" ? inspect_command(o) : run_command(o);
}

}  // namespace
}  // namespace quench::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return quench::cli::main_impl(args);
  } catch (const std::exception& e) {  // bad_alloc and the like: still one line, still no abort
    std::fprintf(stderr, "quench: error: %s\n", e.what());
    return quench::cli::kExitRuntime;
  }
}
