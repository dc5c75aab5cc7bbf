// The CUDA kernel for BatchNormalization in inference mode (ops/batchnorm.cpp): the per-channel
// y = (x - mean) / sqrt(var + epsilon) * scale + bias is folded at build, in double, into
// y = x * s + t with float32 s, t ([C] each), and runs as kernels/elementwise's channel affine
// map. (The optimizer folds BatchNormalization into a preceding Conv; this covers the others,
// e.g. after a ConvTranspose.) Any layout: on NHWC data the channel is the innermost dim, in ONNX
// order it is dim 1. The four parameters must be constants; spatial=0's per-element parameters
// are not supported.
#include <cmath>
#include <sstream>

#include "kernels/elementwise/channel_affine.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace ke = kernels::elementwise;

bool any_layout(const NodeDesc&, std::span<const GpuValueDesc>, std::span<const GpuValueDesc>) { return true; }

Result<ke::ChannelAffineArgs<__half>> affine_args(const NodeDesc& n, std::span<const GpuValueDesc> in,
                                                  std::span<const GpuValueDesc> out) {
  QUENCH_ASSIGN(int64_t training, int_attr(n, "training_mode", 0));
  if (training != 0) return gpu_unsupported(n, "training_mode=1");
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].present) return gpu_unsupported(n, "the training-mode outputs");
  if (in[0].dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(in[0].dtype));
  const Shape& x = in[0].shape;
  if (x.size() < 2) return gpu_unsupported(n, "an input of rank ", x.size());
  if (in.size() < 5) return gpu_unsupported(n, "missing parameters");
  for (size_t i = 1; i < 5; ++i)
    if (!in[i].present || !in[i].constant || in[i].shape.size() != 1 || in[i].shape[0] != x[1])
      return gpu_unsupported(n, "parameters that are not constant [C] vectors");
  ke::ChannelAffineArgs<__half> a;
  a.channels = x[1];
  if (in[0].layout == GpuLayout::kNHWC) {
    a.outer = x[0] * x[2] * x[3];
    a.inner = 1;
  } else {
    a.outer = x[0];
    a.inner = 1;
    for (size_t d = 2; d < x.size(); ++d) a.inner *= x[d];
  }
  return a;
}

// scale then shift, [2 * C] float32.
Result<std::vector<std::byte>> fold(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  QUENCH_ASSIGN(float eps_f, float_attr(n, "epsilon", 1e-5f));
  const double eps = eps_f;
  QUENCH_ASSIGN(std::vector<float> scale, host_floats(n, *in[1].constant));
  QUENCH_ASSIGN(std::vector<float> bias, host_floats(n, *in[2].constant));
  QUENCH_ASSIGN(std::vector<float> mean, host_floats(n, *in[3].constant));
  QUENCH_ASSIGN(std::vector<float> var, host_floats(n, *in[4].constant));
  const size_t c = scale.size();
  std::vector<float> st(2 * c);
  for (size_t i = 0; i < c; ++i) {
    const double mul = static_cast<double>(scale[i]) / std::sqrt(static_cast<double>(var[i]) + eps);
    st[i] = static_cast<float>(mul);
    st[c + i] = static_cast<float>(static_cast<double>(bias[i]) - static_cast<double>(mean[i]) * mul);
  }
  return as_bytes_vector(st);
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(auto k, affine_args(n, a.inputs, a.outputs));
  // Keyed by the scale's bytes; the other parameters and epsilon name the transform.
  std::ostringstream transform;
  QUENCH_ASSIGN(float eps, float_attr(n, "epsilon", 1e-5f));
  transform << "batchnorm.affine.f32(" << eps;
  for (size_t i = 2; i < 5; ++i) transform << "," << a.inputs[i].constant->data();
  transform << ")" << shape_str(a.inputs[1].shape);
  QUENCH_ASSIGN(int wi, find_or_add_weight(a.weights, a.inputs[1].constant->data(), transform.str(),
                                           [&]() { return fold(n, a.inputs); }));
  out.weights.push_back(wi);
  for (size_t i = 1; i < 5; ++i) out.claim(i);
  k.x = probe_ptr<__half>(0);
  k.y = probe_ptr<__half>(1);
  k.scale = probe_ptr<float>(2);
  k.shift = probe_ptr<float>(3);
  return ke::can_implement(k).with_context(n.where());
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(auto k, affine_args(n, descs_of(a.inputs), descs_of(a.outputs)));
  if (a.weights.empty() || !a.weights[0]) return error(StatusCode::kInternal, n.where(), ": no folded parameters");
  k.x = half_ptr(a.inputs[0].data);
  k.y = half_ptr(a.outputs[0].data);
  k.scale = static_cast<const float*>(a.weights[0]);
  k.shift = k.scale + k.channels;
  QUENCH_TRY(ke::can_implement(k).with_context(n.where()));
  return GpuLaunch([k](cudaStream_t s) { return ke::run(k, nullptr, s); });
}

const GpuOp kOps[] = {
    {"BatchNormalization", "", any_layout, prepare, bind},
};

}  // namespace

std::span<const GpuOp> batchnorm_gpu_ops() { return kOps; }

}  // namespace quench::ops
