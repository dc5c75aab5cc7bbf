// An ONNX convolution's geometry (ops/conv.h) as the GPU convolution kernels take it, shared by
// the FP16 (ops/conv_gpu.cpp) and INT8 (ops/quant_gpu.cpp) convolutions, so that both accept
// the same forms and send the same ones to the depthwise kernels.
#pragma once

#include "kernels/conv/conv.cuh"
#include "ops/conv.h"
#include "ops/op.h"

namespace quench::ops {

// The 2-D kernels' shape of `g`; kUnsupported naming the node for another rank, or a padding
// whose output size the kernels compute differently from ONNX.
Result<kernels::conv::ConvShape> kernel_conv_shape(const NodeDesc& n, const ConvGeom& g);

// The depthwise kernels' form: group = C = Cout > 1, a square 3x3 or 5x5 kernel, equal strides
// 1 or 2, no dilation. Every other convolution goes to the implicit-GEMM kernels.
bool depthwise_form(const kernels::conv::ConvShape& s);

}  // namespace quench::ops
