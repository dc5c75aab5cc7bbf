// The fused epilogue of the INT8 kernels (GEMM, implicit-GEMM convolution, depthwise): what
// becomes of an INT32 dot product before the one store of the output. The arithmetic is
// kernels/quant/quant_math.h's, called as is, so every kernel computes the bits the CPU INT8
// reference (ops/quant_epilogue.h) computes; docs/int8.md defines it in formulas.
//
//   acc = sat32(dot + B[c] + (INT8 residual ? apply(R, K_c) : 0))
//   INT8 output, activation none / ReLU / Clip:   y = clamp(apply(acc, M_c), lo, hi)
//   INT8 output, other activations:               y = quantize(float(act(float(acc) * D_c)), s_y)
//   FP32 / FP16 output:                           v = float(acc) * D_c;
//                                                 y = act(v + r)  or  act(v) + r  (residual_after)
//
// Everything that comes from real numbers is derived on the host by make_epilogue, with
// quant::multiplier_from_real and quant::clamp_bounds: per output channel the INT32 bias, the
// requantization multiplier (mult, shift), the residual multiplier and the dequantization scale
// (a "channel table" the caller uploads once, beside the packed weights), and per tensor the
// clamp bounds. The device never converts a scale.
//
// Exactness: the INT8 path with none / ReLU / Clip is integer arithmetic (one 64-bit product, one
// rounding shift), bit-exact. The float path pins its product and sums (__fmul_rn / __fadd_rn,
// which ptxas never fuses into an FMA) and mirrors the reference's ReLU and Clip comparisons, so it
// is bit-exact too. Sigmoid, SiLU, HardSwish and LeakyReLU are computed in double, as the
// reference computes them, but the device's exp may differ from the host's in the last bit:
// those outputs are compared within one INT8 step (INT8 outputs) or two float ulps (float
// outputs), not bit for bit.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/common/epilogue.cuh"
#include "kernels/quant/quant_math.h"
#include "quench/status.h"

