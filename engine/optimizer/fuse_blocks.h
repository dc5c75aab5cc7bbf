// Shared by the block fusions (fuse_inverted_residuals.cpp, fuse_dw_pw.cpp).
#pragma once

#include "engine/optimizer/fusable.h"

namespace quench::optimizer {

// A node of the quench domain named `name`, op `op_type`, holding the depthwise conv `dw`'s
// window attributes (group, strides, pads, dilations, auto_pad, kernel_shape) and its
// activation under `dw_names`.
ir::Node block_node(const ir::Node& dw, std::string name, std::string op_type, const ops::StageAttrs& dw_names);

// Input `i` of `n`, or "" when omitted.
std::string input_or_empty(const ir::Node& n, size_t i);

// The single node reading `value` (index), when exactly one node reads it once and it is no
// graph output.
std::optional<size_t> sole_reader(const GraphIndex& idx, const std::string& value);

}  // namespace quench::optimizer
