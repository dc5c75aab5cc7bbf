// What the fused ops (quench.FusedConv, FusedGemm, FusedMatMul, DwPwConv, InvertedResidual)
// apply to a product's output before writing it: an optional residual input added before or
// after an optional activation. The activation arithmetic is the unary family's (ops/unary.h),
// so a fused op computes what the unfused Conv -> Add -> Relu sequence computes, up to the
// float rounding of the intermediates it no longer stores.
//
// Attributes (per stage, under the names a StageAttrs gives):
//   activation        string: "" (none) | Relu | Clip | LeakyRelu | HardSigmoid | HardSwish |
//                     Sigmoid | SiLU (x * Sigmoid(x))
//   activation_alpha  float: Clip's min, LeakyRelu's and HardSigmoid's alpha
//   activation_beta   float: Clip's max, HardSigmoid's beta
// and for the op's last stage:
//   residual_after_activation  int: 0 (default) y = act(p + r); 1 y = act(p) + r
#pragma once

#include <cstdint>
#include <string_view>

#include "ops/op.h"
#include "ops/unary.h"

namespace quench::ops {

enum class ActKind { kNone, kRelu, kClip, kLeakyRelu, kHardSigmoid, kHardSwish, kSigmoid, kSiLU };

// The attribute names of one stage's activation.
struct StageAttrs {
  std::string_view kind, alpha, beta;
};
inline constexpr StageAttrs kActivationAttrs{"activation", "activation_alpha", "activation_beta"};
inline constexpr std::string_view kResidualAfterAttr = "residual_after_activation";

struct Activation {
  ActKind kind = ActKind::kNone;
  UnaryFn fn = UnaryFn::kCopy;
  UnaryParams params;
};

// The attribute value naming `k` ("" for kNone), and back; nullopt-like failure as false.
std::string_view act_kind_name(ActKind k);
bool act_kind_from_name(std::string_view name, ActKind* out);

// Reads a stage's activation; an unknown kind fails naming the node. Allocates nothing unless
// it fails.
Result<Activation> read_activation(const NodeDesc& n, const StageAttrs& names);

// The activation at x, in double.
double apply_activation(const Activation& a, double x);

// y[i] = act(y[i] + r[i]) (or act(y[i]) + r[i] with `residual_after`), r may be null, for a
// float32 or float64 `dtype`, in place over `count` elements, rounding once per element.
Status apply_epilogue(const NodeDesc& n, DType dtype, void* y, const void* r, int64_t count, const Activation& a,
                      bool residual_after);

// Checks a stage's activation attributes at shape-inference time.
Status check_activation(const NodeDesc& n, const StageAttrs& names);

}  // namespace quench::ops
