#include "engine/calibration/weight_scales.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/quant/quant_math.h"

namespace quench::calib {
namespace {

// Elements of w split as [outer, channels, inner] around `axis`.
struct Split {
  int64_t outer = 1, channels = 1, inner = 1;
  int64_t channel_of(int64_t i) const { return (i / inner) % channels; }
};

Result<Split> split(const Tensor& w, int axis, std::string_view name) {
  if (w.dtype() != DType::kF32)
    return error(StatusCode::kUnsupported, "weight '", name, "' is ", dtype_name(w.dtype()),
                 "; INT8 quantization takes float32 weights");
  const int rank = static_cast<int>(w.shape().size());
  if (axis < 0 || axis >= rank)
    return error(StatusCode::kInvalidArgument, "weight '", name, "' of shape ", shape_str(w.shape()),
                 " has no channel axis ", axis);
  Split s;
  for (int d = 0; d < rank; ++d) {
    if (d < axis) s.outer *= w.shape()[d];
    if (d == axis) s.channels = w.shape()[d];
    if (d > axis) s.inner *= w.shape()[d];
  }
  return s;
}

// A weight may be a mapped, unaligned view: read elements through value_as_double.
float element(const Tensor& w, int64_t i) { return static_cast<float>(w.value_as_double(i)); }

}  // namespace

Result<std::vector<float>> channel_weight_scales(const Tensor& w, int axis, std::string_view name) {
  QUENCH_ASSIGN(Split s, split(w, axis, name));
  std::vector<double> amax(static_cast<size_t>(s.channels), 0.0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float v = element(w, i);
    if (!std::isfinite(v))
      return error(StatusCode::kInvalidArgument, "weight '", name, "' holds a non-finite value at element ", i);
    double& a = amax[static_cast<size_t>(s.channel_of(i))];
    a = std::max(a, static_cast<double>(std::fabs(v)));
  }
  std::vector<float> scales(amax.size(), 0.0f);
  float largest = 0;
  for (size_t c = 0; c < amax.size(); ++c) {
    if (amax[c] > 0) scales[c] = static_cast<float>(amax[c] / 127.0);
    // A denormal max can round to 0 in float: keep the smallest positive scale instead.
    if (amax[c] > 0 && scales[c] == 0) scales[c] = std::numeric_limits<float>::denorm_min();
    largest = std::max(largest, scales[c]);
  }
  for (float& sc : scales)
    if (sc == 0) sc = largest > 0 ? largest : 1.0f;
  return scales;
}

Result<Tensor> quantize_weights(const Tensor& w, int axis, const std::vector<float>& scales, std::string_view name) {
  QUENCH_ASSIGN(Split s, split(w, axis, name));
  if (static_cast<int64_t>(scales.size()) != s.channels)
    return error(StatusCode::kInvalidArgument, "weight '", name, "' has ", s.channels, " channels but ",
                 scales.size(), " scales were given");
  for (float sc : scales)
    if (!(sc > 0) || !std::isfinite(sc))
      return error(StatusCode::kInvalidArgument, "weight '", name, "': scale ", sc, " is not positive and finite");
  Tensor q = Tensor::zeros(DType::kI8, w.shape());
  int8_t* out = q.mutable_data_as<int8_t>();
  for (int64_t i = 0; i < w.numel(); ++i)
    out[i] = quant::quantize(element(w, i), scales[static_cast<size_t>(s.channel_of(i))]);
  return q;
}

Result<Tensor> quantize_bias(const Tensor& b, float x_scale, const std::vector<float>& w_scales,
                             std::string_view name) {
  if (b.dtype() != DType::kF32 || b.shape() != Shape{static_cast<int64_t>(w_scales.size())})
    return error(StatusCode::kInvalidArgument, "bias '", name, "' is ", dtype_name(b.dtype()), shape_str(b.shape()),
                 "; expected float32[", w_scales.size(), "]");
  if (!(x_scale > 0) || !std::isfinite(x_scale))
    return error(StatusCode::kInvalidArgument, "bias '", name, "': input scale ", x_scale, " is not positive and finite");
  Tensor q = Tensor::zeros(DType::kI32, b.shape());
  for (size_t c = 0; c < w_scales.size(); ++c) {
    const float v = element(b, static_cast<int64_t>(c));
    if (!(w_scales[c] > 0) || !std::isfinite(w_scales[c]))
      return error(StatusCode::kInvalidArgument, "bias '", name, "': weight scale ", w_scales[c], " of channel ", c,
                   " is not positive and finite");
    if (!std::isfinite(v))
      return error(StatusCode::kInvalidArgument, "bias '", name, "' holds a non-finite value at element ", c);
    q.mutable_data_as<int32_t>()[c] = quant::quantize_bias(v, x_scale, w_scales[c]);
  }
  return q;
}

}  // namespace quench::calib
