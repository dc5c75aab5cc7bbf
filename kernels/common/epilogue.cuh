// The fused epilogue shared by the GEMM, convolution and depthwise families: applied in registers
// to the FP32 accumulator before the one store of the output.
//
//   y = act(acc + bias[n] + residual)      (residual_after_activation == false, e.g. ResNet)
//   y = act(acc + bias[n]) + residual      (residual_after_activation == true)
//
// bias is FP32, one value per output channel (N); residual has the output's type and layout.
#pragma once

#include <cuda_runtime.h>

namespace quench::kernels {

enum class Activation : int {
  kNone = 0,
  kRelu,       // max(x, 0)
  kClip,       // min(max(x, clip_min), clip_max); ReLU6 is Clip(0, 6)
  kHardSwish,  // x * clip(x + 3, 0, 6) / 6
  kSilu,       // x * sigmoid(x)
  kLeakyRelu,  // x >= 0 ? x : alpha * x
  kSigmoid,    // 1 / (1 + exp(-x))
};

const char* activation_name(Activation a);

struct EpilogueParams {
  Activation activation = Activation::kNone;
  float alpha = 0.01f;     // LeakyReLU slope
  float clip_min = 0.0f;   // Clip bounds
  float clip_max = 6.0f;
  bool residual_after_activation = false;

  static EpilogueParams relu6() {
    EpilogueParams p;
    p.activation = Activation::kClip;
    p.clip_min = 0.0f;
    p.clip_max = 6.0f;
    return p;
  }
};

// Host-side check of the parameters (finite bounds, min <= max).
bool epilogue_params_valid(const EpilogueParams& p);

#ifdef __CUDACC__
// The activation, chosen at compile time (kernels dispatch once per launch with with_activation,
// so the per-element code has no switch).
template <Activation A>
__device__ __forceinline__ float activate(float x, const EpilogueParams& p) {
  if constexpr (A == Activation::kNone) {
    return x;
  } else if constexpr (A == Activation::kRelu) {
    return fmaxf(x, 0.0f);
  } else if constexpr (A == Activation::kClip) {
    return fminf(fmaxf(x, p.clip_min), p.clip_max);
  } else if constexpr (A == Activation::kHardSwish) {
    return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
  } else if constexpr (A == Activation::kSilu) {
    return x * __frcp_rn(1.0f + __expf(-x));  // exp overflow -> rcp(inf) = 0 -> -0
  } else if constexpr (A == Activation::kLeakyRelu) {
    return x >= 0.0f ? x : p.alpha * x;
  } else {
    static_assert(A == Activation::kSigmoid, "unhandled activation");
    return __frcp_rn(1.0f + __expf(-x));
  }
}

// acc (+ bias already added) -> final value, with the residual in FP32 (0 when absent).
template <Activation A>
__device__ __forceinline__ float apply_epilogue(float acc_plus_bias, float residual, const EpilogueParams& p) {
  if (p.residual_after_activation) return activate<A>(acc_plus_bias, p) + residual;
  return activate<A>(acc_plus_bias + residual, p);
}

template <Activation A>
struct ActivationTag {
  static constexpr Activation value = A;
};

// Calls f(ActivationTag<A>{}) for the run-time activation `a` (uniform across the launch).
template <class F>
__device__ __forceinline__ void with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::kNone: f(ActivationTag<Activation::kNone>{}); break;
    case Activation::kRelu: f(ActivationTag<Activation::kRelu>{}); break;
    case Activation::kClip: f(ActivationTag<Activation::kClip>{}); break;
    case Activation::kHardSwish: f(ActivationTag<Activation::kHardSwish>{}); break;
    case Activation::kSilu: f(ActivationTag<Activation::kSilu>{}); break;
    case Activation::kLeakyRelu: f(ActivationTag<Activation::kLeakyRelu>{}); break;
    case Activation::kSigmoid: f(ActivationTag<Activation::kSigmoid>{}); break;
  }
}
#endif  // __CUDACC__

}  // namespace quench::kernels
