// The CUDA kernel for Transpose (ops/transpose.cpp): kernels/transpose on the tensors as they lie
// in memory. The ONNX permutation is composed with the layouts of input and output (an NHWC
// [N, C, H, W] is the dims N, H, W, C in memory), so a Transpose of NHWC data is one kernel, with
// no conversion around it. Elements are only moved: 2-byte types run as float16, 4-byte as float.
#include "kernels/transpose/transpose.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kt = kernels::transpose;

bool any_layout(const NodeDesc&, std::span<const GpuValueDesc>, std::span<const GpuValueDesc>) { return true; }

struct Plan {
  size_t elem = 0;
  int rank = 0;
  int64_t dims[kt::kMaxDims] = {};
  int perm[kt::kMaxDims] = {};
};

Result<Plan> plan_of(const NodeDesc& n, const GpuValueDesc& x, const GpuValueDesc& y) {
  Plan p;
  p.elem = dtype_size(x.dtype);
  if (p.elem != 2 && p.elem != 4) return gpu_unsupported(n, "element type ", dtype_name(x.dtype));
  p.rank = static_cast<int>(x.shape.size());
  if (p.rank < 1 || p.rank > kt::kMaxDims) return gpu_unsupported(n, "rank ", p.rank);
  std::vector<int64_t> dflt;
  for (int d = p.rank - 1; d >= 0; --d) dflt.push_back(d);
  QUENCH_ASSIGN(std::vector<int64_t> perm, n.attrs.get_ints("perm", dflt, n.where()));
  if (static_cast<int>(perm.size()) != p.rank) return gpu_unsupported(n, "this perm");
  const Shape phys = physical_shape(x.layout, x.shape);
  // Output memory dim i is output logical dim lo; that is input logical dim perm[lo], which lies at
  // memory dim physical_axis(input layout, perm[lo]).
  static constexpr int kLogicalOfNhwc[4] = {0, 2, 3, 1};
  for (int i = 0; i < p.rank; ++i) {
    const int lo = y.layout == GpuLayout::kNHWC && p.rank == 4 ? kLogicalOfNhwc[i] : i;
    QUENCH_ASSIGN(int64_t src, normalize_axis(perm[lo], p.rank, n));
    p.perm[i] = physical_axis(x.layout, p.rank, static_cast<int>(src));
    p.dims[i] = phys[i];
  }
  return p;
}

template <class T>
kt::TransposeArgs<T> args_of(const Plan& p, const void* x, void* y) {
  kt::TransposeArgs<T> a;
  a.rank = p.rank;
  for (int i = 0; i < p.rank; ++i) {
    a.dims[i] = p.dims[i];
    a.perm[i] = p.perm[i];
  }
  a.x = static_cast<const T*>(x);
  a.y = static_cast<T*>(y);
  return a;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  QUENCH_ASSIGN(Plan p, plan_of(a.node, a.inputs[0], a.outputs[0]));
  if (p.elem == 2) return kt::can_implement(args_of<__half>(p, probe_ptr<__half>(0), probe_ptr<__half>(1))).with_context(a.node.where());
  return kt::can_implement(args_of<float>(p, probe_ptr<float>(0), probe_ptr<float>(1))).with_context(a.node.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(Plan p, plan_of(a.node, descs_of(a.inputs)[0], descs_of(a.outputs)[0]));
  if (p.elem == 2) {
    auto t = args_of<__half>(p, a.inputs[0].data, a.outputs[0].data);
    QUENCH_TRY(kt::can_implement(t).with_context(a.node.where()));
    return GpuLaunch([t](cudaStream_t s) { return kt::run(t, nullptr, s); });
  }
  auto t = args_of<float>(p, a.inputs[0].data, a.outputs[0].data);
  QUENCH_TRY(kt::can_implement(t).with_context(a.node.where()));
  return GpuLaunch([t](cudaStream_t s) { return kt::run(t, nullptr, s); });
}

const GpuOp kOps[] = {
    {"Transpose", "", any_layout, prepare, bind},
};

}  // namespace

std::span<const GpuOp> transpose_gpu_ops() { return kOps; }

}  // namespace quench::ops
