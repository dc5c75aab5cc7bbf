// The CUDA kernels for the pools (ops/pool.cpp): kernels/pool's window and global pools, on
// NHWC float16, 2-D only. The window is resolved by the same ONNX rules as the CPU reference
// (ops/window.h: auto_pad, ceil_mode), so the kernel receives explicit pads and output sizes.
#include "kernels/pool/pool.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

namespace kp = kernels::pool;

bool global(const NodeDesc& n) { return n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool"; }
bool average(const NodeDesc& n) { return n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool"; }

bool accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  return in[0].layout == GpuLayout::kNHWC;
}

Status check_operands(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  if (in[0].layout != GpuLayout::kNHWC || in[0].shape.size() != 4)
    return gpu_unsupported(n, "a pool over a ", in[0].shape.size(), "-D input (2-D NHWC only)");
  if (in[0].dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  if (out.size() > 1 && out[1].present) return gpu_unsupported(n, "MaxPool's Indices output");
  return {};
}

Result<kp::PoolArgs<__half>> window_args(const NodeDesc& n, const Shape& x) {
  QUENCH_ASSIGN(WindowAttrs wa, parse_window(n, 2, {}, true));
  QUENCH_ASSIGN(Window w, resolve_window(n, wa, std::span<const int64_t>(x.data() + 2, 2)));
  kp::PoolArgs<__half> p;
  p.kind = average(n) ? kp::PoolKind::kAverage : kp::PoolKind::kMax;
  const Nhwc d = nhwc_of(x);
  p.n = d.n;
  p.h = d.h;
  p.w = d.w;
  p.c = d.c;
  p.out_h = w.out[0];
  p.out_w = w.out[1];
  p.kernel_h = static_cast<int>(w.kernel[0]);
  p.kernel_w = static_cast<int>(w.kernel[1]);
  p.stride_h = static_cast<int>(w.stride[0]);
  p.stride_w = static_cast<int>(w.stride[1]);
  p.dilation_h = static_cast<int>(w.dilation[0]);
  p.dilation_w = static_cast<int>(w.dilation[1]);
  p.pad_top = static_cast<int>(w.pad_begin[0]);
  p.pad_left = static_cast<int>(w.pad_begin[1]);
  p.pad_bottom = static_cast<int>(w.pad_end[0]);
  p.pad_right = static_cast<int>(w.pad_end[1]);
  if (average(n)) {
    QUENCH_ASSIGN(int64_t cip, int_attr(n, "count_include_pad", 0));
    p.count_include_pad = cip != 0;
  }
  return p;
}

kp::GlobalPoolArgs<__half> global_args(const NodeDesc& n, const Shape& x) {
  kp::GlobalPoolArgs<__half> g;
  g.kind = average(n) ? kp::PoolKind::kAverage : kp::PoolKind::kMax;
  const Nhwc d = nhwc_of(x);
  g.n = d.n;
  g.hw = d.h * d.w;
  g.c = d.c;
  return g;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  const NodeDesc& n = a.node;
  QUENCH_TRY(check_operands(n, a.inputs, a.outputs));
  if (global(n)) {
    auto g = global_args(n, a.inputs[0].shape);
    g.x = probe_ptr<__half>(0);
    g.y = probe_ptr<__half>(1);
    return kp::can_implement(g).with_context(n.where());
  }
  QUENCH_ASSIGN(auto p, window_args(n, a.inputs[0].shape));
  p.x = probe_ptr<__half>(0);
  p.y = probe_ptr<__half>(1);
  return kp::can_implement(p).with_context(n.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  const auto* x = half_ptr(a.inputs[0].data);
  auto* y = half_ptr(a.outputs[0].data);
  if (global(n)) {
    auto g = global_args(n, a.inputs[0].shape);
    g.x = x;
    g.y = y;
    QUENCH_TRY(kp::can_implement(g).with_context(n.where()));
    return GpuLaunch([g](cudaStream_t s) { return kp::run(g, nullptr, s); });
  }
  QUENCH_ASSIGN(auto p, window_args(n, a.inputs[0].shape));
  p.x = x;
  p.y = y;
  QUENCH_TRY(kp::can_implement(p).with_context(n.where()));
  return GpuLaunch([p](cudaStream_t s) { return kp::run(p, nullptr, s); });
}

const GpuOp kOps[] = {
    {"MaxPool", "", accepts_nhwc, prepare, bind},
    {"AveragePool", "", accepts_nhwc, prepare, bind},
    {"GlobalAveragePool", "", accepts_nhwc, prepare, bind},
    {"GlobalMaxPool", "", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> pool_gpu_ops() { return kOps; }

}  // namespace quench::ops
