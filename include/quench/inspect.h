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
//   any other (elementwise) op  numel(out)
struct LayerInfo {
  std::string name, op_type;
  // Every input (constants included, with their shapes; an omitted optional input has an
  // empty name) and every output.
  std::vector<TensorInfo> inputs, outputs;
  std::vector<bool> input_is_constant;  // parallel to `inputs`
  int64_t flops = 0;
  int64_t params = 0;  // elements of parameter inputs (see ModelReport::parameters)
  int64_t bytes = 0;   // bytes of all inputs and outputs: what the layer reads and writes at least
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
};

// Infers shapes at batch options.max_batch (with options.input_shapes for inputs whose
// non-batch dims the model leaves unknown) and folds constants, as build() does; the
// backend and precision are not looked at, so a model can be inspected on any machine.
Result<ModelReport> inspect(const Model& model, const BuildOptions& options = {});

}  // namespace quench
