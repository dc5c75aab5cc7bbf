// The axes a Reduce* node reduces (ops/reduce.cpp), shared by the CPU reference and the CUDA side
// (ops/reduce_gpu.cpp), so both read the axes attribute / input and noop_with_empty_axes one way.
#pragma once

#include <cstdint>

#include "ops/op.h"

namespace quench::ops {

// Bit d set when dim d of a rank-`rank` input is reduced: the axes attribute (before opset 13 for
// ReduceSum, 18 for the others) or, after, the constant input 1 (`axes`, null when omitted).
// Errors name the node.
Result<uint32_t> reduce_axes_mask(const NodeDesc& n, int rank, const Tensor* axes);

}  // namespace quench::ops
