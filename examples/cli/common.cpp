#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/util.h"

namespace quench::cli {

int report_error(const std::string& command, const CliError& e) {
  const std::string prefix = command.empty() ? "quench" : "quench " + command;
  if (e.exit_code == kExitUsage)
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), one_line(e.message).c_str());
  else
    std::fprintf(stderr, "%s: error: %s\n", prefix.c_str(), one_line(e.message).c_str());
  return e.exit_code;
}

bool is_plan_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[8] = {};
  const bool whole = std::fread(magic, 1, sizeof magic, f) == sizeof magic;
  std::fclose(f);
  return whole && std::memcmp(magic, "QUENCHPL", sizeof magic) == 0;
}

std::optional<CliError> load_model(const Options& o, Model* out) {
  auto m = load_onnx(o.model);
  if (!m.ok()) return CliError{kExitRuntime, "cannot load '" + o.model + "': " + m.status().to_string()};
  *out = std::move(m).value();
  return std::nullopt;
}

std::optional<CliError> check_input_names(const Options& o, const Model& m) {
  auto known = [&](const std::string& name) {
    for (const auto& in : m.inputs())
      if (in.name == name) return true;
    return false;
  };
  std::string list;
  for (const auto& in : m.inputs()) list += (list.empty() ? "'" : ", '") + in.name + "'";
  if (list.empty()) list = "none";
  for (const auto& [name, s] : o.shapes)
    if (!known(name))
      return CliError{kExitUsage, "--shape names '" + name + "', which is not a model input (inputs: " + list + ")"};
  for (const auto& [name, f] : o.inputs)
    if (!known(name))
      return CliError{kExitUsage, "--input names '" + name + "', which is not a model input (inputs: " + list + ")"};
  return std::nullopt;
}

std::optional<CliError> load_plan_file(const Options& o, Engine* engine, int64_t* batch) {
  if (!o.shapes.empty()) return CliError{kExitUsage, "--shape does not apply to a plan file: its shapes were fixed by 'quench build'"};
  auto e = Engine::load(o.model);
  if (!e.ok()) return CliError{kExitRuntime, "cannot load '" + o.model + "': " + e.status().to_string()};
  *engine = std::move(e).value();
  const int64_t max_batch = engine->options().max_batch;
  *batch = o.batch.value_or(max_batch);
  if (*batch > max_batch)
    return CliError{kExitUsage, "--batch " + std::to_string(*batch) + " is larger than the plan's max batch " +
                                    std::to_string(max_batch) + " (rebuild it with a larger --batch)"};
  return std::nullopt;
}

std::optional<CliError> make_build_options(const Options& o, int64_t fallback_batch, BuildOptions* out,
                                           bool* explicit_batch) {
  BuildOptions b;
  b.backend = o.backend == "cuda" ? Backend::kCuda : Backend::kCpu;
  b.precision = o.precision == "fp16" ? Precision::kFP16 : o.precision == "int8" ? Precision::kINT8 : Precision::kFP32;
  b.optimize = !o.no_optimize;
  b.cuda_streams = o.cuda_streams;
  b.int8.calibration_dir = o.calib_dir;
  b.int8.calibration_table = o.calib_table;
  b.int8.method = o.calib_method;
  b.int8.max_samples = o.calib_samples;
  b.int8.budget = o.int8_budget;
  b.int8.sensitivity_samples = o.sensitivity_samples;
  b.int8.keep_float = o.keep_float;
  b.int8.progress = [](const std::string& s) { std::fprintf(stderr, "quench: %s\n", s.c_str()); };
  const bool int8_flags = !o.calib_dir.empty() || !o.calib_table.empty() || o.int8_budget > 0 || !o.keep_float.empty();
  if (int8_flags && b.precision != Precision::kINT8)
    return CliError{kExitUsage, "--calib, --calib-table, --int8-budget and --keep-float need --precision int8"};
  int64_t batch = fallback_batch;
  *explicit_batch = false;
  if (o.batch) {
    batch = *o.batch;
    *explicit_batch = true;
  } else if (!o.shapes.empty()) {
    batch = o.shapes.front().second.front();
    *explicit_batch = true;
  }
  for (const auto& [name, s] : o.shapes) {
    if (s.front() != batch)
      return CliError{kExitUsage, "--shape " + name + "=" + shape_str(s) + " has leading (batch) dim " +
                                      std::to_string(s.front()) + " but the batch is " + std::to_string(batch)};
    b.input_shapes[name] = s;
  }
  b.max_batch = static_cast<int>(batch);
  *out = std::move(b);
  return std::nullopt;
}

std::optional<CliError> load_model_and_options(const Options& o, Model* model, BuildOptions* bo,
                                               bool* explicit_batch) {
  if (auto e = load_model(o, model)) return e;
  if (auto e = check_input_names(o, *model)) return e;
  return make_build_options(o, 1, bo, explicit_batch);
}

std::optional<CliError> check_batch(const std::vector<TensorInfo>& inputs, int64_t asked, bool explicit_batch,
                                    int64_t* effective) {
  *effective = 1;
  if (inputs.empty() || inputs.front().shape.empty()) return std::nullopt;
  *effective = inputs.front().shape.front();
  if (explicit_batch && *effective != asked)
    return CliError{kExitUsage, "model input '" + inputs.front().name + "' has a fixed batch of " +
                                    std::to_string(*effective) + ", so batch " + std::to_string(asked) +
                                    " cannot be used (export the model with a dynamic batch dim)"};
  return std::nullopt;
}

std::string describe(const TensorInfo& t) { return std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape); }

}  // namespace quench::cli
