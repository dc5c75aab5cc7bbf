// The optimizer's passes, one per file in engine/optimizer/. Each returns whether it changed
// the graph; one that does not apply leaves the graph bit for bit as it was. optimize_graph
// and optimize_inferred_graph (optimizer.h) run them in order.
#pragma once

#include "engine/optimizer/graph_edit.h"
#include "engine/optimizer/shape_facts.h"

namespace quench::optimizer {

// Nodes whose inputs are all constants (and Constant nodes) are evaluated once, on the CPU
// reference, when their results are small; their outputs become constants.
Result<bool> fold_constants(ir::Graph& g, PassLog& log);

// Identity, and Dropout whose mask is unused (inference: a copy), are bypassed.
Result<bool> remove_copies(ir::Graph& g, PassLog& log);

// Transpose -> Transpose whose first output has no other reader: removed when the perms cancel,
// merged into one Transpose otherwise; a Transpose with an identity perm is removed.
Result<bool> fold_transpose_pairs(ir::Graph& g, PassLog& log);

// Conv or Gemm -> BatchNormalization (inference mode, constant per-channel parameters), where the
// product's output has no other reader: the BatchNormalization is folded into new weights and
// bias, computed in double once and rounded to the weight's element type.
Result<bool> fold_batchnorm(ir::Graph& g, PassLog& log);

// Conv -> Mul or Add with a constant that varies along the channel dim at most (a BatchNorm
// written out): folded into the conv's weights and bias.
Result<bool> fold_affine(ir::Graph& g, PassLog& log);

// Conv / Gemm / MatMul (or their fused forms) -> activation (Relu, Clip with constant bounds,
// LeakyRelu, HardSigmoid, HardSwish, Sigmoid, x*Sigmoid(x), x*Clip(x+3,0,6)/6) becomes FusedConv / FusedGemm /
// FusedMatMul with the activation in its epilogue.
Result<bool> fold_activations(ir::Graph& g, PassLog& log);

// Conv / Gemm / MatMul (or fused, without residual) -> Add(other) where both Add operands have
// the same shape at every batch: the Add becomes the fused op's residual input.
Result<bool> fold_residual_adds(ir::Graph& g, const ShapeFacts& shapes, PassLog& log);

// pointwise conv -> depthwise conv -> pointwise conv, each intermediate read once: one
// InvertedResidual (the project conv's residual and activation kept).
Result<bool> fuse_inverted_residuals(ir::Graph& g, PassLog& log);

// depthwise conv -> pointwise conv, the intermediate read once: one DwPwConv.
Result<bool> fuse_dw_pw(ir::Graph& g, PassLog& log);

// Nodes no graph output depends on, and values nothing uses, are removed.
Result<bool> remove_dead_nodes(ir::Graph& g, PassLog& log);

// Static shapes only (after shape inference): Reshape / Flatten / Squeeze / Unsqueeze that keep
// their input's shape are bypassed, and a chain of two becomes one Reshape to the final shape.
Result<bool> simplify_reshapes(ir::Graph& g, PassLog& log);

}  // namespace quench::optimizer
