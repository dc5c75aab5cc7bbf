// What the fusion passes ask of a node: can its epilogue take an activation or a residual, is it
// a pointwise or depthwise convolution, and which activation does an activation node compute.
#pragma once

#include <optional>

#include "engine/optimizer/graph_edit.h"
#include "ops/epilogue.h"

namespace quench::optimizer {

// A Conv, Gemm or MatMul (or FusedConv, FusedGemm, FusedMatMul) and its epilogue so far.
struct Epilogue {
  bool has_activation = false;
  bool has_residual = false;
  size_t residual_index = 0;  // where the fused form takes its residual input
};
std::optional<Epilogue> epilogue_of(const ir::Graph& g, const ir::Node& n);

// The fused form of a Conv / Gemm / MatMul (a fused node is returned as it is).
ir::Node to_fused(const ir::Node& n);

// An activation as the fused ops' attributes hold it.
struct ActivationSpec {
  ops::ActKind kind = ops::ActKind::kNone;
  std::optional<float> alpha, beta;
};
// The activation an ONNX node computes, when the fused epilogue can compute the same: Relu,
// LeakyRelu, HardSigmoid, HardSwish, Sigmoid, and Clip with constant bounds that a float holds
// exactly.
std::optional<ActivationSpec> activation_of(const ir::Graph& g, const ir::Node& n);

// Writes `a` as the attributes under `names` (ops/epilogue.h).
void set_activation(ir::Node& n, const ops::StageAttrs& names, const ActivationSpec& a);
// Copies a fused node's activation attributes (kActivationAttrs) to another stage's names.
void copy_activation(const ir::Node& from, ir::Node& to, const ops::StageAttrs& names);

// A Conv or FusedConv without a residual input, with a constant weight of rank >= 3.
struct ConvInfo {
  const Tensor* weight = nullptr;
  bool has_residual = false;
};
std::optional<ConvInfo> conv_info(const ir::Graph& g, const ir::Node& n);
// 1x1 kernel, group 1, unit strides, no pads.
bool is_pointwise(const ir::Graph& g, const ir::Node& n);
// One input channel per group and as many output channels: weight [C, 1, k...], group C.
bool is_depthwise(const ir::Graph& g, const ir::Node& n);

}  // namespace quench::optimizer
