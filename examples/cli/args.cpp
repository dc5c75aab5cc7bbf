#include "cli/args.h"

#include <charconv>
#include <limits>

#include "quench/quench.h"

namespace quench::cli {
namespace {

enum Cmd : unsigned { kInspect = 1, kRun = 2, kProfile = 4, kBuild = 8, kValidate = 16, kServeBench = 32 };
// The commands that build an engine from a model.
constexpr unsigned kBuilds = kRun | kProfile | kBuild | kValidate | kServeBench;

// serve-bench bounds: each client is a thread; the delay bound is the Batcher's (24 h).
constexpr int64_t kMaxClients = 4096, kMaxWorkers = 1024;
constexpr int64_t kMaxDelayUs = int64_t{24} * 3600 * 1000 * 1000;
constexpr double kMaxSeconds = 24 * 3600;

struct Flag {
  const char* name;
  bool takes_value;
  unsigned commands;  // which commands accept it
};

constexpr Flag kFlags[] = {
    {"--help", false, kInspect | kBuilds},              {"--json", false, kInspect | kBuilds},
    {"--batch", true, kInspect | kBuilds},              {"--shape", true, kInspect | kBuilds},
    {"--backend", true, kBuilds},                       {"--precision", true, kBuilds},
    {"--calib", true, kBuilds},                         {"--calib-table", true, kBuilds},
    {"--calib-method", true, kBuilds},                  {"--calib-samples", true, kBuilds},
    {"--int8-budget", true, kBuilds},                   {"--keep-float", true, kBuilds},
    {"--sensitivity-samples", true, kBuilds},
    {"--save-calib", true, kBuild},                     {"--inputs", true, kValidate},
    {"--samples", true, kValidate},                     {"--tolerance", true, kValidate},
    {"--iou-threshold", true, kValidate},
    {"-o", true, kBuild},                               {"--output", true, kBuild},
    {"--iterations", true, kRun | kProfile},            {"--warmup", true, kRun | kProfile},
    {"--input", true, kRun},                            {"--seed", true, kRun | kProfile | kServeBench},
    {"--save-outputs", true, kRun},                     {"--top", true, kProfile | kValidate},
    {"--trace", true, kProfile},                        {"--plot", true, kProfile},
    {"--optimized", false, kInspect},                   {"--no-optimize", false, kBuilds},
    {"--cuda-graph", true, kRun | kProfile | kServeBench}, {"--streams", true, kBuilds},
    {"--clients", true, kServeBench},                   {"--workers", true, kServeBench},
    {"--max-delay-us", true, kServeBench},              {"--preferred", true, kServeBench},
    {"--seconds", true, kServeBench},                   {"--warmup-seconds", true, kServeBench},
};

CliError usage(const std::string& command, const std::string& what) {
  return {kExitUsage, what + " (see 'quench help " + command + "')"};
}

// Splits NAME=VALUE at the last '=' (tensor names may hold '=', file names rarely do).
bool split_assignment(const std::string& s, std::string* name, std::string* value) {
  const size_t eq = s.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) return false;
  *name = s.substr(0, eq);
  *value = s.substr(eq + 1);
  return true;
}

// "4,8": batch sizes >= 1 (whether each fits the max batch is checked once that is known).
bool parse_size_list(const std::string& s, std::vector<int64_t>* out) {
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    auto v = parse_int(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start), 1, 1 << 20);
    if (!v) return false;
    out->push_back(*v);
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

}  // namespace

std::optional<int64_t> parse_int(const std::string& s, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end || v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<double> parse_real(const std::string& s, double lo, double hi) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end || !(v >= lo && v <= hi)) return std::nullopt;
  return v;
}

std::optional<Shape> parse_dims(const std::string& s) {
  Shape dims;
  size_t start = 0;
  for (;;) {
    size_t sep = s.find_first_of("x,", start);
    const std::string part = s.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
    auto d = parse_int(part, 1, int64_t{1} << 40);
    if (!d) return std::nullopt;
    dims.push_back(*d);
    if (sep == std::string::npos) break;
    start = sep + 1;
  }
  if (shape_numel(dims) < 0) return std::nullopt;  // element count overflows
  return dims;
}

