// quench's public API: load a model, build an engine, run it in a context.
//
//   auto model  = quench::load_onnx("mobilenetv2.onnx");
//   quench::BuildOptions opt;  opt.max_batch = 8;
//   auto engine = quench::build(*model, opt);
//   auto ctx    = engine->create_context();        // or create_context({.stream = my_cuda_stream})
//   ctx->run({{"input", in}}, outputs);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quench/status.h"
#include "quench/tensor.h"
#include "quench/types.h"

namespace quench {

namespace detail {
struct ModelImpl;
struct EngineImpl;
struct ContextImpl;
}  // namespace detail

enum class Backend { kCpu, kCuda };
enum class Precision { kFP32, kFP16, kINT8 };
const char* backend_name(Backend b);
const char* precision_name(Precision p);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;  // -1 where the model leaves a dim unknown
};

// A loaded, validated model: every operator is supported and the graph is well formed.
class Model {
 public:
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const std::string& source() const;  // path it was loaded from
  const detail::ModelImpl& impl() const { return *impl_; }

 private:
  friend struct detail::ModelImpl;
  friend struct detail::EngineImpl;
  std::shared_ptr<const detail::ModelImpl> impl_;
};

// Reads an ONNX file (memory-mapped; weights stored as raw_data are not copied).
Result<Model> load_onnx(const std::string& path);
// Same, from bytes in memory (copied). `name` is used in messages.
Result<Model> load_onnx_from_bytes(const void* data, size_t size, const std::string& name = "<memory>");

// How an INT8 engine (precision kINT8) is calibrated and which layers it quantizes
// (docs/int8.md). Matrix products (Conv, Gemm, MatMul and their fused forms) run in INT8; every
// other layer, and any product kept float, runs in the backend's float precision.
struct Int8Options {
  // Activation scales: calibrate the FP32 model on the .npy samples in calibration_dir
  // (DIR/*.npy, or DIR/<input>/*.npy), or import a table an earlier build saved
  // (Engine::save_calibration). One of the two is required.
  std::string calibration_dir;
  std::string calibration_table;
  std::string method = "entropy";  // max | percentile | entropy
  double percentile = 99.99;       // for method percentile
  int64_t max_samples = 0;         // calibration samples used; 0: all in calibration_dir
  // Accuracy budget: when > 0, a sensitivity pass measures each layer's effect on the outputs
  // (relative L2 against FP32, mean over sensitivity_samples samples of calibration_dir) and
  // keeps the most sensitive layers float until the whole model's error is within the budget.
  double budget = 0;
  int64_t sensitivity_samples = 8;
  std::vector<std::string> keep_float;  // node names that stay float whatever the budget
  // Long steps (calibration, the sensitivity pass) report their progress here; may be empty.
  std::function<void(const std::string&)> progress;
};

// The precision one matrix-product layer of an INT8 engine got, and why.
struct LayerPrecisionInfo {
  std::string node, op_type;
  Precision precision = Precision::kFP32;
  std::string reason;        // "int8", "kept float for accuracy", "unsupported form: ...", ...
  double sensitivity = -1;   // output error with only this layer in INT8; -1 when not measured
};

struct Int8Report {
  std::string method;          // calibration method, or "table FILE"
  int64_t samples = 0;         // calibration samples the scales came from
  double budget = 0;
  double error = -1;           // the final engine's error on the sensitivity samples (-1: not measured)
  std::vector<LayerPrecisionInfo> layers;  // every matrix-product layer, in graph order
};

inline constexpr int kMaxCudaStreams = 16;  // BuildOptions::cuda_streams at most

struct BuildOptions {
  Backend backend = Backend::kCpu;
  Precision precision = Precision::kFP32;
  int max_batch = 1;
  // Graph optimizer passes (folding BatchNormalization, activations and residual adds into
  // convolutions, fusing depthwise-separable blocks; engine/optimizer/optimizer.h). Off runs
  // the model's graph as written, for comparison.
  bool optimize = true;
  // Shapes for inputs whose non-batch dims the model leaves unknown.
  std::map<std::string, Shape, std::less<>> input_shapes;
  Int8Options int8;  // precision kINT8 only
  // Backend kCuda: how many CUDA streams a run may spread independent branches over (a ResNet
  // block's shortcut beside its main path, a detector's heads), joined with events; 1..16. The
  // memory plan keeps every tensor until the steps that touch it are done on all streams.
  // 1 (the default until measured on a GPU; docs/cuda-backend.md) runs every step in order on
  // one stream. The CPU backend ignores it.
  int cuda_streams = 1;
};

class Context;

