// Pad / crop over up to 6 dims, see pad.cuh.
//
// The host merges each run of neighbouring dims without pads into one dim, so NHWC spatial
// padding runs as [N, H, W, C] with C untouched and innermost; a thread then writes one vector of
// the innermost dim (when that dim is untouched and its size allows) or one element. Each output
// index is split over the merged dims with FastDivmod and mapped to its source per dim; a dim in
// the constant border makes the whole vector the constant.
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/pad/pad.cuh"

namespace quench::kernels::pad {
namespace {

constexpr int kBlock = 256;

// One dim of the plan, as the CPU reference describes it.
struct DimPlan {
  int64_t out = 0, lo = 0, extent = 0, before = 0;
  int64_t in_stride = 0;  // elements
  bool touched = false;
};

struct Plan {
  int rank = 0;  // merged, >= 1
  DimPlan dim[kMaxDims];
  int64_t total = 0;  // output elements
};

template <class T>
Status make_plan(const PadArgs<T>& a, Plan* plan) {
  if (a.rank < 1 || a.rank > kMaxDims) return error(StatusCode::kInvalidArgument, "pad: rank ", a.rank, " outside [1, ", kMaxDims, "]");
  DimPlan full[kMaxDims];
  int64_t stride = 1;
  for (int d = a.rank - 1; d >= 0; --d) {
    const int64_t in = a.dims[d], b = a.pad_begin[d], e = a.pad_end[d];
    if (in < 0 || in >= int64_t{kFastDivmodLimit})
      return error(StatusCode::kInvalidArgument, "pad: dim ", d, " is ", in, " (must lie in [0, 2^31))");
    constexpr int64_t kPadLimit = int64_t{1} << 30;
    if (b > kPadLimit || b < -kPadLimit || e > kPadLimit || e < -kPadLimit)
      return error(StatusCode::kUnsupported, "pad: pads on dim ", d, " are too large");
    DimPlan& p = full[d];
    p.out = in + b + e;
    if (p.out < 0)
      return error(StatusCode::kShapeError, "pad: pads ", b, " and ", e, " crop dim ", d, " (size ", in, ") below zero");
    if (p.out >= int64_t{kFastDivmodLimit}) return error(StatusCode::kUnsupported, "pad: output dim ", d, " too large");
    p.lo = b < 0 ? (-b < in ? -b : in) : 0;
    const int64_t kept = in - p.lo - (e < 0 ? -e : 0);
    p.extent = kept > 0 ? kept : 0;
    p.before = b > 0 ? b : 0;
    if (p.extent == 0 && p.out > 0 && a.mode != PadMode::kConstant)
      return error(StatusCode::kShapeError, "pad: cannot pad dim ", d, " in this mode: cropping left no input elements");
    p.in_stride = stride;
    p.touched = b != 0 || e != 0;
    stride *= in;
  }
  // Merge runs of untouched dims (the outer one of a pair takes the inner one's stride).
  Plan out;
  for (int d = 0; d < a.rank; ++d) {
    if (out.rank > 0 && !full[d].touched && !out.dim[out.rank - 1].touched) {
      DimPlan& m = out.dim[out.rank - 1];
      m.out *= full[d].out;
      m.extent = m.out;
      m.in_stride = full[d].in_stride;
    } else {
      out.dim[out.rank++] = full[d];
    }
  }
  out.total = 1;
  for (int d = 0; d < out.rank; ++d) out.total *= out.dim[d].out;
  *plan = out;
  return Status::ok_status();
}

template <class T>
int width_for(const PadArgs<T>& a, const Plan& p) {
  const DimPlan& inner = p.dim[p.rank - 1];
  for (int v = 16 / static_cast<int>(sizeof(T)); v > 1; v /= 2) {
    if (v > a.max_vector) continue;
    if (!inner.touched && inner.out % v == 0 && all_aligned(v * sizeof(T), {a.x, a.y})) return v;
  }
  return 1;
}

// ---- device -----------------------------------------------------------------------------------

struct DevDim {
  FastDivmod out;  // innermost: counts vectors
  int lo, extent, before;
  int64_t in_stride;  // bytes per index step (the innermost dim steps whole vectors)
};

template <class W>
struct Params {
  const void* x;
  void* y;
  unsigned total;  // vectors
  int rank;
  DevDim dim[kMaxDims];  // innermost first
  W fill;                // the constant, replicated over the vector
};

// Source index along one dim, or -1 for the constant.
template <PadMode M>
__device__ __forceinline__ int source_index(const DevDim& d, int o) {
  int rel = o - d.before;
  if (rel >= 0 && rel < d.extent) return d.lo + rel;
  if constexpr (M == PadMode::kConstant) {
    return -1;
  } else if constexpr (M == PadMode::kEdge) {
    rel = rel < 0 ? 0 : d.extent - 1;
  } else if constexpr (M == PadMode::kReflect) {
    if (d.extent == 1) {
      rel = 0;
    } else {
      const int period = 2 * (d.extent - 1);
      rel %= period;
      if (rel < 0) rel += period;
      if (rel >= d.extent) rel = period - rel;
    }
  } else {
    static_assert(M == PadMode::kWrap, "unhandled pad mode");
    rel %= d.extent;
    if (rel < 0) rel += d.extent;
  }
  return d.lo + rel;
}

template <class W, PadMode M>
__global__ void __launch_bounds__(kBlock) pad_kernel(const Params<W> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.total) return;
  unsigned rest = i;
  int64_t off = 0;
  bool fill = false;
#pragma unroll
  for (int d = 0; d < kMaxDims; ++d) {
    if (d >= p.rank) break;
    unsigned q, r;
    if (d == p.rank - 1) {
      r = rest;  // the outermost dim takes what is left
      q = 0;
    } else {
      p.dim[d].out.divmod(rest, q, r);
    }
    const int s = source_index<M>(p.dim[d], static_cast<int>(r));
    fill = fill || s < 0;
    off += static_cast<int64_t>(s) * p.dim[d].in_stride;
    rest = q;
  }
  W* y = static_cast<W*>(p.y) + i;
  // A vector is only used when the innermost dim is untouched, so `off` is vector-aligned.
  *y = fill ? p.fill : *reinterpret_cast<const W*>(static_cast<const char*>(p.x) + off);
}

template <class W>
W replicate(uint32_t word);
template <> uint16_t replicate<uint16_t>(uint32_t w) { return static_cast<uint16_t>(w); }
template <> uint32_t replicate<uint32_t>(uint32_t w) { return w; }
template <> uint2 replicate<uint2>(uint32_t w) { return make_uint2(w, w); }
template <> uint4 replicate<uint4>(uint32_t w) { return make_uint4(w, w, w, w); }

template <class W>
Status launch(const Plan& plan, int v, int elem_bytes, const void* x, void* y, uint32_t fill_word, PadMode mode,
              cudaStream_t stream) {
  Params<W> p;
  p.x = x;
  p.y = y;
  p.total = static_cast<unsigned>(plan.total / v);
  p.rank = plan.rank;
  for (int d = 0; d < kMaxDims; ++d) {
    DevDim& dd = p.dim[d];
    if (d >= plan.rank) {
      dd = DevDim{FastDivmod(1), 0, 1, 0, 0};
      continue;
    }
    const DimPlan& s = plan.dim[plan.rank - 1 - d];
    const int64_t per = d == 0 ? v : 1;  // the innermost dim counts vectors
    dd.out = FastDivmod(static_cast<uint32_t>(s.out / per));
    dd.lo = static_cast<int>(s.lo / per);
    dd.extent = static_cast<int>(s.extent / per);
    dd.before = static_cast<int>(s.before / per);
    dd.in_stride = s.in_stride * per * elem_bytes;
  }
  p.fill = replicate<W>(fill_word);
  const unsigned blocks = (p.total + kBlock - 1) / kBlock;
  switch (mode) {
    case PadMode::kConstant: pad_kernel<W, PadMode::kConstant><<<blocks, kBlock, 0, stream>>>(p); break;
    case PadMode::kReflect: pad_kernel<W, PadMode::kReflect><<<blocks, kBlock, 0, stream>>>(p); break;
    case PadMode::kEdge: pad_kernel<W, PadMode::kEdge><<<blocks, kBlock, 0, stream>>>(p); break;
    case PadMode::kWrap: pad_kernel<W, PadMode::kWrap><<<blocks, kBlock, 0, stream>>>(p); break;
  }
  return launch_status("pad_kernel");
}

// The constant as T's bits, replicated into a 32-bit word.
template <class T>
uint32_t fill_word(float value) {
  if constexpr (sizeof(T) == 2) {
    const uint32_t bits = __half_as_ushort(__float2half_rn(value));
    return bits | (bits << 16);
  } else {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    return bits;
  }
}

}  // namespace

