// Command-line options of the `quench` commands, parsed strictly: an unknown flag, a missing
// value or a malformed number is a usage error (exit code 2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "quench/types.h"

namespace quench::cli {

// Exit codes: 0 success, 1 a runtime failure (the model, the engine, a file), 2 bad usage.
inline constexpr int kExitOk = 0, kExitRuntime = 1, kExitUsage = 2;

// A failure that ends the command: its one-line message and exit code.
struct CliError {
  int exit_code = kExitRuntime;
  std::string message;
};

struct Options {
  std::string command;  // "inspect", "run", "profile", "build", "validate" or "serve-bench"
  std::string model;
  bool help = false;
  bool json = false;
  bool optimized = false;  // inspect --optimized: the graph after the optimizer's passes
  std::optional<int64_t> batch;
  std::string backend = "cpu";
  std::string precision;  // "" until parsed: then fp16 on cuda (its default), fp32 on cpu
  int64_t iterations = 20;
  int64_t warmup = 3;
  uint64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> inputs;  // --input NAME=FILE.npy, in order
  std::vector<std::pair<std::string, Shape>> shapes;        // --shape NAME=1x3x224x224
  std::string save_outputs;                                  // --save-outputs DIR
  int64_t top = 10;                                          // profile --top N: layers in the table
  std::string trace, plot;                                   // profile --trace FILE, --plot FILE
  bool no_optimize = false;                                  // run/build/profile --no-optimize
  bool cuda_graph = true;                                    // run/profile --cuda-graph on|off (cuda backend)
  bool cuda_graph_given = false;                             // profile's default is off
  int cuda_streams = 1;                                      // --streams N (cuda backend)
  std::string output;                                        // build -o FILE.qplan
  // INT8 (--precision int8): calibration and mixed precision (quench::Int8Options).
  std::string calib_dir, calib_table, calib_method = "entropy";
  int64_t calib_samples = 0;
  double int8_budget = 0;
  int64_t sensitivity_samples = 8;
  std::vector<std::string> keep_float;
  std::string save_calib;  // build --save-calib FILE
  // validate: evaluation samples, per-layer tolerance, IoU threshold for probability maps.
  std::string inputs_dir;
  int64_t samples = 0;
  double tolerance = 0, iou_threshold = 0;
  // serve-bench: the closed-loop load and the batcher it drives.
  int64_t clients = 64;
  int64_t workers = 2;
  int64_t max_delay_us = 2000;
  std::vector<int64_t> preferred;  // --preferred 4,8 (checked against the batch once it is known)
  double seconds = 5, warmup_seconds = 1;
};

// Parses the arguments after the command word. Fills `out` or returns a usage error.
std::optional<CliError> parse_options(const std::string& command, std::span<const std::string> args, Options* out);

// "1x3x224x224" (or "1,3,224,224"): dims >= 1. nullopt when malformed.
std::optional<Shape> parse_dims(const std::string& s);
// A whole string as a decimal integer in [lo, hi].
std::optional<int64_t> parse_int(const std::string& s, int64_t lo, int64_t hi);
// A whole string as a decimal number in [lo, hi].
std::optional<double> parse_real(const std::string& s, double lo, double hi);

}  // namespace quench::cli
