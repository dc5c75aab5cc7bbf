// The CUDA kernel for Resize (ops/resize.cpp, opset 11 and later): kernels/resize's nearest and
// bilinear resize of H and W on NHWC float16. Scales or sizes must be build-time constants that
// leave N and C alone; cubic, antialias, tf_crop_and_resize and the `axes` attribute have no
// CUDA kernel yet (nor Upsample and Resize-10).
#include <string>

#include "kernels/resize/resize.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kr = kernels::resize;

template <class E>
bool pick(std::string_view value, std::initializer_list<std::pair<std::string_view, E>> options, E* out) {
  for (const auto& [name, e] : options)
    if (name == value) {
      *out = e;
      return true;
    }
  return false;
}

bool accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  return in[0].layout == GpuLayout::kNHWC;
}

Result<kr::ResizeArgs<__half>> args_of(const NodeDesc& n, std::span<const GpuValueDesc> in,
                                       std::span<const GpuValueDesc> out) {
  const GpuValueDesc& x = in[0];
  if (n.op_type != "Resize" || (n.opset > 0 && n.opset < 11)) return gpu_unsupported(n, "Upsample and Resize before opset 11");
  if (x.layout != GpuLayout::kNHWC || x.shape.size() != 4) return gpu_unsupported(n, "a resize of a non-4-D tensor");
  if (x.dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(x.dtype));
  const Shape& y = out[0].shape;
  if (y.size() != 4 || y[0] != x.shape[0] || y[1] != x.shape[1]) return gpu_unsupported(n, "a resize of N or C");
  if (n.attrs.has("axes")) return gpu_unsupported(n, "the axes attribute");
  QUENCH_ASSIGN(std::string_view mode, string_attr(n, "mode", "nearest"));
  QUENCH_ASSIGN(std::string_view coord, string_attr(n, "coordinate_transformation_mode", "half_pixel"));
  QUENCH_ASSIGN(std::string_view nearest, string_attr(n, "nearest_mode", "round_prefer_floor"));
  QUENCH_ASSIGN(int64_t antialias, int_attr(n, "antialias", 0));
  if (antialias != 0) return gpu_unsupported(n, "antialias");
  kr::ResizeArgs<__half> a;
  if (!pick<kr::ResizeMode>(mode, {{"nearest", kr::ResizeMode::kNearest}, {"linear", kr::ResizeMode::kLinear}}, &a.mode))
    return gpu_unsupported(n, "mode '", mode, "'");
  if (!pick<kr::CoordinateMode>(coord,
                                {{"half_pixel", kr::CoordinateMode::kHalfPixel},
                                 {"pytorch_half_pixel", kr::CoordinateMode::kPytorchHalfPixel},
                                 {"half_pixel_symmetric", kr::CoordinateMode::kHalfPixelSymmetric},
                                 {"align_corners", kr::CoordinateMode::kAlignCorners},
                                 {"asymmetric", kr::CoordinateMode::kAsymmetric},
                                 {"tf_half_pixel_for_nn", kr::CoordinateMode::kTfHalfPixelForNN}},
                                &a.coord))
    return gpu_unsupported(n, "coordinate_transformation_mode '", coord, "'");
  if (!pick<kr::NearestMode>(nearest,
                             {{"round_prefer_floor", kr::NearestMode::kRoundPreferFloor},
                              {"round_prefer_ceil", kr::NearestMode::kRoundPreferCeil},
                              {"floor", kr::NearestMode::kFloor},
                              {"ceil", kr::NearestMode::kCeil}},
                             &a.nearest))
    return gpu_unsupported(n, "nearest_mode '", nearest, "'");
  const Nhwc d = nhwc_of(x.shape);
  a.n = d.n;
  a.h = d.h;
  a.w = d.w;
  a.c = d.c;
  a.out_h = y[2];
  a.out_w = y[3];
  // ONNX's scales when the model gives them, else out / in (the `sizes` form).
  a.scale_h = static_cast<double>(a.out_h) / static_cast<double>(a.h);
  a.scale_w = static_cast<double>(a.out_w) / static_cast<double>(a.w);
  const bool has_scales = in.size() > 2 && in[2].present && shape_numel(in[2].shape) > 0;
  if (has_scales) {
    if (!in[2].constant || in[2].constant->numel() != 4) return gpu_unsupported(n, "scales that are not 4 constants");
    const Tensor& s = *in[2].constant;
    if (s.value_as_double(0) != 1.0 || s.value_as_double(1) != 1.0) return gpu_unsupported(n, "a resize of N or C");
    a.scale_h = s.value_as_double(2);
    a.scale_w = s.value_as_double(3);
  }
  return a;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_ASSIGN(auto r, args_of(a.node, a.inputs, a.outputs));
  for (size_t i = 1; i < a.inputs.size(); ++i)
    if (a.inputs[i].present) out.claim(i);  // roi, scales, sizes: read here
  r.x = probe_ptr<__half>(0);
  r.y = probe_ptr<__half>(1);
  return kr::can_implement(r).with_context(a.node.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto r, args_of(a.node, descs_of(a.inputs), descs_of(a.outputs)));
  r.x = half_ptr(a.inputs[0].data);
  r.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(kr::can_implement(r).with_context(a.node.where()));
  return GpuLaunch([r](cudaStream_t s) { return kr::run(r, nullptr, s); });
}

const GpuOp kOps[] = {
    {"Resize", "", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> resize_gpu_ops() { return kOps; }

}  // namespace quench::ops