template <class T>
Status output_dims(const PadArgs<T>& a, int64_t (&out)[kMaxDims]) {
  if (a.rank < 1 || a.rank > kMaxDims) return error(StatusCode::kInvalidArgument, "pad: rank ", a.rank, " outside [1, ", kMaxDims, "]");
  Plan unused;
  QUENCH_TRY(make_plan(a, &unused));
  for (int d = 0; d < kMaxDims; ++d) out[d] = d < a.rank ? a.dims[d] + a.pad_begin[d] + a.pad_end[d] : 0;
  return Status::ok_status();
}

template <class T>
Status can_implement(const PadArgs<T>& a) {
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, float>, "pad: FP16 and FP32 are instantiated");
  if (a.mode != PadMode::kConstant && a.mode != PadMode::kReflect && a.mode != PadMode::kEdge && a.mode != PadMode::kWrap)
    return error(StatusCode::kInvalidArgument, "pad: unknown mode ", static_cast<int>(a.mode));
  Plan plan;
  QUENCH_TRY(make_plan(a, &plan));
  if (plan.total >= int64_t{kFastDivmodLimit} - kBlock)
    return error(StatusCode::kUnsupported, "pad: output of ", plan.total, " elements exceeds one launch (2^31)");
  if (a.max_vector < 1) return error(StatusCode::kInvalidArgument, "pad: max_vector must be positive");
  if (plan.total == 0) return Status::ok_status();
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "pad: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y})) return error(StatusCode::kInvalidArgument, "pad: pointers must be aligned to their element");
  int64_t in_count = 1;
  for (int d = 0; d < a.rank; ++d) in_count *= a.dims[d];
  const auto xb = reinterpret_cast<uintptr_t>(a.x), yb = reinterpret_cast<uintptr_t>(a.y);
  const auto x_bytes = static_cast<uintptr_t>(in_count) * sizeof(T), y_bytes = static_cast<uintptr_t>(plan.total) * sizeof(T);
  if (xb < yb + y_bytes && yb < xb + x_bytes) return error(StatusCode::kInvalidArgument, "pad: y overlaps x");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const PadArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const PadArgs<T>& a) {
  Plan plan;
  if (!make_plan(a, &plan).ok()) return 1;
  return width_for(a, plan);
}

