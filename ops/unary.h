// The element-wise arithmetic of the unary family (ops/unary.cpp), for ops that apply an
// activation inside another op (the fused ops' epilogues) and must compute exactly what the
// unfused Relu, Clip, Sigmoid... node computes.
#pragma once

#include <limits>
#include <string_view>

namespace quench::ops {

enum class UnaryFn { kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kElu, kSqrt, kErf,
                     kNeg, kAbs, kExp, kLog, kFloor, kCeil, kCopy };

// alpha/beta: LeakyRelu, Elu, HardSigmoid; lo/hi: Clip's bounds.
struct UnaryParams {
  double alpha = 0, beta = 0, lo = -std::numeric_limits<double>::infinity(),
         hi = std::numeric_limits<double>::infinity();
};

// The function of an ONNX op type; kCopy for Identity, Dropout and any other name.
UnaryFn unary_fn(std::string_view op_type);

// f(x) for a floating input, in double, as the unary reference computes it before rounding.
double unary_apply(UnaryFn f, double x, const UnaryParams& p);

}  // namespace quench::ops
