// The CUDA kernel for ConvTranspose (ops/conv_transpose.cpp): kernels/conv_transpose's direct
// gather on NHWC float16, 2-D only. The geometry (strides, pads, dilations, output_padding,
// output_shape, auto_pad) is resolved by the CPU reference's own rules (ops/conv_transpose.h), so
// the kernel receives the begin pads and the output size. The weight is packed once at build from
// ONNX's [Cin, Cout/group, KH, KW] into the kernel's [KH][KW][Cin][Cout/group]; the bias goes up
// as float32.
#include <cstdlib>

#include "kernels/conv_transpose/conv_transpose.cuh"
#include "ops/conv_transpose.h"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kt = kernels::conv_transpose;

bool has(std::span<const GpuValueDesc> in, size_t i) { return i < in.size() && in[i].present; }

bool accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  return in[0].layout == GpuLayout::kNHWC;
}

Result<kt::ConvTransposeShape> shape_of(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  if (in[0].layout != GpuLayout::kNHWC || in[0].shape.size() != 4)
    return gpu_unsupported(n, "a transposed convolution over a ", in[0].shape.size(), "-D input (2-D NHWC only)");
  if (in[0].dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  if (!has(in, 1)) return gpu_unsupported(n, "a transposed convolution without a weight");
  QUENCH_ASSIGN(ConvTransposeGeom g, conv_transpose_geometry(n, in[0].shape, in[1].shape));
  if (g.win.rank != 2) return gpu_unsupported(n, "a transposed convolution over ", g.win.rank, " spatial dims (2-D only)");
  constexpr int64_t kLimit = int64_t{1} << 24;  // the kernel's own limit; larger values must not wrap in int
  for (int d = 0; d < 2; ++d)
    if (std::llabs(g.win.pad_begin[d]) > kLimit || g.win.kernel[d] > kLimit || g.win.stride[d] > kLimit ||
        g.win.dilation[d] > kLimit)
      return gpu_unsupported(n, "kernel, stride, dilation or pads this large");
  kt::ConvTransposeShape s;
  s.n = g.batch;
  s.c = g.in_ch;
  s.h = g.win.in[0];
  s.w = g.win.in[1];
  s.out_c = g.out_ch;
  s.out_h = g.win.out[0];
  s.out_w = g.win.out[1];
  s.kernel_h = static_cast<int>(g.win.kernel[0]);
  s.kernel_w = static_cast<int>(g.win.kernel[1]);
  s.stride_h = static_cast<int>(g.win.stride[0]);
  s.stride_w = static_cast<int>(g.win.stride[1]);
  s.dilation_h = static_cast<int>(g.win.dilation[0]);
  s.dilation_w = static_cast<int>(g.win.dilation[1]);
  s.pad_top = static_cast<int>(g.win.pad_begin[0]);
  s.pad_left = static_cast<int>(g.win.pad_begin[1]);
  s.groups = static_cast<int>(g.group);
  QUENCH_TRY(kt::check_shape(s).with_context(n.where()));
  return s;
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(kt::ConvTransposeShape s, shape_of(n, a.inputs));
  const GpuValueDesc& w = a.inputs[1];
  const GpuValueDesc* b = has(a.inputs, 2) ? &a.inputs[2] : nullptr;
  if (!w.constant) return gpu_unsupported(n, "a transposed convolution whose weight is not a constant");
  if (b && !b->constant) return gpu_unsupported(n, "a transposed convolution whose bias is not a constant");
  const Tensor& wt = *w.constant;
  QUENCH_ASSIGN(int wi, find_or_add_weight(a.weights, wt.data(), "conv_transpose.khwcm" + shape_str(wt.shape()),
                                           [&]() -> Result<std::vector<std::byte>> {
    QUENCH_ASSIGN(std::vector<float> f, host_floats(n, wt));
    std::vector<__half> packed(static_cast<size_t>(kt::packed_weight_count(s)));
    QUENCH_TRY(kt::pack_weights<__half>(s, f.data(), packed.data()).with_context(n.where()));
    return as_bytes_vector(packed);
  }));
  out.weights.push_back(wi);
  out.claim(1);
  if (b) {
    QUENCH_ASSIGN(int bi, find_or_add_weight(a.weights, b->constant->data(), "bias.f32" + shape_str(b->constant->shape()),
                                             [&]() -> Result<std::vector<std::byte>> {
      QUENCH_ASSIGN(std::vector<float> f, host_floats(n, *b->constant));
      if (static_cast<int64_t>(f.size()) != s.out_c) return gpu_unsupported(n, "a bias that is not [Cout]");
      return as_bytes_vector(f);
    }));
    out.weights.push_back(bi);
    out.claim(2);
  } else {
    out.weights.push_back(-1);
  }
  // The kernel's own contract on the shapes (pointers are stand-ins: nothing runs).
  kt::ConvTransposeArgs<__half> k;
  k.shape = s;
  k.x = probe_ptr<__half>(0);
  k.y = probe_ptr<__half>(1);
  k.weight = probe_ptr<__half>(2);
  k.bias = b ? probe_ptr<float>(3) : nullptr;
  return kt::can_implement(k).with_context(n.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(kt::ConvTransposeShape s, shape_of(n, descs_of(a.inputs)));
  if (a.weights.size() < 2) return error(StatusCode::kInternal, n.where(), ": expected the packed weight and the bias");
  kt::ConvTransposeArgs<__half> k;
  k.shape = s;
  k.x = half_ptr(a.inputs[0].data);
  k.y = half_ptr(a.outputs[0].data);
  k.weight = static_cast<const __half*>(a.weights[0]);
  k.bias = static_cast<const float*>(a.weights[1]);
  QUENCH_TRY(kt::can_implement(k).with_context(n.where()));
  return GpuLaunch([k](cudaStream_t st) { return kt::run(k, nullptr, st); });
}

const GpuOp kOps[] = {
    {"ConvTranspose", "", accepts_nhwc, prepare, bind},
};

}  // namespace

std::span<const GpuOp> conv_transpose_gpu_ops() { return kOps; }

}  // namespace quench::ops
