// The CUDA kernels for ReduceSum, ReduceMean, ReduceMax and ReduceMin (ops/reduce.cpp):
// kernels/reduce's strided reduction on float16 (FP32 accumulation). The axes are read by the CPU
// reference's own rules (ops/reduce.h); an axes input must be a constant.
//
// Layouts: the kernel reduces any axes of a dense tensor described in memory order, and writes
// the kept dims in that order. On an NHWC input that is the output's order when the output is
// NHWC too (keepdims on a 4-D input) or when the kept dims of size > 1 come in the same order in
// [N, H, W, C] as in [N, C, H, W] (C reduced, or H and W both reduced); then the op runs on NHWC
// data (accepts_nhwc). Any other case runs as a logical step on ONNX-order data.
#include "kernels/reduce/reduce.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"
#include "ops/reduce.h"

namespace quench::ops {
namespace {

namespace kr = kernels::reduce;

kr::ReduceKind kind_of(std::string_view op) {
  if (op == "ReduceSum") return kr::ReduceKind::kSum;
  if (op == "ReduceMax") return kr::ReduceKind::kMax;
  if (op == "ReduceMin") return kr::ReduceKind::kMin;
  return kr::ReduceKind::kMean;
}

const Tensor* axes_input(std::span<const GpuValueDesc> in) {
  return in.size() > 1 && in[1].present ? in[1].constant : nullptr;
}

// The logical dims of `shape` that are kept and larger than 1, in the order `order` lists dims.
std::vector<int> kept_order(const Shape& shape, uint32_t mask, std::initializer_list<int> order) {
  std::vector<int> v;
  for (int d : order)
    if (!((mask >> d) & 1u) && shape[d] != 1) v.push_back(d);
  return v;
}

bool accepts_nhwc(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  if (in[0].layout != GpuLayout::kNHWC || in[0].shape.size() != 4) return false;
  if (in.size() > 1 && in[1].present && !in[1].constant) return false;  // prepare refuses it anyway
  auto mask = reduce_axes_mask(n, 4, axes_input(in));
  if (!mask.ok()) return false;
  if (out[0].layout == GpuLayout::kNHWC) return true;
  return kept_order(in[0].shape, *mask, {0, 2, 3, 1}) == kept_order(in[0].shape, *mask, {0, 1, 2, 3});
}

Result<kr::ReduceArgs<__half>> reduce_args(const NodeDesc& n, std::span<const GpuValueDesc> in,
                                           std::span<const GpuValueDesc> out) {
  if (in[0].dtype != DType::kF16 || out[0].dtype != DType::kF16)
    return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  if (in.size() > 1 && in[1].present && !in[1].constant) return gpu_unsupported(n, "axes that are not a constant");
  const int rank = static_cast<int>(in[0].shape.size());
  if (rank > kr::kMaxDims) return gpu_unsupported(n, "a reduction over a rank-", rank, " input");
  QUENCH_ASSIGN(uint32_t mask, reduce_axes_mask(n, rank, axes_input(in)));
  kr::ReduceArgs<__half> r;
  r.kind = kind_of(n.op_type);
  r.rank = rank;
  const Shape phys = physical_shape(in[0].layout, in[0].shape);  // memory order
  for (int d = 0; d < rank; ++d) {
    r.dims[d] = phys[d];
    if ((mask >> d) & 1u) r.reduced |= 1u << physical_axis(in[0].layout, rank, d);
  }
  if (kr::output_count(r) != shape_numel(out[0].shape))
    return error(StatusCode::kInternal, n.where(), ": the reduction gives ", kr::output_count(r), " elements, the output has ",
                 shape_numel(out[0].shape));
  return r;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_ASSIGN(auto r, reduce_args(a.node, a.inputs, a.outputs));
  if (a.inputs.size() > 1 && a.inputs[1].present) out.claim(1);  // the axes, read here
  r.x = probe_ptr<__half>(0);
  r.y = probe_ptr<__half>(1);
  return kr::can_implement(r).with_context(a.node.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto r, reduce_args(a.node, descs_of(a.inputs), descs_of(a.outputs)));
  r.x = half_ptr(a.inputs[0].data);
  r.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(kr::can_implement(r).with_context(a.node.where()));
  return GpuLaunch([r](cudaStream_t s) { return kr::run(r, nullptr, s); });
}

const GpuOp kOps[] = {
    {"ReduceSum", "", accepts_nhwc, prepare, bind},
    {"ReduceMean", "", accepts_nhwc, prepare, bind},
    {"ReduceMax", "", accepts_nhwc, prepare, bind},
    {"ReduceMin", "", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> reduce_gpu_ops() { return kOps; }

}  // namespace quench::ops
