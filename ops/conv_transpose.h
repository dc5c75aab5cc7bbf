// ConvTranspose's geometry (ops/conv_transpose.cpp), shared by the CPU reference and the CUDA side
// (ops/conv_transpose_gpu.cpp), so both read strides, pads, output_padding, output_shape and
// auto_pad one way.
#pragma once

#include <cstdint>
#include <span>

#include "ops/op.h"
#include "ops/window.h"

namespace quench::ops {

struct ConvTransposeGeom {
  int64_t batch = 0, in_ch = 0, out_ch = 0, group = 1;
  // in: input spatial dims, out: output spatial dims; pad_begin / pad_end as resolved (negative
  // when output_shape asks for more than the full output).
  Window win;
};

// Input x [N, C, spatial...] and weight w [C, M/group, kernel...] against the node's attributes;
// errors name the node.
Result<ConvTransposeGeom> conv_transpose_geometry(const NodeDesc& n, const Shape& x, const Shape& w);

}  // namespace quench::ops
