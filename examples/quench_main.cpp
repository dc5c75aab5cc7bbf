// quench: the command-line face of the engine, in the spirit of trtexec.
//   quench inspect MODEL [--optimized] [--json] [--batch N] [--shape NAME=DIMS]
//   quench run MODEL [--backend cpu|cuda] [--precision fp32] [--batch N] [--cuda-graph on|off] ...
//   quench build MODEL -o FILE.qplan [--batch N] [--precision P]
//   quench profile MODEL [--batch N] [--top N] [--json] [--trace out.json] [--plot out.png]
//   quench serve-bench MODEL [--backend cuda] [--batch N] [--clients N] [--workers N] ...
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
    "  inspect      show a model's inputs, outputs, op histogram, parameters and per-layer FLOPs\n"
    "  run          build an engine and time it on random or given inputs\n"
    "  profile      time every layer: FLOPs, bytes, achieved rates and what bounds it\n"
    "  build        build an engine and save it as a plan file (.qplan) that 'run' loads in milliseconds\n"
    "  validate     compare an engine (e.g. INT8) with the FP32 reference on sample inputs, per output and per layer\n"
    "  serve-bench  load-test the dynamic batcher: closed-loop clients, batched vs unbatched throughput and p99\n"
    "  help         'quench help COMMAND' shows a command's options\n"
    "\n"
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
    "  --optimized            the graph after the optimizer's passes: what each pass did, which\n"
    "                         nodes were fused into which, and kernel launches per inference\n"
    "                         before and after\n"
    "  --json                 machine-readable report on stdout\n"
    "  --help                 this text\n";

const char* const kRunUsage =
    "usage: quench run MODEL|FILE.qplan [options]\n"
    "\n"
    "Builds an engine (or loads a plan file written by 'quench build'), runs it --warmup times\n"
    "untimed and --iterations times timed (host steady clock, per iteration), and reports\n"
    "latency min/mean/p50/p90/p99/max/stddev, p99/p50, throughput, the memory plan and a\n"
    "summary of every output. With a plan file, --batch may be any batch up to the plan's.\n"
    "\n"
    "options:\n"
    "  --backend cpu|cuda     where to run (default cpu)\n"
    "  --precision P          fp32 | fp16 | int8 (default fp32 on cpu, fp16 on cuda)\n"
    "  --no-optimize          run the graph as the model writes it (no fusion), to compare\n"
    "  --streams N            cuda backend: spread independent branches over up to N CUDA streams\n"
    "                         (1..16, default 1: every step in order on one stream)\n"
    "  --batch N              batch size (default 1, or the batch of --shape / --input)\n"
    "  --iterations N         timed runs (default 20)\n"
    "  --warmup N             untimed runs first (default 3)\n"
    "  --cuda-graph on|off    cuda backend: replay each run as one CUDA graph, captured for every\n"
    "                         batch when the context is created (default on); off launches kernel\n"
    "                         by kernel, to compare. The cpu backend ignores it\n"
    "  --input NAME=FILE.npy  feed an input from a .npy file (repeatable); others are random\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open (repeatable)\n"
    "  --seed S               seed of the random inputs (default 0): floats uniform in [-1, 1),\n"
    "                         uint8 in [0, 255], other integers in [0, 9], bools 0/1\n"
    "  --save-outputs DIR     write each output as DIR/NAME.npy (NAME made safe for the filesystem)\n"
    "  --json                 machine-readable report on stdout\n"
    "  --calib DIR ...        INT8 calibration and mixed precision: as for 'quench build'\n"
    "  --help                 this text\n";