std::optional<CliError> parse_options(const std::string& command, std::span<const std::string> args, Options* out) {
  const unsigned cmd = command == "inspect"       ? kInspect
                       : command == "profile"     ? kProfile
                       : command == "build"       ? kBuild
                       : command == "validate"    ? kValidate
                       : command == "serve-bench" ? kServeBench
                                                  : kRun;
  out->command = command;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h") {
      out->help = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      if (a == "--") return usage(command, "'--' is not an option");
      if (!out->model.empty()) return usage(command, "unexpected argument '" + a + "' (the model is '" + out->model + "')");
      out->model = a;
      continue;
    }
    // --flag value or --flag=value
    std::string name = a, value;
    bool inline_value = false;
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : kFlags)
      if (name == f.name) flag = &f;
    if (!flag || !(flag->commands & cmd)) return usage(command, "unknown option '" + name + "'");
    if (flag->takes_value && !inline_value) {
      if (i + 1 >= args.size()) return usage(command, "option " + name + " needs a value");
      value = args[++i];
    } else if (!flag->takes_value && inline_value) {
      return usage(command, "option " + name + " takes no value");
    }
    if (flag->takes_value && value.empty()) return usage(command, "option " + name + " needs a value");
    if (name == "--help") {
      out->help = true;
    } else if (name == "--json") {
      out->json = true;
    } else if (name == "--optimized") {
      out->optimized = true;
    } else if (name == "--no-optimize") {
      out->no_optimize = true;
    } else if (name == "--batch") {
      auto v = parse_int(value, 1, 1 << 20);
      if (!v) return usage(command, "--batch wants an integer >= 1, got '" + value + "'");
      out->batch = *v;
    } else if (name == "--iterations") {
      auto v = parse_int(value, 1, int64_t{1} << 30);
      if (!v) return usage(command, "--iterations wants an integer >= 1, got '" + value + "'");
      out->iterations = *v;
    } else if (name == "--warmup") {
      auto v = parse_int(value, 0, int64_t{1} << 30);
      if (!v) return usage(command, "--warmup wants an integer >= 0, got '" + value + "'");
      out->warmup = *v;
    } else if (name == "--seed") {
      auto v = parse_int(value, 0, std::numeric_limits<int64_t>::max());
      if (!v) return usage(command, "--seed wants a non-negative integer, got '" + value + "'");
      out->seed = static_cast<uint64_t>(*v);
    } else if (name == "--backend") {
      if (value != "cpu" && value != "cuda") return usage(command, "--backend is cpu or cuda, not '" + value + "'");
      out->backend = value;
    } else if (name == "--precision") {
      if (value != "fp32" && value != "fp16" && value != "int8")
        return usage(command, "--precision is fp32, fp16 or int8, not '" + value + "'");
      out->precision = value;
    } else if (name == "--cuda-graph") {
      // Accepted with any backend (so scripts can pass it whatever the backend); only the cuda
      // backend has graphs, the cpu backend ignores it.
      if (value != "on" && value != "off") return usage(command, "--cuda-graph is on or off, not '" + value + "'");
      out->cuda_graph = value == "on";
      out->cuda_graph_given = true;
    } else if (name == "--streams") {
      // Like --cuda-graph, accepted with any backend; the cpu backend ignores it.
      auto v = parse_int(value, 1, kMaxCudaStreams);
      if (!v) return usage(command, "--streams wants an integer in 1.." + std::to_string(kMaxCudaStreams) + ", got '" + value + "'");
      out->cuda_streams = static_cast<int>(*v);
    } else if (name == "--input") {
      std::string n, file;
      if (!split_assignment(value, &n, &file)) return usage(command, "--input wants NAME=FILE.npy, got '" + value + "'");
      for (const auto& [prev, f] : out->inputs)
        if (prev == n) return usage(command, "--input '" + n + "' is given twice");
      out->inputs.emplace_back(n, file);
    } else if (name == "--shape") {
      std::string n, dims;
      if (!split_assignment(value, &n, &dims)) return usage(command, "--shape wants NAME=DIMS such as x=1x3x224x224, got '" + value + "'");
      auto s = parse_dims(dims);
      if (!s) return usage(command, "--shape '" + value + "': dims must be positive integers joined by 'x'");
      for (const auto& [prev, sh] : out->shapes)
        if (prev == n) return usage(command, "--shape '" + n + "' is given twice");
      out->shapes.emplace_back(n, *s);
    } else if (name == "--save-outputs") {
      out->save_outputs = value;
    } else if (name == "--top") {
      auto v = parse_int(value, 1, int64_t{1} << 30);
      if (!v) return usage(command, "--top wants an integer >= 1, got '" + value + "'");
      out->top = *v;
    } else if (name == "--trace") {
      out->trace = value;
    } else if (name == "--plot") {
      out->plot = value;
    } else if (name == "-o" || name == "--output") {
      out->output = value;
    } else if (name == "--calib") {
      out->calib_dir = value;
    } else if (name == "--calib-table") {
      out->calib_table = value;
    } else if (name == "--calib-method") {
      if (value != "max" && value != "percentile" && value != "entropy")
        return usage(command, "--calib-method is max, percentile or entropy, not '" + value + "'");
      out->calib_method = value;
    } else if (name == "--calib-samples") {
      auto v = parse_int(value, 1, int64_t{1} << 30);
      if (!v) return usage(command, "--calib-samples wants an integer >= 1, got '" + value + "'");
      out->calib_samples = *v;
    } else if (name == "--int8-budget") {
      auto v = parse_real(value, 0, 1e9);
      if (!v || *v <= 0) return usage(command, "--int8-budget wants a relative L2 error > 0 such as 0.01, got '" + value + "'");
      out->int8_budget = *v;
    } else if (name == "--sensitivity-samples") {
      auto v = parse_int(value, 1, int64_t{1} << 20);
      if (!v) return usage(command, "--sensitivity-samples wants an integer >= 1, got '" + value + "'");
      out->sensitivity_samples = *v;
    } else if (name == "--keep-float") {
      out->keep_float.push_back(value);
    } else if (name == "--save-calib") {
      out->save_calib = value;
    } else if (name == "--inputs") {
      out->inputs_dir = value;
    } else if (name == "--samples") {
      auto v = parse_int(value, 1, int64_t{1} << 30);
      if (!v) return usage(command, "--samples wants an integer >= 1, got '" + value + "'");
      out->samples = *v;
    } else if (name == "--tolerance") {
      auto v = parse_real(value, 0, 1e9);
      if (!v || *v <= 0) return usage(command, "--tolerance wants a relative L2 error > 0, got '" + value + "'");
      out->tolerance = *v;
    } else if (name == "--iou-threshold") {
      auto v = parse_real(value, 0, 1e9);
      if (!v || *v <= 0) return usage(command, "--iou-threshold wants a value > 0 such as 0.3, got '" + value + "'");
      out->iou_threshold = *v;
    } else if (name == "--clients") {
      auto v = parse_int(value, 1, kMaxClients);
      if (!v) return usage(command, "--clients wants an integer in 1.." + std::to_string(kMaxClients) + ", got '" + value + "'");
      out->clients = *v;
    } else if (name == "--workers") {
      auto v = parse_int(value, 1, kMaxWorkers);
      if (!v) return usage(command, "--workers wants an integer in 1.." + std::to_string(kMaxWorkers) + ", got '" + value + "'");
      out->workers = *v;
    } else if (name == "--max-delay-us") {
      auto v = parse_int(value, 0, kMaxDelayUs);
      if (!v) return usage(command, "--max-delay-us wants microseconds in 0.." + std::to_string(kMaxDelayUs) + ", got '" + value + "'");
      out->max_delay_us = *v;
    } else if (name == "--preferred") {
      if (!parse_size_list(value, &out->preferred))
        return usage(command, "--preferred wants batch sizes >= 1 joined by ',' such as 4,8, got '" + value + "'");
    } else if (name == "--seconds" || name == "--warmup-seconds") {
      const bool measured = name == "--seconds";
      auto v = parse_real(value, 0, kMaxSeconds);
      if (!v || (measured && *v <= 0))
        return usage(command, name + " wants a number of seconds " + (measured ? "> 0" : ">= 0") + " (at most " +
                                  std::to_string(static_cast<int64_t>(kMaxSeconds)) + "), got '" + value + "'");
      (measured ? out->seconds : out->warmup_seconds) = *v;
    }
  }
  if (out->precision.empty()) out->precision = out->backend == "cuda" ? "fp16" : "fp32";
  if (out->help) return std::nullopt;
  if (out->model.empty()) return usage(command, "no model given");
  if (cmd == kBuild && out->output.empty()) return usage(command, "no plan file given (-o FILE.qplan)");
  return std::nullopt;
}

}  // namespace quench::cli
