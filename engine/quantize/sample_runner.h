// Runs an unspecialized graph (optimize_graph's output, quantized or not) on a list of samples
// through the CPU reference, for the INT8 build's accuracy measurements.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/cpu_executor.h"
#include "engine/ir/graph.h"

namespace quench::quant_pass {

class SampleRunner {
 public:
  // Specializes `g` at `batch` (as build() does) and plans it for one executor.
  static Result<SampleRunner> create(const ir::Graph& g, const BuildOptions& opt, int64_t batch,
                                     const std::string& source);
  // One output map per sample.
  Result<std::vector<TensorMap>> run(const std::vector<TensorMap>& samples);

 private:
  std::unique_ptr<CpuExecutor> exec_;
};

// The error of `got` against `want`, both one output map per sample: per sample, the
// relative L2 over every float output together (sqrt(sum (g-w)^2 / sum w^2)), then the mean
// over samples. A NaN anywhere gives +inf, so it can never pass a budget.
double mean_relative_l2(const std::vector<TensorMap>& got, const std::vector<TensorMap>& want);

}  // namespace quench::quant_pass
