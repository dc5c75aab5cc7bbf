// What `quench inspect` shows: a model's interface, op histogram, parameters and per-layer
// shapes and FLOPs, at a given batch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quench/quench.h"

namespace quench {

// FLOPs are counted as follows (a multiply-add is 2):
//   Conv           2 * N*Cout*spatial_out * Cin/group * prod(kernel)  (+ numel(out) with a bias)
//   ConvTranspose  2 * numel(in) * Cout/group * prod(kernel)          (+ numel(out) with a bias)
//   Gemm           2*M*N*K (+ M*N with C);  MatMul 2*M*N*K per batch entry
//   MaxPool, AveragePool   numel(out) * prod(kernel);  Global*Pool, Reduce*  numel(in)
//   BatchNormalization     2 * numel(out) (a scale and a shift per element)
//   Softmax, LogSoftmax    3 * numel(out) (subtract max and exp, sum, divide)
//   data movement (Reshape, Transpose, Concat, Slice, Gather, Pad, Cast, ...)  0
//   the optimizer's fused ops (quench.FusedConv, DwPwConv, InvertedResidual, FusedGemm,
//   FusedMatMul)  the sum of what they replace: each stage's product and bias as above, and
//   numel of the stage's output per activation and for the residual add
//   any other (elementwise) op  numel(out)
struct LayerInfo {
  std::string name, op_type;
  // Every input (constants included, with their shapes; an omitted optional input has an
  // empty name) and every output.
  std::vector<TensorInfo> inputs, outputs;
  std::vector<bool> input_is_constant;  // parallel to `inputs`
  int64_t flops = 0;
  int64_t params = 0;  // elements of parameter inputs (see ModelReport::parameters)
  // Bytes of every distinct input (weights included) and every output: what the layer reads
  // and writes at least, as the profiler counts it.
  int64_t bytes = 0;
};

// What the optimizer did, for `quench inspect --optimized` (engine/optimizer/).
struct PassSummary {
  std::string pass;
  int64_t rewrites = 0;              // 0: the pass left the graph unchanged
  std::vector<std::string> details;  // one line per rewrite, naming the nodes
};
struct FusionInfo {
  std::string node, op_type;           // a node of the optimized graph
  std::vector<std::string> absorbed;   // the model's nodes it stands for, itself first
};

struct InspectOptions {
  bool optimized = false;  // show the graph after the optimizer's passes
};

struct ModelReport {
  std::string source, producer;  // producer: "name version" as the file states it
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  int64_t batch = 1;
  std::vector<TensorInfo> inputs, outputs;  // static shapes at the report's batch
  std::map<std::string, int64_t> op_histogram;  // op type -> nodes, after folding
  // Parameters: the constant inputs of the remaining nodes, each counted once even when
  // shared, except int64 and bool constants (shapes, axes, indices, not weights).
  int64_t parameters = 0, parameter_bytes = 0;
  int64_t total_flops = 0;
  int64_t nodes_in_file = 0;      // nodes as the model lists them
  std::vector<LayerInfo> layers;  // in execution order, after build-time folding
  // Kernel launches per inference at the report's batch: one per step of the execution plan
  // (a node left after build-time folding; a fused node is one step), except
  //   - steps the planner elides (a Concat whose inputs were written straight into it), and
  //   - pure aliases, whose output is the input's bytes in the same order (Reshape, Flatten,
  //     Squeeze, Unsqueeze, Identity, Dropout without a mask output): a backend hands out a
  //     view. Every other step counts 1, whatever its kernel does inside.
  int64_t launches = 0;
  // With InspectOptions::optimized: the unoptimized graph's figures beside these, every pass's
  // record, and every node of the optimized graph that absorbed others.
  bool optimized = false;
  int64_t launches_unoptimized = 0, layers_unoptimized = 0;
  std::vector<PassSummary> passes;
  std::vector<FusionInfo> fusions;
};

// Infers shapes at batch options.max_batch (with options.input_shapes for inputs whose
// non-batch dims the model leaves unknown) and folds constants, as build() does; the
// backend and precision are not looked at, so a model can be inspected on any machine.
// With `io.optimized`, the graph is the optimizer's (engine/optimizer/optimizer.h) as an
// engine would run it.
Result<ModelReport> inspect(const Model& model, const BuildOptions& options = {}, const InspectOptions& io = {});

}  // namespace quench
