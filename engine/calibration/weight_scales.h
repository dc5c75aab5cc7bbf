// Symmetric per-output-channel INT8 weights, for the quantization pass: scales from each
// channel's own max|w|, the INT8 weights at those scales, and the bias as INT32 at
// x_scale * w_scale[c]. The arithmetic is kernels/quant/quant_math.h's.
//
// Channels lie along `axis` of the weight: 0 for Conv's [M, C/g, k...] and for Gemm's B with
// transB = 1 ([N, K]); 1 for MatMul's and Gemm's B [K, N].
#pragma once

#include <string_view>
#include <vector>

#include "quench/tensor.h"

namespace quench::calib {

// scale[c] = max|w[c]| / 127 (so the largest weight maps to +-127 and -128 is never used).
// A channel of zeros has no scale of its own; it takes the largest scale of the others (so a
// bias on it keeps the resolution of its neighbours), or 1 when the whole tensor is zero.
// Errors (naming `name`): not float32, axis out of range, a NaN or infinite weight.
Result<std::vector<float>> channel_weight_scales(const Tensor& w, int axis, std::string_view name);

// int8 tensor of w's shape: quant::quantize(w, scale[channel]).
Result<Tensor> quantize_weights(const Tensor& w, int axis, const std::vector<float>& scales, std::string_view name);

// int32 [channels]: quant::quantize_bias(b[c], x_scale, w_scales[c]).
Result<Tensor> quantize_bias(const Tensor& b, float x_scale, const std::vector<float>& w_scales,
                             std::string_view name);

}  // namespace quench::calib
