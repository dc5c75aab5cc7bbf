// Helpers the ops/<family>_gpu.cpp files share: epilogues in kernel form, host weight
// conversion, NHWC dims, and the weight sink's find-or-add.
#pragma once

#include <cuda_fp16.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "kernels/common/epilogue.cuh"
#include "ops/epilogue.h"
#include "ops/gpu_op.h"

namespace quench::ops {

// kUnsupported naming the node: "<Op> node 'x': no CUDA kernel for <what>".
template <class... Parts>
Status gpu_unsupported(const NodeDesc& n, const Parts&... parts) {
  return error(StatusCode::kUnsupported, n.where(), ": no CUDA kernel for ", parts...);
}

// A fused activation in the kernels' form. HardSigmoid has no kernel form (callers that can
// fold its affine part into weights do so first); other kinds map one to one. Clip's open
// bounds become +-FLT_MAX (the kernels want finite bounds).
Result<kernels::EpilogueParams> kernel_epilogue(const NodeDesc& n, const Activation& a, bool residual_after);

// A float weight as host float32 (from float32, float16 or float64 storage, aligned or not).
Result<std::vector<float>> host_floats(const NodeDesc& n, const Tensor& t);

// Host float32 -> float16 bit patterns, round to nearest even.
std::vector<uint16_t> to_half_bits(std::span<const float> v);

template <class T>
std::vector<std::byte> as_bytes_vector(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The weight (source, transform) from the sink, made by make() (a Result<std::vector<std::byte>>)
// only the first time.
template <class Make>
Result<int> find_or_add_weight(WeightSink& sink, const void* source, std::string_view transform, Make&& make) {
  const int found = sink.find(source, transform);
  if (found >= 0) return found;
  QUENCH_ASSIGN(std::vector<std::byte> bytes, make());
  return sink.add(source, transform, std::move(bytes));
}

// A constant input as its device tensor would hold it: float16 for float types (NHWC when the
// layout says so), other types as they are. For small operands (binary ops' constants).
Result<std::vector<std::byte>> device_form(const NodeDesc& n, const GpuValueDesc& v);

// Bind-time tensors described as prepare saw them (constants included), for shared checks.
std::vector<GpuValueDesc> descs_of(std::span<const GpuTensor> ts);

// [N, C, H, W] of a 4-D logical shape as the NHWC kernels name them.
struct Nhwc {
  int64_t n = 0, h = 0, w = 0, c = 0;
};
Nhwc nhwc_of(const Shape& logical);

inline __half* half_ptr(void* p) { return static_cast<__half*>(p); }
inline const __half* half_ptr(const void* p) { return static_cast<const __half*>(p); }

// Whether a value is a 4-D float16 activation/constant the GPU keeps in NHWC.
inline bool is_nhwc(const GpuValueDesc& v) { return v.layout == GpuLayout::kNHWC; }

}  // namespace quench::ops

namespace quench::ops {

// A stand-in device address for asking a kernel's can_implement about shapes at build time,
// before any device memory exists: non-null, 4096-byte aligned, and 1 TiB from the next `which`
// so that operands never seem to overlap. can_implement only checks pointers for null,
// alignment and overlap; it never dereferences them, and nothing is launched with them.
template <class T>
T* probe_ptr(int which = 0) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(which + 1) << 40);
}

// 256-byte multiple, the arena's alignment, for workspace regions.
constexpr size_t align_up_256(size_t b) { return (b + 255) & ~size_t{255}; }

}  // namespace quench::ops