const char* const kBuildUsage =
    "usage: quench build MODEL -o FILE.qplan [options]\n"
    "\n"
    "Builds an engine for batches 1..--batch (shape inference, folding and a memory plan for\n"
    "every batch; the weights once) and writes it to a plan file. 'quench run FILE.qplan' and\n"
    "quench::Engine::load map it back without re-inferring or re-planning anything.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      the plan file to write (required)\n"
    "  --backend cpu|cuda     the backend the plan is for (default cpu)\n"
    "  --precision P          fp32 | fp16 | int8 (default fp32 on cpu, fp16 on cuda)\n"
    "  --no-optimize          run the graph as the model writes it (no fusion), to compare\n"
    "  --streams N            cuda backend: spread independent branches over up to N CUDA streams\n"
    "                         (1..16, default 1: every step in order on one stream)\n"
    "  --batch N              largest batch the engine runs (default 1, or the --shape batch)\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open (repeatable)\n"
    "  --json                 machine-readable report on stdout\n"
    "  --help                 this text\n"
    "\n"
    "INT8 (--precision int8; docs/int8.md):\n"
    "  --calib DIR            calibrate on the .npy samples in DIR (DIR/*.npy or DIR/<input>/*.npy)\n"
    "  --calib-table FILE     or use a table saved before (--save-calib)\n"
    "  --calib-method M       max | percentile (99.99) | entropy (default)\n"
    "  --calib-samples N      calibrate on the first N samples only\n"
    "  --int8-budget E        keep the most sensitive layers float until the outputs' relative L2\n"
    "                         error on the first 8 samples is at most E (e.g. 0.01)\n"
    "  --sensitivity-samples N  samples the budget is measured on (default 8)\n"
    "  --keep-float NODE      keep this layer float (repeatable)\n"
    "  --save-calib FILE      write the calibration table, for --calib-table later\n";

const char* const kProfileUsage =
    "usage: quench profile MODEL [options]\n"
    "\n"
    "Times every layer of the engine (host steady clock around each step on the cpu backend,\n"
    "CUDA events between the steps on cuda, in a separate profiling run) and, interleaved with\n"
    "those runs, the whole model in plain runs. Reports\n"
    "per layer its time in a typical run (and its median), share, FLOPs, minimum bytes moved,\n"
    "achieved GFLOP/s and GB/s, and whether it is memory-, compute- or overhead-bound, with its\n"
    "percentage of that ceiling (the device's ceilings are measured once per process; see\n"
    "docs/profiling.md).\n"
    "\n"
    "options:\n"
    "  --backend cpu|cuda     where to run (default cpu)\n"
    "  --precision P          fp32 | fp16 | int8 (default fp32 on cpu, fp16 on cuda)\n"
    "  --no-optimize          run the graph as the model writes it (no fusion), to compare\n"
    "  --streams N            cuda backend: spread independent branches over up to N CUDA streams\n"
    "                         (1..16, default 1: every step in order on one stream)\n"
    "  --batch N              batch size (default 1, or the batch of --shape)\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open (repeatable)\n"
    "  --iterations N         profiled and plain runs each (default 20)\n"
    "  --warmup N             untimed runs of each kind first (default 3)\n"
    "  --seed S               seed of the random inputs (default 0), as for 'quench run'\n"
    "  --cuda-graph on|off    cuda backend: whether the plain runs replay a CUDA graph (default\n"
    "                         off: they launch step by step like the profiled runs, so that the\n"
    "                         layer sum and the whole model compare like for like)\n"
    "  --top N                layers in the table, slowest first (default 10)\n"
    "  --json                 machine-readable report with every layer on stdout\n"
    "  --trace FILE           Chrome/Perfetto trace: one slice per layer of the median run\n"
    "  --plot FILE.png        roofline plot (scripts/roofline_plot.py; needs python3-matplotlib)\n"
    "  --calib DIR ...        INT8 calibration and mixed precision: as for 'quench build'\n"
    "  --help                 this text\n";

const char* const kValidateUsage =
    "usage: quench validate MODEL [options]\n"
    "\n"
    "Builds the engine the options describe and runs it beside the model's FP32 CPU reference\n"
    "(the graph as written, no optimizer) on sample inputs. Reports each output's relative L2\n"
    "error, top-1 agreement for classifier outputs ([batch, classes]) and, with --iou-threshold,\n"
    "the IoU of thresholded probability maps; then every layer's error against the reference\n"
    "tensor of the same name beside its time, naming the first layer over the tolerance.\n"
    "\n"
    "options:\n"
    "  --inputs DIR           evaluation samples: DIR/*.npy or DIR/<input>/*.npy, one per sample\n"
    "                         (default: the --calib folder, which flatters an INT8 engine)\n"
    "  --samples N            use the first N samples only\n"
    "  --tolerance T          per-layer relative L2 tolerance (default by precision: fp32 1e-5,\n"
    "                         fp16 2e-2, int8 0.1; the error accumulates over the layers)\n"
    "  --iou-threshold T      also the IoU of {reference > T} and {engine > T} per output\n"
    "  --top N                layers in the table, largest errors (default 10)\n"
    "  --precision, --calib, --calib-table, --calib-method, --calib-samples, --int8-budget,\n"
    "  --keep-float, --backend, --no-optimize, --streams, --batch, --shape: as for 'quench build'\n"
    "  --json                 machine-readable report with every layer on stdout\n"
    "  --help                 this text\n";

