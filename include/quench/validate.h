// Validation: an engine's outputs and every layer's output against the FP32 CPU reference of
// the model it was built from, on sample inputs, with each layer's time beside its error.
//
//   auto report = quench::validate(model, *engine, opt);   // opt.samples_dir = "calib/"
//   if (report->first_failing >= 0) std::cout << report->layers[report->first_failing].node;
//
// The reference runs the model's graph as written (no optimizer) in FP32. A layer of the
// engine is compared through the tensor it writes: the reference tensor of the same name (an
// INT8 tensor "t.int8" dequantized against "t"); tensors the optimizer fused away have no
// counterpart and are not compared. Errors are relative L2 (||got - ref|| / ||ref||) averaged
// over the samples; a NaN makes the error infinite.
#pragma once

#include <string>
#include <vector>

#include "quench/quench.h"

namespace quench {

struct ValidateOptions {
  // Sample inputs: a folder of .npy files laid out as for calibration (DIR/*.npy or
  // DIR/<input>/*.npy, one sample per file, at batch 1 or the model's fixed batch), or maps
  // given directly. One of the two.
  std::string samples_dir;
  std::vector<TensorMap> samples;
  int64_t max_samples = 0;  // 0: all
  // Per-layer tolerance; 0 takes the engine precision's: fp32 1e-5, fp16 2e-2, int8 0.1 (each
  // layer's error accumulates from the inputs on).
  double tolerance = 0;
  // > 0: also the IoU of {ref > t} and {got > t} per output (probability maps, e.g. 0.3).
  double iou_threshold = 0;
};

struct OutputValidation {
  std::string name;
  double rel_l2_mean = 0, rel_l2_max = 0;
  // Classifier-shaped outputs ([batch, classes], classes > 1): rows whose arg-max agrees, of
  // top1_total rows (0 for other outputs).
  int64_t top1_agree = 0, top1_total = 0;
  double iou_mean = -1, iou_min = -1;  // with iou_threshold
};

struct LayerValidation {
  int64_t step = 0;
  std::string node, op_type;
  std::string tensor;      // the output compared
  Precision precision = Precision::kFP32;
  double rel_l2 = -1;      // -1: no reference tensor of that name
  double tolerance = 0;
  bool fails = false;      // rel_l2 > tolerance
  // Median over the samples, from a timed run of every step (CPU engines); on CUDA engines the
  // step's median in a quench::profile of the first sample (CUDA events, step by step).
  double seconds = 0;
};

struct ValidationReport {
  int64_t samples = 0;
  double error = 0;  // relative L2 over all outputs together, mean over samples
  std::vector<OutputValidation> outputs;
  std::vector<LayerValidation> layers;  // in execution order
  int64_t first_failing = -1;           // index into layers, -1 when none fails
};

// `reference`: the model `engine` was built from. CPU and CUDA engines; a CUDA engine's tensors
// come from one run without memory reuse (engine/cuda/debug_run.h), float16 values compared
// as float32.
Result<ValidationReport> validate(const Model& reference, const Engine& engine, const ValidateOptions& opt);

}  // namespace quench