// How a context runs (Engine::create_context).
struct ContextOptions {
  // Backend kCuda: the CUDA stream (a cudaStream_t, held as void* so that this header needs no
  // CUDA headers) the context's runs are enqueued on. Null: the context makes its own
  // (non-blocking) stream. A given stream stays the caller's: the context never destroys it, it
  // must be on the engine's device and outlive the context. Context::run still returns filled
  // outputs (it waits for the stream). With the CPU backend a non-null stream is
  // kInvalidArgument.
  void* stream = nullptr;
  // Backend kCuda: at create_context, capture every batch size's run (1..max_batch) as a CUDA
  // graph, and replay it in each run: one launch instead of one per kernel. Off launches kernel
  // by kernel, for comparison. The CPU backend ignores it.
  bool cuda_graph = true;
  // Backend kCuda: time the device part of every run (from the first copy to the device to the
  // last copy back) with a CUDA event pair: Context::last_device_seconds. Two event records per
  // run; off by default. The CPU backend ignores it.
  bool device_timing = false;
  // Lets Context::submit take a run while the previous one is still in flight (two runs
  // submitted and not yet collected instead of one). Backend kCuda: two sets of pinned staging
  // (and of CUDA graphs), so that the host copies one run's inputs in and the previous run's
  // outputs out while the device computes; the device still runs one at a time. create_context
  // then warms up and captures twice.
  bool pipeline = false;
};

// The activation memory the planner fixed for max_batch, beside what it is measured against.
struct MemoryReport {
  int64_t arena_bytes = 0;        // one context's activation arena
  int64_t lower_bound_bytes = 0;  // the largest sum of live bytes at any single step
  int64_t naive_bytes = 0;        // every tensor in its own buffer
  int64_t weights_bytes = 0;      // shared by all contexts
};

class Engine {
 public:
  const std::vector<TensorInfo>& inputs() const;   // static shapes at max_batch
  const std::vector<TensorInfo>& outputs() const;
  const BuildOptions& options() const;
  const MemoryReport& memory() const;
  // A context for running the engine: its own working memory, and on the CUDA backend its own
  // stream (or options.stream), every module loaded and every batch's CUDA graph captured and
  // uploaded, so that its first run is as fast as the hundredth. create_context() uses the
  // default ContextOptions.
  Result<Context> create_context() const;
  Result<Context> create_context(const ContextOptions& options) const;
  // Writes the engine (every batch's graph and plan, and the weights once) to a plan file.
  Status save(const std::string& path) const;
  // Maps a plan file written by save(): nothing is re-inferred or re-planned, only checked.
  // A truncated, corrupt or other-version file is a kParseError naming the file.
  static Result<Engine> load(const std::string& path);
  // An INT8 engine's calibration table, as a text file Int8Options::calibration_table reads.
  Status save_calibration(const std::string& path) const;
  // What the INT8 build decided per layer (empty for other precisions and for loaded engines,
  // whose layers' precisions show in their graph: quench inspect).
  const Int8Report& int8_report() const;
  const detail::EngineImpl& impl() const { return *impl_; }

 private:
  friend struct detail::EngineImpl;
  std::shared_ptr<const detail::EngineImpl> impl_;
};

Result<Engine> build(const Model& model, const BuildOptions& options = {});

using TensorMap = std::map<std::string, Tensor, std::less<>>;

// One execution context: owns its working memory; use one per thread.
class Context {
 public:
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  ~Context();

  // Runs the engine on `inputs` (every model input, by name, with the engine's shape; the
  // leading dim may be any batch 1..max_batch). Fills `outputs` with one tensor per model
  // output; tensors already there with the right dtype and shape are written in place.
  Status run(const TensorMap& inputs, TensorMap& outputs);

  // A run in two halves, for a caller that overlaps its own work (or the next run) with the
  // device's. submit() checks `inputs` as run() does, copies them (the caller may reuse them at
  // once) and starts the run without waiting for it. collect() waits for the oldest submitted run
  // and fills `outputs` as run() does. At most pipeline_depth() runs may be submitted and not yet
  // collected: 1, or 2 with ContextOptions::pipeline; one more submit() is kFailedPrecondition,
  // and so is collect() with none. run() needs no run pending. A run's failure is reported by
  // submit() when it is found there (bad inputs), else by its collect().
  Status submit(const TensorMap& inputs);
  Status collect(TensorMap& outputs);
  int pipeline_depth() const;
  int pending() const;  // submitted, not yet collected

  // Whether runs replay CUDA graphs (backend kCuda with ContextOptions::cuda_graph).
  bool uses_cuda_graph() const;
  // The device time of the last successful run (ContextOptions::device_timing on a CUDA
  // engine), in seconds; -1 when not measured.
  double last_device_seconds() const;

 private:
  friend struct detail::EngineImpl;
  explicit Context(std::unique_ptr<detail::ContextImpl> impl);
  std::unique_ptr<detail::ContextImpl> impl_;
};

}  // namespace quench
