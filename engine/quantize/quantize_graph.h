// The INT8 quantization pass: rewrites the matrix-product nodes of an optimized float graph
// (Conv, FusedConv, Gemm, FusedGemm, MatMul, FusedMatMul with constant float32 weights) into
// the INT8 ops of the quench domain (ops/quant_conv.cpp, ops/quant_gemm.cpp), with
// Int8Quantize / Int8Dequantize nodes where INT8 and float layers meet (ops/quant_convert.cpp).
// Activation scales come from a calibration table (engine/calibration), weight scales are
// per output channel (engine/calibration/weight_scales.h).
//
// Per quantized node:
//   - X is read as INT8: the INT8 output of a quantized producer, else one Int8Quantize of the
//     float tensor (shared by every quantized reader);
//   - the output is INT8 when at least one reader is quantized (then an Int8Dequantize feeds
//     the float readers and graph outputs), float32 otherwise (the node dequantizes itself);
//   - a residual R is read as INT8 when the output is INT8, as float32 otherwise;
//   - alpha and beta of a Gemm are folded into its weights and bias.
// Graph input and output names are kept; an INT8 tensor is named "<float name>.int8".
//
// Run it after optimize_graph with fuse_blocks off (DwPwConv / InvertedResidual have no INT8
// form yet) and before specialize_for_batch: it needs only the weights' shapes.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/calibration/calibration_table.h"
#include "engine/ir/graph.h"

namespace quench::quant_pass {

// Why a layer ended up in the precision it has.
enum class Reason {
  kQuantized,       // INT8
  kUnsupportedForm, // a candidate op in a form the INT8 ops do not take (says which in detail)
  kNotCalibrated,   // an operand has no entry in the calibration table
  kUserFloat,       // named by the user to stay float
  kSensitivity,     // kept float by the sensitivity pass to meet the accuracy budget
};
const char* reason_name(Reason r);

struct LayerPrecision {
  std::string node, op_type;
  bool int8 = false;
  Reason reason = Reason::kQuantized;
  std::string detail;         // the specific cause, in words
  double sensitivity = -1;    // output error with only this layer in INT8 (-1: not measured)
};

// The matrix-product nodes the pass could quantize (in graph order), with the reason each one
// that cannot be is excluded. Nodes of other ops are not listed.
std::vector<LayerPrecision> int8_candidates(const ir::Graph& g, const calib::CalibrationTable& table);

using NameSet = std::set<std::string, std::less<>>;

struct QuantizeOptions {
  NameSet keep_float;      // candidate nodes the user keeps float (Reason::kUserFloat)
  NameSet for_accuracy;    // and those the sensitivity pass keeps float (Reason::kSensitivity)
};

// Rewrites every candidate of int8_candidates() that neither set names; the graph is validated and
// its schemas bound afterwards. `layers` (may be null) gets one entry per candidate node, in
// graph order, saying what became of it.
Status quantize_graph(ir::Graph& g, const calib::CalibrationTable& table, const QuantizeOptions& opt,
                      std::vector<LayerPrecision>* layers);

}  // namespace quench::quant_pass
