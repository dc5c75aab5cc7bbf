// Per-channel affine map, see channel_affine.cuh. One thread per V consecutive elements; their
// channel comes from the flat index by FastDivmod (no integer division).
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/elementwise/channel_affine.cuh"

namespace quench::kernels::elementwise {
namespace {

constexpr int kBlock = 256;

template <class T>
struct AffineParams {
  const T* x;
  const float* scale;
  const float* shift;
  T* y;
  unsigned vecs;         // threads: elements / V
  FastDivmod inner, channels;
};

// ChannelsInner: inner == 1, the V elements of a thread are V consecutive channels; otherwise they
// share one channel (V divides inner).
template <class T, int V, bool ChannelsInner>
__global__ void __launch_bounds__(kBlock) channel_affine_kernel(const AffineParams<T> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.vecs) return;
  const unsigned e = i * V;
  unsigned q, c;
  if constexpr (ChannelsInner) {
    p.channels.divmod(e, q, c);
  } else {
    p.channels.divmod(p.inner.div(e), q, c);
  }
  float v[V];
  VecIO<T, V>::load(p.x + e, v);
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const unsigned ch = ChannelsInner ? c + k : c;
    v[k] = fmaf(v[k], __ldg(p.scale + ch), __ldg(p.shift + ch));
  }
  VecIO<T, V>::store(p.y + e, v);
}

template <class T, int V>
Status launch(const AffineParams<T>& p, bool channels_inner, cudaStream_t stream) {
  const unsigned blocks = (p.vecs + kBlock - 1) / kBlock;
  if (channels_inner) {
    channel_affine_kernel<T, V, true><<<blocks, kBlock, 0, stream>>>(p);
  } else {
    channel_affine_kernel<T, V, false><<<blocks, kBlock, 0, stream>>>(p);
  }
  return launch_status("channel_affine_kernel");
}

}  // namespace

template <class T>
Status can_implement(const ChannelAffineArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "channel_affine: only FP16 is instantiated so far");
  if (a.outer < 0 || a.channels < 0 || a.inner < 0)
    return error(StatusCode::kInvalidArgument, "channel_affine: negative dims");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "channel_affine: max_vector must be 1, 2 or 8");
  if (a.channels >= int64_t{kFastDivmodLimit} || a.inner >= int64_t{kFastDivmodLimit} ||
      (a.channels > 0 && a.inner > 0 && a.outer >= int64_t{kFastDivmodLimit} / (a.channels * a.inner)))
    return error(StatusCode::kUnsupported, "channel_affine: tensor too large for one launch (2^31 elements)");
  const int64_t count = a.outer * a.channels * a.inner;
  if (count == 0) return Status::ok_status();
  if (!a.x || !a.y || !a.scale || !a.shift)
    return error(StatusCode::kInvalidArgument, "channel_affine: x, y, scale and shift must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}) || !all_aligned(sizeof(float), {a.scale, a.shift}))
    return error(StatusCode::kInvalidArgument, "channel_affine: pointers must be aligned to their element");
  const size_t bytes = static_cast<size_t>(count) * sizeof(T);
  if (a.x != a.y && ranges_overlap(a.x, bytes, a.y, bytes))
    return error(StatusCode::kInvalidArgument, "channel_affine: y overlaps x without being exactly it");
  const size_t pbytes = static_cast<size_t>(a.channels) * sizeof(float);
  if (ranges_overlap(a.scale, pbytes, a.y, bytes) || ranges_overlap(a.shift, pbytes, a.y, bytes))
    return error(StatusCode::kInvalidArgument, "channel_affine: y overlaps scale or shift");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const ChannelAffineArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const ChannelAffineArgs<T>& a) {
  // The run of elements a vector may span: channels when inner == 1, else inner.
  return vector_width_for(a.max_vector, a.inner == 1 ? a.channels : a.inner, sizeof(T), {a.x, a.y});
}

template <class T>
Status run(const ChannelAffineArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const int64_t count = a.outer * a.channels * a.inner;
  if (count == 0) return Status::ok_status();
  const int v = vector_width(a);
  AffineParams<T> p;
  p.x = a.x;
  p.scale = a.scale;
  p.shift = a.shift;
  p.y = a.y;
  p.vecs = static_cast<unsigned>(count / v);
  p.inner = FastDivmod(static_cast<uint32_t>(a.inner));
  p.channels = FastDivmod(static_cast<uint32_t>(a.channels));
  const bool channels_inner = a.inner == 1;
  switch (v) {
    case 8: return launch<T, 8>(p, channels_inner, stream);
    case 2: return launch<T, 2>(p, channels_inner, stream);
    default: return launch<T, 1>(p, channels_inner, stream);
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const ChannelAffineArgs<__half>&);
template size_t workspace_bytes<__half>(const ChannelAffineArgs<__half>&);
template int vector_width<__half>(const ChannelAffineArgs<__half>&);
template Status run<__half>(const ChannelAffineArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::elementwise
