// The CUDA kernel for Softmax and LogSoftmax (ops/softmax.cpp): kernels/softmax normalizes the
// innermost dim of a [rows, cols] view. In ONNX order that is the last axis (opset 13) or the
// coerced 2-D view (before 13); on NHWC data the channel axis (ONNX axis 1) is innermost, so a
// channel softmax runs in place on the GPU's layout. Other axes have no kernel yet.
#include "kernels/softmax/softmax.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace ks = kernels::softmax;

bool coerce_2d(const NodeDesc& n) { return n.opset > 0 && n.opset < 13; }

Result<int64_t> axis_of(const NodeDesc& n, const Shape& s) {
  QUENCH_ASSIGN(int64_t axis, int_attr(n, "axis", coerce_2d(n) ? 1 : -1));
  return normalize_axis(axis, static_cast<int64_t>(s.size()), n);
}

bool accepts_nhwc(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  if (in[0].layout != GpuLayout::kNHWC || coerce_2d(n)) return false;
  auto axis = axis_of(n, in[0].shape);
  return axis.ok() && physical_axis(GpuLayout::kNHWC, 4, static_cast<int>(*axis)) == 3;
}

Result<ks::SoftmaxArgs<__half>> args_of(const NodeDesc& n, const GpuValueDesc& x) {
  if (x.dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(x.dtype));
  QUENCH_ASSIGN(int64_t axis, axis_of(n, x.shape));
  const int rank = static_cast<int>(x.shape.size());
  const Shape phys = physical_shape(x.layout, x.shape);
  const int p = physical_axis(x.layout, rank, static_cast<int>(axis));
  if (!coerce_2d(n) && p != rank - 1) return gpu_unsupported(n, "a softmax over an axis that is not innermost");
  if (coerce_2d(n) && x.layout == GpuLayout::kNHWC) return gpu_unsupported(n, "a coerced 2-D softmax on NHWC data");
  ks::SoftmaxArgs<__half> a;
  a.kind = n.op_type == "LogSoftmax" ? ks::SoftmaxKind::kLogSoftmax : ks::SoftmaxKind::kSoftmax;
  a.cols = 1;
  for (int d = p; d < (coerce_2d(n) ? rank : p + 1); ++d) a.cols *= phys[d];
  a.rows = a.cols > 0 ? shape_numel(phys) / a.cols : 0;
  return a;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  QUENCH_ASSIGN(auto s, args_of(a.node, a.inputs[0]));
  s.x = probe_ptr<__half>(0);
  s.y = probe_ptr<__half>(1);
  return ks::can_implement(s).with_context(a.node.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto s, args_of(a.node, descs_of(a.inputs)[0]));
  s.x = half_ptr(a.inputs[0].data);
  s.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(ks::can_implement(s).with_context(a.node.where()));
  return GpuLaunch([s](cudaStream_t st) { return ks::run(s, nullptr, st); });
}

const GpuOp kOps[] = {
    {"Softmax", "", accepts_nhwc, prepare, bind},
    {"LogSoftmax", "", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> softmax_gpu_ops() { return kOps; }

}  // namespace quench::ops