namespace quench::kernels::int8 {

enum class Output : int { kInt8 = 0, kFloat32, kFloat16 };

const char* output_name(Output o);

// The Output of an output element type (int8_t, float, __half).
template <class Out>
constexpr Output output_of() {
  if constexpr (std::is_same_v<Out, int8_t>) {
    return Output::kInt8;
  } else if constexpr (std::is_same_v<Out, float>) {
    return Output::kFloat32;
  } else {
    static_assert(std::is_same_v<Out, __half>, "INT8 kernels write int8_t, float or __half");
    return Output::kFloat16;
  }
}

// A layer's epilogue in real terms (host input of make_epilogue).
struct EpilogueSpec {
  float x_scale = 0;  // the INT8 input's scale
  float y_scale = 0;  // the INT8 output's scale (Output::kInt8 only)
  float r_scale = 0;  // an INT8 residual's scale; 0: no INT8 residual will be given
  Output output = Output::kInt8;
  // Activation kind and parameters (kernels/common/epilogue.cuh). residual_after_activation is
  // for float outputs; with an INT8 output it is accepted only without an activation, where both
  // orders agree (as the reference does).
  EpilogueParams activation;
};

// The per-tensor constants, passed by value to the kernels; made by make_epilogue.
struct Epilogue {
  Output output = Output::kInt8;
  Activation act = Activation::kNone;
  float alpha = 0, clip_min = 0, clip_max = 0;
  bool residual_after = false;
  bool int_clamp = true;       // INT8 output with none / ReLU / Clip: the integer path
  bool int8_residual = false;  // the channel table holds residual multipliers (spec.r_scale > 0)
  int32_t lo = quant::kInt8Min, hi = quant::kInt8Max;  // the clamp, quantized at y_scale
  float y_scale = 1;
  int64_t channels = 0;  // channels of the table it was made with; 0: not made
};

// The channel table: kTableFields arrays of table_stride(channels) INT32 words each (channels
// rounded up to 4, zero-padded, so each array is 16-byte aligned when the table is):
//   bias | requant mult | requant shift | residual mult | residual shift | dequant scale (float bits)
enum TableField : int { kBias = 0, kRequantMult, kRequantShift, kResidualMult, kResidualShift, kDequant, kTableFields };

int64_t table_stride(int64_t channels);
size_t table_words(int64_t channels);
size_t table_bytes(int64_t channels);

// Derives the epilogue of a layer with `channels` output channels (host, build time):
// w_scale[channels] the per-channel weight scales, bias[channels] the INT32 bias (null: none),
// `table` (host memory, table_words(channels) words) receives the channel table. Fails, naming
// the channel, for a scale that is not positive and finite or gives no multiplier, and for an
// activation the INT8 kernels do not compute.
Status make_epilogue(const EpilogueSpec& spec, int64_t channels, const float* w_scale, const int32_t* bias,
                     Epilogue* epi, int32_t* table);

// Launch-time check shared by the INT8 families: `e` was made for `channels` channels and the
// output type `out`; an INT8 residual needs the residual multipliers; the table is 16-byte
// aligned. `who` prefixes the message.
Status check_epilogue(const Epilogue& e, Output out, bool has_residual, int64_t channels, const void* table,
                      const char* who);

// ---- element arithmetic (host and device) -------------------------------------------------------

// One output channel's constants, as the kernels hold them in registers.
struct Channel {
  int32_t bias = 0;
  quant::Multiplier requant, residual;
  float dequant = 0;
};

// Float product and sum that ptxas never contracts into an FMA (the reference rounds each).
__host__ __device__ inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
__host__ __device__ inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// The smooth activations in double, as ops/unary.cpp computes them (alpha: LeakyReLU's slope).
__host__ __device__ inline double sigmoid_f64(double x) {
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
__host__ __device__ inline double activation_f64(Activation a, double x, double alpha) {
  switch (a) {
    case Activation::kHardSwish: {
      const double t = x / 6.0 + 0.5;
      const double hi = t < 1.0 ? t : 1.0;  // std::min(1.0, t)
      return x * (0.0 < hi ? hi : 0.0);     // std::max(0.0, hi)
    }
    case Activation::kLeakyRelu: return x >= 0 ? x : alpha * x;
    case Activation::kSigmoid: return sigmoid_f64(x);
    case Activation::kSilu: return x * sigmoid_f64(x);
    default: return x;
  }
}

// A float output's activation: none, ReLU and Clip compare exactly as the reference does
// (std::max / std::min order, NaN kept), the others in double.
__host__ __device__ inline float activation_f32(const Epilogue& e, float v) {
  switch (e.act) {
    case Activation::kNone: return v;
    case Activation::kRelu: return v > 0.0f ? v : (v == v ? 0.0f : v);
    case Activation::kClip: {
      if (v != v) return v;
      const float lo = v < e.clip_min ? e.clip_min : v;
      return e.clip_max < lo ? e.clip_max : lo;
    }
    default: return static_cast<float>(activation_f64(e.act, static_cast<double>(v), static_cast<double>(e.alpha)));
  }
}

// INT8 output through none / ReLU / Clip: integers only.
__host__ __device__ inline int8_t element_int8_clamp(int32_t dot, const Channel& c, int8_t r, bool has_r,
                                                     const Epilogue& e) {
  const int32_t acc = quant::epilogue_accumulator(dot, c.bias, r, has_r, c.residual);
  return quant::requantize_int8(acc, c.requant, e.lo, e.hi);
}

// INT8 output through another activation: dequantize, activate in double, requantize.
__host__ __device__ inline int8_t element_int8_act(int32_t dot, const Channel& c, int8_t r, bool has_r,
                                                   const Epilogue& e) {
  const int32_t acc = quant::epilogue_accumulator(dot, c.bias, r, has_r, c.residual);
  const float v = quant::dequantize_accumulator(acc, c.dequant);
  return quant::quantize(static_cast<float>(activation_f64(e.act, static_cast<double>(v), static_cast<double>(e.alpha))),
                         e.y_scale);
}

// Float output: quant::dequantize_accumulator with its product pinned, then the residual (float)
// before or after the activation.
__host__ __device__ inline float element_float(int32_t dot, const Channel& c, float r, bool has_r, const Epilogue& e) {
  const int32_t acc = quant::epilogue_accumulator(dot, c.bias, 0, false, c.residual);
  float v = mul_rn(static_cast<float>(acc), c.dequant);
  if (has_r && !e.residual_after) v = add_rn(v, r);
  v = activation_f32(e, v);
  if (has_r && e.residual_after) v = add_rn(v, r);
  return v;
}

}  // namespace quench::kernels::int8
