// The commands of the `quench` tool and what they share: loading the model and turning the
// options into BuildOptions at one batch.
#pragma once

#include <optional>
#include <string>

#include "cli/args.h"
#include "quench/quench.h"

namespace quench::cli {

extern const char* const kMainUsage;
extern const char* const kInspectUsage;
extern const char* const kRunUsage;
extern const char* const kBuildUsage;
extern const char* const kProfileUsage;
extern const char* const kValidateUsage;
extern const char* const kServeBenchUsage;

// Each returns the process exit code, having printed its report or one error line.
int inspect_command(const Options& o);
int run_command(const Options& o);
int build_command(const Options& o);
int profile_command(const Options& o);
int validate_command(const Options& o);
int serve_bench_command(const Options& o);

// Prints "quench CMD: error: MESSAGE" (runtime) or "quench CMD: MESSAGE" (usage) on stderr
// and returns the error's exit code.
int report_error(const std::string& command, const CliError& e);

// Whether `path` starts like a plan file written by Engine::save (else it is taken for ONNX).
bool is_plan_file(const std::string& path);

// A plan file's engine (--shape is refused: 'quench build' fixed the shapes) and the batch to
// run it at: --batch, which may not exceed the plan's max batch, else that max batch.
std::optional<CliError> load_plan_file(const Options& o, Engine* engine, int64_t* batch);

// Loads the model named by the options.
std::optional<CliError> load_model(const Options& o, Model* out);

// Checks every --shape/--input name against the model's inputs.
std::optional<CliError> check_input_names(const Options& o, const Model& m);

// BuildOptions at `batch` from --backend, --precision and --shape. The batch is --batch,
// else the leading dim of a --shape, else `fallback_batch`. *explicit_batch says whether the
// user asked for it (then a model whose batch is fixed otherwise is an error, not a surprise).
std::optional<CliError> make_build_options(const Options& o, int64_t fallback_batch, BuildOptions* out,
                                           bool* explicit_batch);

// load_model, check_input_names and make_build_options (fallback batch 1) in one, for the
// commands that build from an ONNX model.
std::optional<CliError> load_model_and_options(const Options& o, Model* model, BuildOptions* bo,
                                               bool* explicit_batch);

// The batch the engine actually has (the leading dim of its first input; 1 without one),
// and an error when the user asked for another.
std::optional<CliError> check_batch(const std::vector<TensorInfo>& inputs, int64_t asked, bool explicit_batch,
                                    int64_t* effective);

// "float32 [1,3,224,224]"
std::string describe(const TensorInfo& t);

}  // namespace quench::cli
