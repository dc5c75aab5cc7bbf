// The CUDA kernel for Pad (ops/pad.cpp): kernels/pad moves float16 elements over up to 6 dims in
// any layout, so on NHWC data the ONNX pads are permuted into memory order and the op runs in
// place on the GPU's layout. pads, axes and constant_value must be build-time constants.
#include <string>

#include "kernels/pad/pad.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kpad = kernels::pad;

bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

bool any_layout(const NodeDesc&, std::span<const GpuValueDesc>, std::span<const GpuValueDesc>) { return true; }

Result<std::vector<int64_t>> ints_of(const NodeDesc& n, const GpuValueDesc& v, std::string_view what) {
  if (!v.constant) return gpu_unsupported(n, what, " that is not a constant");
  std::vector<int64_t> r(static_cast<size_t>(v.constant->numel()));
  for (size_t i = 0; i < r.size(); ++i) r[i] = v.constant->value_as_int64(static_cast<int64_t>(i));
  return r;
}

Result<kpad::PadArgs<__half>> args_of(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  const GpuValueDesc& x = in[0];
  if (x.dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(x.dtype));
  const int rank = static_cast<int>(x.shape.size());
  if (rank < 1 || rank > kpad::kMaxDims) return gpu_unsupported(n, "rank ", rank);
  kpad::PadArgs<__half> a;
  QUENCH_ASSIGN(std::string mode, n.attrs.get_string("mode", "constant", n.where()));
  if (mode == "constant") a.mode = kpad::PadMode::kConstant;
  else if (mode == "reflect") a.mode = kpad::PadMode::kReflect;
  else if (mode == "edge") a.mode = kpad::PadMode::kEdge;
  else if (mode == "wrap") a.mode = kpad::PadMode::kWrap;
  else return gpu_unsupported(n, "mode '", mode, "'");
  std::vector<int64_t> pads, axes;
  if (before(n, 11)) {
    const char* name = n.attrs.has("pads") || !n.attrs.has("paddings") ? "pads" : "paddings";
    QUENCH_ASSIGN(pads, n.attrs.get_ints(name, {}, n.where()));
    QUENCH_ASSIGN(a.value, float_attr(n, "value", 0.0f));
  } else {
    QUENCH_ASSIGN(pads, ints_of(n, in[1], "pads"));
    if (in.size() > 2 && in[2].present && shape_numel(in[2].shape) > 0) {
      if (!in[2].constant) return gpu_unsupported(n, "a constant_value that is not a constant");
      a.value = static_cast<float>(in[2].constant->value_as_double(0));
    }
    if (in.size() > 3 && in[3].present) { QUENCH_ASSIGN(axes, ints_of(n, in[3], "axes")); }
  }
  if (axes.empty())
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  if (pads.size() != 2 * axes.size()) return gpu_unsupported(n, "pads of ", pads.size(), " values");
  a.rank = rank;
  const Shape phys = physical_shape(x.layout, x.shape);
  for (int d = 0; d < rank; ++d) a.dims[d] = phys[d];
  for (size_t i = 0; i < axes.size(); ++i) {
    QUENCH_ASSIGN(int64_t ax, normalize_axis(axes[i], rank, n));
    const int p = physical_axis(x.layout, rank, static_cast<int>(ax));
    a.pad_begin[p] = pads[i];
    a.pad_end[p] = pads[i + axes.size()];
  }
  return a;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_ASSIGN(auto p, args_of(a.node, a.inputs));
  for (size_t i = 1; i < a.inputs.size(); ++i)
    if (a.inputs[i].present) out.claim(i);
  p.x = probe_ptr<__half>(0);
  p.y = probe_ptr<__half>(1);
  return kpad::can_implement(p).with_context(a.node.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto p, args_of(a.node, descs_of(a.inputs)));
  p.x = half_ptr(a.inputs[0].data);
  p.y = half_ptr(a.outputs[0].data);
  QUENCH_TRY(kpad::can_implement(p).with_context(a.node.where()));
  return GpuLaunch([p](cudaStream_t s) { return kpad::run(p, nullptr, s); });
}

const GpuOp kOps[] = {
    {"Pad", "", any_layout, prepare, bind},
};

}  // namespace

std::span<const GpuOp> pad_gpu_ops() { return kOps; }

}  // namespace quench::ops
