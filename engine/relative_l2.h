// The error measure of the INT8 build and of validation: relative L2, ||got - ref|| / ||ref||,
// accumulated over any number of tensor pairs (all outputs of a sample together, or one tensor).
#pragma once

#include "quench/tensor.h"

namespace quench {

struct RelativeL2 {
  double diff = 0, norm = 0;  // sums of (got - ref)^2 and ref^2, in double

  // `ref` float32; `got` float32, or INT8 read as q * got_scale; the same element count.
  void add(const Tensor& got, const Tensor& ref, float got_scale = 1.0f);
  // sqrt(diff / norm); +inf when a NaN was seen or the reference is zero and `got` is not, so
  // that a broken result never passes a tolerance.
  double value() const;
};

}  // namespace quench
