// The Conv reference for ops that run convolutions inside themselves (the fused ops in
// ops/fused_conv.cpp): the same geometry checks and the same loop as the Conv node, so a
// fused op's result equals the unfused sequence's.
#pragma once

#include <cstdint>
#include <span>

#include "ops/op.h"
#include "ops/window.h"

namespace quench::ops {

struct ConvGeom {
  int64_t batch = 0, in_ch = 0, out_ch = 0, group = 1;
  Window win;
};

// Input x and weight w against each other and the node's Conv attributes (group, strides,
// pads, dilations, auto_pad, kernel_shape); errors name the node.
// Spans, so a caller can describe an intermediate from the stack.
Result<ConvGeom> conv_geometry(const NodeDesc& n, std::span<const int64_t> x, std::span<const int64_t> w);

// A 1x1 convolution, unit strides, no pads, group 1, over `spatial` dims.
ConvGeom pointwise_geometry(int64_t batch, int64_t in_ch, int64_t out_ch, std::span<const int64_t> spatial);

// [N, out_ch, out spatial...].
Shape conv_output_shape(const ConvGeom& g);

// y = conv(x, w) + b (b may be null) for float32 or float64 `dtype`; other types fail naming
// the node. Allocates nothing.
Status conv_forward(const NodeDesc& n, DType dtype, const ConvGeom& g, const void* x, const void* w, const void* b,
                    void* y);

}  // namespace quench::ops
