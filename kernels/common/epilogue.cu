#include <cmath>

#include "kernels/common/epilogue.cuh"

namespace quench::kernels {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kClip: return "clip";
    case Activation::kHardSwish: return "hardswish";
    case Activation::kSilu: return "silu";
    case Activation::kLeakyRelu: return "leakyrelu";
    case Activation::kSigmoid: return "sigmoid";
  }
  return "unknown";
}

bool epilogue_params_valid(const EpilogueParams& p) {
  switch (p.activation) {
    case Activation::kNone: case Activation::kRelu: case Activation::kHardSwish:
    case Activation::kSilu: case Activation::kSigmoid:
      return true;
    case Activation::kClip:
      return !std::isnan(p.clip_min) && !std::isnan(p.clip_max) && p.clip_min <= p.clip_max;
    case Activation::kLeakyRelu:
      return std::isfinite(p.alpha);
  }
  return false;
}

}  // namespace quench::kernels
