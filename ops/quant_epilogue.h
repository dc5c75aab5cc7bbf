// What the INT8 product ops (quench.Int8Conv, Int8Gemm, Int8MatMul; ops/quant_conv.cpp,
// ops/quant_gemm.cpp) do with an INT32 accumulator: their common attributes, operand checks
// and per-output-channel epilogue. The arithmetic itself is kernels/quant/quant_math.h's, so
// the GPU kernels compute the same bits. docs/int8.md states the definition in formulas.
//
// Operands (after the product's own X and W):
//   W_scale  float32 [channels]  per-output-channel weight scale, each positive and finite
//   B        int32 [channels]    optional bias, already at scale x_scale * W_scale[c]
//   R        optional residual of the output's exact dtype and shape
// Attributes:
//   x_scale      float, > 0           X's scale
//   output_type  int, 3 (int8, default) | 1 (float32): requantize, or dequantize for a
//                following float layer
//   y_scale      float, > 0           the INT8 output's scale (int8 output only)
//   r_scale      float, > 0           R's scale (INT8 residual only)
//   activation, activation_alpha, activation_beta, residual_after_activation: as the fused
//                ops' epilogue (ops/epilogue.h)
//
// Epilogue, per output element of channel c (dot = the INT32 dot product):
//   acc = sat32(dot + B[c] + (INT8 R ? apply_multiplier(R, K_c) : 0)),  K_c = r_scale / (x_scale W_scale[c])
//   int8 output, activation none / Relu / Clip (ReLU6):
//        y = clamp(apply_multiplier(acc, M_c), lo, hi),  M_c = x_scale W_scale[c] / y_scale,
//        [lo, hi] = the activation's bounds quantized at y_scale (quant::clamp_bounds)
//   int8 output, any other activation (dequantize -> float activation -> requantize):
//        y = quantize(float(act(float(acc) * D_c)), y_scale),  D_c = float(x_scale W_scale[c])
//   float output: v = float(acc) * D_c; y = act(v + R) (or act(v) + R with
//        residual_after_activation), R float32, the sum in float32, act in double then float.
// An INT8 residual is added before the activation; residual_after_activation = 1 with an INT8
// output is accepted only without an activation (where both orders agree).
#pragma once

#include <cstdint>
#include <span>

#include "kernels/quant/quant_math.h"
#include "ops/epilogue.h"
#include "ops/op.h"

namespace quench::ops {

struct QuantAttrs {
  float x_scale = 0, y_scale = 0, r_scale = 0;
  DType out_dtype = DType::kI8;
  Activation act;
  bool int_clamp = true;       // act is none, Relu or Clip: an integer clamp on the INT8 output
  bool residual_after = false;  // float output only
  float clamp_a = 0, clamp_b = 0;  // the clamp's real bounds when int_clamp
};

// Reads and checks the attributes; `has_residual` says whether R is given. Allocates nothing
// unless it fails.
Result<QuantAttrs> read_quant_attrs(const NodeDesc& n, bool has_residual);

// One output channel's constants, derived from the scales the way a GPU launcher derives
// them on the host. Fails naming the node when the weight scale is not positive and finite.
struct ChannelQuant {
  quant::Multiplier requant, residual;
  float dequant = 0;
  int32_t lo = quant::kInt8Min, hi = quant::kInt8Max;
};
Result<ChannelQuant> channel_quant(const NodeDesc& n, const QuantAttrs& a, float w_scale, int64_t channel);

// The epilogue of one element: `acc` is already sat32(dot + bias + INT8 residual term).
int8_t epilogue_int8(const QuantAttrs& a, const ChannelQuant& c, int32_t acc);
float epilogue_float(const QuantAttrs& a, const ChannelQuant& c, int32_t acc, const float* residual);

// Shape-inference checks shared by the INT8 products. X and W must be int8; W_scale float32
// [channels], B int32 [channels] when present; R (index r) the output's exact dtype and
// shape; the reduction length at most quant::kMaxReduction. Sets out.dtype from output_type.
Status check_quant_operands(const NodeDesc& n, std::span<const ValueDesc> in, int64_t channels, int64_t reduction,
                            size_t residual_index, ValueDesc& out);

}  // namespace quench::ops