const char* const kServeBenchUsage =
    "usage: quench serve-bench MODEL|FILE.qplan [options]\n"
    "\n"
    "A closed-loop load test of quench::Batcher (docs/batching.md). Builds the engine (or loads a\n"
    "plan file), then:\n"
    "  1. one batch's compute: Context::run at the max batch, 3 warm-up and 20 timed runs; the\n"
    "     median (host steady clock)\n"
    "  2. batched: a Batcher with --batch, --max-delay-us, --preferred and --workers; --clients\n"
    "     threads each send one single-sample request (random, seeded --seed + client index),\n"
    "     wait for its result and send the next, --warmup-seconds untimed, then --seconds measured\n"
    "  3. unbatched: the same clients and workers through a Batcher with max batch 1 and no delay\n"
    "Reports per phase the requests completed in the measured window, throughput, request latency\n"
    "(submit to result, requests submitted in the window; microseconds), queue wait and batch\n"
    "sizes; then the throughput ratio batched/unbatched and whether the batched p99 is within the\n"
    "delay plus one batch's compute. Exit code 1 when any request failed.\n"
    "\n"
    "options:\n"
    "  --backend cpu|cuda     where to run (default cpu)\n"
    "  --precision P          fp32 | fp16 | int8 (default fp32 on cpu, fp16 on cuda)\n"
    "  --no-optimize          run the graph as the model writes it (no fusion), to compare\n"
    "  --streams N            cuda backend: spread independent branches over up to N CUDA streams\n"
    "                         (1..16, default 1: every step in order on one stream)\n"
    "  --batch N              the engine's and the batcher's max batch (default 8 when the model's\n"
    "                         batch is open, else its fixed batch; with a plan file, the plan's)\n"
    "  --shape NAME=DIMS      shape of an input whose dims the model leaves open, leading dim = the\n"
    "                         batch (repeatable)\n"
    "  --clients N            client threads (default 64)\n"
    "  --workers N            batcher worker threads, each with its own context (default 2)\n"
    "  --max-delay-us US      how long the oldest queued request waits for company (default 2000)\n"
    "  --preferred LIST       preferred batch sizes, comma-separated, each in 1..max batch (default none)\n"
    "  --seconds S            measured seconds per phase (default 5)\n"
    "  --warmup-seconds S     untimed seconds before each phase's measurement (default 1)\n"
    "  --seed S               seed of the random inputs (default 0), as for 'quench run'\n"
    "  --cuda-graph on|off    cuda backend: whether every context (phase 1's and the batcher\n"
    "                         workers') replays CUDA graphs (default on)\n"
    "  --json                 machine-readable report on stdout\n"
    "  --calib DIR ...        INT8 calibration and mixed precision: as for 'quench build'\n"
    "  --help                 this text\n";

namespace {

const char* usage_for(const std::string& command) {
  if (command == "inspect") return kInspectUsage;
  if (command == "run") return kRunUsage;
  if (command == "profile") return kProfileUsage;
  if (command == "build") return kBuildUsage;
  if (command == "validate") return kValidateUsage;
  if (command == "serve-bench") return kServeBenchUsage;
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
  const char* u = usage_for(command);
  if (!u) return report_error("", {kExitUsage, "unknown command '" + command + "' (see 'quench --help')"});

  Options o;
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (auto e = parse_options(command, rest, &o)) return report_error(command, *e);
  if (o.help) {
    std::fputs(u, stdout);
    return kExitOk;
  }
  if (command == "profile") return profile_command(o);
  if (command == "build") return build_command(o);
  if (command == "validate") return validate_command(o);
  if (command == "serve-bench") return serve_bench_command(o);
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
