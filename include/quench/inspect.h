// What `quench inspect` shows: a model's interface, op histogram, parameters and per-layer
// shapes and FLOPs, at a given batch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quench/quench.h"

namespace quench {

struct LayerInfo {
  std::string name, op_type;
  std::vector<TensorInfo> inputs, outputs;  // constants included, with their shapes
  int64_t flops = 0;   // multiply-add counted as 2
  int64_t params = 0;  // elements of constant inputs (weights)
};

struct ModelReport {
  std::string source, producer;
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;
  std::vector<TensorInfo> inputs, outputs;  // static shapes at the report's batch
  std::map<std::string, int64_t> op_histogram;
  int64_t parameters = 0, parameter_bytes = 0;
  int64_t total_flops = 0;
  std::vector<LayerInfo> layers;  // in execution order, after build-time folding
};

Result<ModelReport> inspect(const Model& model, const BuildOptions& options = {});

}  // namespace quench
