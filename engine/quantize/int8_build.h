// The INT8 part of build(): calibration (or an imported table), the optional sensitivity pass,
// then the quantization pass, on the optimized float graph before it is specialized per batch.
#pragma once

#include <string>

#include "engine/calibration/calibration_table.h"
#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench::quant_pass {

struct Int8Graph {
  ir::Graph graph;  // quantized, unspecialized
  calib::CalibrationTable table;
  Int8Report report;
};

// `optimized`: optimize_graph's output with fuse_blocks off. Errors name the calibration
// folder or table file.
Result<Int8Graph> build_int8_graph(const ir::Graph& optimized, const BuildOptions& opt, const std::string& source);

}  // namespace quench::quant_pass
