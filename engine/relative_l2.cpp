#include "engine/relative_l2.h"

#include <cmath>
#include <limits>

namespace quench {

void RelativeL2::add(const Tensor& got, const Tensor& ref, float got_scale) {
  const float* r = ref.data_as<float>();
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double g = got.dtype() == DType::kI8 ? static_cast<double>(got.data_as<int8_t>()[i]) * got_scale
                                                : static_cast<double>(got.data_as<float>()[i]);
    const double d = g - r[i];
    diff += d * d;
    norm += static_cast<double>(r[i]) * r[i];
  }
}

double RelativeL2::value() const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (std::isnan(diff) || std::isnan(norm)) return kInf;
  if (norm > 0) return std::sqrt(diff / norm);
  return diff > 0 ? kInf : 0.0;
}

}  // namespace quench