template <class T>
Status run(const PadArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Plan plan;
  QUENCH_TRY(make_plan(a, &plan));
  if (plan.total == 0) return Status::ok_status();
  const int v = width_for(a, plan);
  const uint32_t fill = fill_word<T>(a.value);
  switch (v * static_cast<int>(sizeof(T))) {
    case 16: return launch<uint4>(plan, v, sizeof(T), a.x, a.y, fill, a.mode, stream);
    case 8: return launch<uint2>(plan, v, sizeof(T), a.x, a.y, fill, a.mode, stream);
    case 4: return launch<uint32_t>(plan, v, sizeof(T), a.x, a.y, fill, a.mode, stream);
    default: return launch<uint16_t>(plan, v, sizeof(T), a.x, a.y, fill, a.mode, stream);
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status output_dims<__half>(const PadArgs<__half>&, int64_t (&)[kMaxDims]);
template Status output_dims<float>(const PadArgs<float>&, int64_t (&)[kMaxDims]);
template Status can_implement<__half>(const PadArgs<__half>&);
template Status can_implement<float>(const PadArgs<float>&);
template size_t workspace_bytes<__half>(const PadArgs<__half>&);
template size_t workspace_bytes<float>(const PadArgs<float>&);
template int vector_width<__half>(const PadArgs<__half>&);
template int vector_width<float>(const PadArgs<float>&);
template Status run<__half>(const PadArgs<__half>&, void*, cudaStream_t);
template Status run<float>(const PadArgs<float>&, void*, cudaStream_t);

}  // namespace quench::kernels::pad
