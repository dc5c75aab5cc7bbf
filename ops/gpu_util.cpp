#include "ops/gpu_util.h"

#include <cfloat>
#include <cmath>

#include "ops/op_util.h"

namespace quench::ops {

const char* gpu_layout_name(GpuLayout l) { return l == GpuLayout::kNHWC ? "NHWC" : "logical"; }

int physical_axis(GpuLayout layout, int rank, int axis) {
  if (layout != GpuLayout::kNHWC || rank != 4) return axis;
  static constexpr int kNhwcOf[4] = {0, 3, 1, 2};  // N stays, C goes last, H and W move up
  return kNhwcOf[axis];
}

Shape physical_shape(GpuLayout layout, const Shape& s) {
  if (layout != GpuLayout::kNHWC || s.size() != 4) return s;
  return {s[0], s[2], s[3], s[1]};
}

std::vector<GpuValueDesc> descs_of(std::span<const GpuTensor> ts) {
  std::vector<GpuValueDesc> d;
  d.reserve(ts.size());
  for (const GpuTensor& t : ts) d.push_back({t.present(), t.dtype, t.shape, t.layout, t.constant});
  return d;
}

Nhwc nhwc_of(const Shape& s) { return s.size() == 4 ? Nhwc{s[0], s[2], s[3], s[1]} : Nhwc{}; }

Result<kernels::EpilogueParams> kernel_epilogue(const NodeDesc& n, const Activation& a, bool residual_after) {
  kernels::EpilogueParams p;
  p.residual_after_activation = residual_after;
  switch (a.kind) {
    case ActKind::kNone: p.activation = kernels::Activation::kNone; break;
    case ActKind::kRelu: p.activation = kernels::Activation::kRelu; break;
    case ActKind::kClip:
      p.activation = kernels::Activation::kClip;
      p.clip_min = std::isfinite(a.params.lo) ? static_cast<float>(a.params.lo) : -FLT_MAX;
      p.clip_max = std::isfinite(a.params.hi) ? static_cast<float>(a.params.hi) : FLT_MAX;
      break;
    case ActKind::kLeakyRelu:
      p.activation = kernels::Activation::kLeakyRelu;
      p.alpha = static_cast<float>(a.params.alpha);
      break;
    case ActKind::kHardSwish: p.activation = kernels::Activation::kHardSwish; break;
    case ActKind::kSigmoid: p.activation = kernels::Activation::kSigmoid; break;
    case ActKind::kSiLU: p.activation = kernels::Activation::kSilu; break;
    case ActKind::kHardSigmoid: return gpu_unsupported(n, "the activation HardSigmoid in this form");
  }
  if (!kernels::epilogue_params_valid(p)) return gpu_unsupported(n, "the activation's parameters");
  return p;
}

Result<std::vector<float>> host_floats(const NodeDesc& n, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::kF32:
      if (!v.empty()) std::memcpy(v.data(), t.data(), v.size() * sizeof(float));  // t may be unaligned
      return v;
    case DType::kF16:
    case DType::kF64:
    case DType::kBF16:
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t.value_as_double(static_cast<int64_t>(i)));
      return v;
    default:
      return gpu_unsupported(n, "a weight of element type ", dtype_name(t.dtype()));
  }
}

std::vector<uint16_t> to_half_bits(std::span<const float> v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
  return h;
}

Result<std::vector<std::byte>> device_form(const NodeDesc& n, const GpuValueDesc& v) {
  if (!v.constant) return error(StatusCode::kInternal, n.where(), ": device_form of a value that is not constant");
  const Tensor& t = *v.constant;
  if (!dtype_is_float(t.dtype())) {
    std::vector<std::byte> b(t.bytes());
    if (!b.empty()) std::memcpy(b.data(), t.data(), b.size());
    return b;
  }
  QUENCH_ASSIGN(std::vector<float> f, host_floats(n, t));
  if (v.layout == GpuLayout::kNHWC && t.shape().size() == 4) {
    const Shape& s = t.shape();  // [N, C, H, W] -> [N, H, W, C]
    const int64_t hw = s[2] * s[3];
    std::vector<float> p(f.size());
    for (int64_t i = 0; i < s[0]; ++i)
      for (int64_t c = 0; c < s[1]; ++c)
        for (int64_t q = 0; q < hw; ++q) p[(i * hw + q) * s[1] + c] = f[(i * s[1] + c) * hw + q];
    f = std::move(p);
  }
  return as_bytes_vector(to_half_bits(f));
}

}  // namespace quench::ops
