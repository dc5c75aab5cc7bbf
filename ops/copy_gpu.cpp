// The ops that only re-describe bytes (ops/reshape.cpp, ops/unary.cpp's Identity and Dropout):
// Reshape, Flatten, Squeeze and Unsqueeze see ONNX order (the engine converts a 4-D NHWC operand
// around them unless its two layouts coincide, as [N, C, 1, 1]'s do); Identity and Dropout run on
// any layout. When the memory planner gave the output the input's bytes there is nothing to do;
// otherwise one device-to-device copy.
#include "kernels/common/cuda_status.cuh"
#include "ops/gpu_util.h"

namespace quench::ops {
namespace {

bool any_layout(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  return in[0].layout == out[0].layout;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  if (a.outputs.size() > 1 && a.outputs[1].present) return gpu_unsupported(n, "Dropout's mask output");
  if (dtype_size(a.inputs[0].dtype) != dtype_size(a.outputs[0].dtype) ||
      shape_numel(a.inputs[0].shape) != shape_numel(a.outputs[0].shape))
    return error(StatusCode::kInternal, n.where(), ": input and output sizes differ");
  for (size_t i = 1; i < a.inputs.size(); ++i)
    if (a.inputs[i].present) out.claim(i);  // shape / axes / ratio: build-time values
  return {};
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  void* dst = a.outputs[0].data;
  const void* src = a.inputs[0].data;
  const size_t bytes = a.outputs[0].bytes();
  if (dst == src || bytes == 0) return GpuLaunch();  // the planner put the output over the input
  return GpuLaunch([dst, src, bytes](cudaStream_t s) {
    return kernels::cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync");
  });
}

const GpuOp kOps[] = {
    {"Reshape", "", nullptr, prepare, bind},   {"Flatten", "", nullptr, prepare, bind},
    {"Squeeze", "", nullptr, prepare, bind},   {"Unsqueeze", "", nullptr, prepare, bind},
    {"Identity", "", any_layout, prepare, bind}, {"Dropout", "", any_layout, prepare, bind},
};

}  // namespace

std::span<const GpuOp> copy_gpu_ops() { return kOps; }

}  // namespace quench::ops
