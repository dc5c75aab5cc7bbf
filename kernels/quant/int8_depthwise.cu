// INT8 depthwise convolution on NHWC, see int8_depthwise.cuh.
//
// The FP16 depthwise kernel's organisation (kernels/depthwise/depthwise.cu): one thread computes TW
// consecutive output pixels along W for V consecutive channels; consecutive threads take
// consecutive channel vectors, so a warp's loads and stores are contiguous within a pixel. For
// each filter row the thread reads the (TW-1)*S+K input columns it needs once and uses each for up
// to K taps of its TW outputs. INT8 bytes are sign-extended to INT32 once per load and multiplied
// with integer multiply-adds: exact, and the memory traffic is half the FP16 kernel's, so it stays
// close to one read of x and one write of y. The epilogue's channel constants are loaded once per
// thread, V at a time.
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/cuda_status.cuh"
#include "kernels/quant/int8_depthwise.cuh"
#include "kernels/quant/int8_store.cuh"

namespace quench::kernels::int8::depthwise {
namespace {

constexpr int kBlock = 256;

template <class Out>
struct Params {
  int h, w, c, oh, ow, strips, pad_top, pad_left;
  int rows;        // output rows per row group (1, 2 or 4, dividing oh)
  int groups;      // oh / rows
  unsigned total;  // threads: n * oh * strips * (c / V), below 2^31
  const int8_t* x;
  const int8_t* weight;
  const Out* residual;  // may alias y: each element is read and then written by the same thread
  Out* y;
  const int32_t* table;
  int64_t table_stride;
  Epilogue epi;
};

// V consecutive INT8 values at p (read-only data), sign-extended; p aligned to V bytes.
template <int V>
__device__ __forceinline__ void load_int8(const int8_t* p, int32_t (&v)[V]) {
  if constexpr (V == 1) {
    v[0] = __ldg(p);
  } else {
    uint32_t w[V / 4];
    if constexpr (V == 4) {
      w[0] = __ldg(reinterpret_cast<const unsigned int*>(p));
    } else {
      static_assert(V == 8, "1, 4 or 8 channels per thread");
      const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
      w[0] = u.x;
      w[1] = u.y;
    }
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = static_cast<int8_t>(w[i / 4] >> (8 * (i % 4)));
  }
}

template <class Out, int K, int S, int V, int TW>
__global__ void __launch_bounds__(kBlock) int8_depthwise_kernel(const Params<Out> p) {
  constexpr int kCols = (TW - 1) * S + K;  // input columns one filter row of the strip touches

  // 32-bit index arithmetic, thread order as in the FP16 kernel (fastest first: channel vector,
  // output row within a group of `rows` rows, strip, row group, image), so that neighbouring
  // threads cover a few consecutive output rows of the same columns and L1 serves the overlap.
  const unsigned idx = blockIdx.x * kBlock + threadIdx.x;
  if (idx >= p.total) return;
  const unsigned vecs = static_cast<unsigned>(p.c / V);
  unsigned rest = idx;
  const int cv = static_cast<int>(rest % vecs);
  rest /= vecs;
  const int row_in_group = static_cast<int>(rest % static_cast<unsigned>(p.rows));
  rest /= static_cast<unsigned>(p.rows);
  const int strip = static_cast<int>(rest % static_cast<unsigned>(p.strips));
  rest /= static_cast<unsigned>(p.strips);
  const int oh = static_cast<int>(rest % static_cast<unsigned>(p.groups)) * p.rows + row_in_group;
  const int n = static_cast<int>(rest / static_cast<unsigned>(p.groups));
  const int c0 = cv * V, ow0 = strip * TW;
  const int8_t* x_image = p.x + static_cast<int64_t>(n) * p.h * p.w * p.c + c0;
  const int iw0 = ow0 * S - p.pad_left;

  int32_t acc[TW][V];
#pragma unroll
  for (int t = 0; t < TW; ++t)
#pragma unroll
    for (int v = 0; v < V; ++v) acc[t][v] = 0;

#pragma unroll
  for (int i = 0; i < K; ++i) {
    // Rows in the padding are predicated off rather than skipped, so that every row's loads can
    // issue before the first multiply-add.
    const int ih = oh * S - p.pad_top + i;
    const bool row_ok = ih >= 0 && ih < p.h;
    const int8_t* row = x_image + static_cast<int64_t>(row_ok ? ih : 0) * p.w * p.c;
    int32_t wv[K][V];
#pragma unroll
    for (int j = 0; j < K; ++j) load_int8<V>(p.weight + (i * K + j) * p.c + c0, wv[j]);
#pragma unroll
    for (int j = 0; j < kCols; ++j) {
      const int iw = iw0 + j;
      int32_t xv[V];
      if (row_ok && iw >= 0 && iw < p.w) {
        load_int8<V>(row + static_cast<int64_t>(iw) * p.c, xv);
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) xv[v] = 0;
      }
#pragma unroll
      for (int t = 0; t < TW; ++t) {
        const int kw = j - t * S;
        if (kw >= 0 && kw < K) {
#pragma unroll
          for (int v = 0; v < V; ++v) acc[t][v] += xv[v] * wv[kw][v];
        }
      }
    }
  }

  with_mode<Out>(p.epi, p.residual != nullptr, [&](auto tag) {
    using Tag = decltype(tag);
    Channel ch[V];
    load_channels<Tag::mode, Tag::residual, V>(p.table, p.table_stride, c0, ch);
#pragma unroll
    for (int t = 0; t < TW; ++t) {
      const int ow = ow0 + t;
      if (ow >= p.ow) continue;
      const int64_t off = ((static_cast<int64_t>(n) * p.oh + oh) * p.ow + ow) * p.c + c0;
      finish_row<Out, Tag::mode, Tag::residual, V>(acc[t], ch, Tag::residual ? p.residual + off : nullptr, p.y + off,
                                                   p.epi);
    }
  });
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class Out, int K, int S, int V, int TW>
Status launch(Params<Out> p, int64_t n, cudaStream_t stream) {
  p.strips = static_cast<int>(ceil_div(p.ow, TW));
  p.rows = p.oh % 4 == 0 ? 4 : p.oh % 2 == 0 ? 2 : 1;
  p.groups = p.oh / p.rows;
  const int64_t total = n * p.oh * p.strips * (p.c / V);
  if (total > INT32_MAX - kBlock) return error(StatusCode::kUnsupported, "int8 depthwise: tensor too large for one launch");
  p.total = static_cast<unsigned>(total);
  const int64_t blocks = ceil_div(total, kBlock);
  int8_depthwise_kernel<Out, K, S, V, TW><<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(p);
  return launch_status("int8_depthwise_kernel");
}

// The wide strip of a stride: 4 output pixels for stride 1, 2 for stride 2 (the FP16 kernel's
// automatic choices; the other widths are not compiled for INT8).
template <int S>
constexpr int kWide = S == 1 ? 4 : 2;

template <class Out, int K, int S, int V>
Status launch_tw(const Params<Out>& p, int64_t n, bool wide, cudaStream_t stream) {
  return wide ? launch<Out, K, S, V, kWide<S>>(p, n, stream) : launch<Out, K, S, V, 1>(p, n, stream);
}

template <class Out, int K, int S>
Status launch_v(const Params<Out>& p, int64_t n, int v, bool wide, cudaStream_t stream) {
  switch (v) {
    case 8: return launch_tw<Out, K, S, 8>(p, n, wide, stream);
    case 4: return launch_tw<Out, K, S, 4>(p, n, wide, stream);
    default: return launch_tw<Out, K, S, 1>(p, n, wide, stream);
  }
}

template <class Out, int K>
Status launch_s(const Params<Out>& p, int64_t n, int stride, int v, bool wide, cudaStream_t stream) {
  return stride == 1 ? launch_v<Out, K, 1>(p, n, v, wide, stream) : launch_v<Out, K, 2>(p, n, v, wide, stream);
}

// Outputs (and residual) of V consecutive channels as one access.
template <class Out>
bool vector_ok(const void* p, int v) {
  const unsigned bytes = static_cast<unsigned>(v) * sizeof(Out);
  return aligned_to(p, bytes < 16 ? bytes : 16);
}

}  // namespace

template <class Out>
Status can_implement(const DepthwiseArgs<Out>& a) {
  if (a.n <= 0 || a.h <= 0 || a.w <= 0 || a.c <= 0)
    return error(StatusCode::kInvalidArgument, "int8 depthwise: N, H, W, C must be positive (got ", a.n, ", ", a.h, ", ",
                 a.w, ", ", a.c, ")");
  if (a.kernel != 3 && a.kernel != 5)
    return error(StatusCode::kUnsupported, "int8 depthwise: kernel ", a.kernel, "x", a.kernel, " (3x3 and 5x5 only)");
  if (a.stride != 1 && a.stride != 2)
    return error(StatusCode::kUnsupported, "int8 depthwise: stride ", a.stride, " (1 or 2 only)");
  if (a.pad_top < 0 || a.pad_left < 0 || a.pad_bottom < 0 || a.pad_right < 0)
    return error(StatusCode::kInvalidArgument, "int8 depthwise: negative padding");
  if (a.h + a.pad_top + a.pad_bottom < a.kernel || a.w + a.pad_left + a.pad_right < a.kernel)
    return error(StatusCode::kShapeError, "int8 depthwise: the padded input is smaller than the kernel");
  if (a.h > INT32_MAX / 4 || a.w > INT32_MAX / 4 || a.c > INT32_MAX / 4 || a.n * a.h * a.w * a.c > (int64_t{1} << 40))
    return error(StatusCode::kUnsupported, "int8 depthwise: tensor too large");
  if (!a.x || !a.weight || !a.y) return error(StatusCode::kInvalidArgument, "int8 depthwise: x, weight and y must be non-null");
  if (!aligned_to(a.y, sizeof(Out)) || (a.residual && !aligned_to(a.residual, sizeof(Out))))
    return error(StatusCode::kInvalidArgument, "int8 depthwise: y and the residual must be aligned to their element");
  if (a.max_vector != 1 && a.max_vector != 4 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "int8 depthwise: max_vector must be 1, 4 or 8");
  if (a.strip != Strip::kAuto && a.strip != Strip::kNarrow && a.strip != Strip::kMedium && a.strip != Strip::kWide)
    return error(StatusCode::kInvalidArgument, "int8 depthwise: unknown strip");
  // 25 taps of at most 128 * 128: far below kMaxReduction, checked for the record.
  static_assert(25 <= quant::kMaxReduction, "a 5x5 window sums 25 products");
  return check_epilogue(a.epilogue, output_of<Out>(), a.residual != nullptr, a.c, a.channel_table, "int8 depthwise");
}

template <class Out>
size_t workspace_bytes(const DepthwiseArgs<Out>&) {
  return 0;
}

template <class Out>
int vector_width(const DepthwiseArgs<Out>& a) {
  for (int v : {8, 4}) {
    if (a.max_vector >= v && a.c % v == 0 && aligned_to(a.x, v) && aligned_to(a.weight, v) && vector_ok<Out>(a.y, v) &&
        (!a.residual || vector_ok<Out>(a.residual, v)))
      return v;
  }
  return 1;
}

template <class Out>
Status run(const DepthwiseArgs<Out>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Params<Out> p;
  p.h = static_cast<int>(a.h);
  p.w = static_cast<int>(a.w);
  p.c = static_cast<int>(a.c);
  p.oh = static_cast<int>(out_h(a));
  p.ow = static_cast<int>(out_w(a));
  p.strips = 0;
  p.rows = 1;
  p.groups = p.oh;
  p.pad_top = a.pad_top;
  p.pad_left = a.pad_left;
  p.total = 0;
  p.x = a.x;
  p.weight = a.weight;
  p.residual = a.residual;
  p.y = a.y;
  p.table = a.channel_table;
  p.table_stride = table_stride(a.c);
  p.epi = a.epilogue;
  const int v = vector_width(a);
  bool wide = a.strip == Strip::kWide || a.strip == Strip::kMedium;
  if (a.strip == Strip::kAuto) {
    int device = 0, sms = 0;
    QUENCH_TRY(cuda_status(cudaGetDevice(&device), "int8 depthwise: cudaGetDevice"));
    QUENCH_TRY(cuda_status(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                           "int8 depthwise: cudaDeviceGetAttribute"));
    // The FP16 kernel's rule (measured there): the wide strip while it still gives about two
    // thirds of a wave of blocks.
    const int64_t wide_width = a.stride == 1 ? 4 : 2;
    const int64_t wide_threads = a.n * p.oh * ceil_div(p.ow, wide_width) * (p.c / v);
    wide = 2 * ceil_div(wide_threads, kBlock) >= static_cast<int64_t>(sms);
  }
  return a.kernel == 3 ? launch_s<Out, 3>(p, a.n, a.stride, v, wide, stream)
                       : launch_s<Out, 5>(p, a.n, a.stride, v, wide, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<int8_t>(const DepthwiseArgs<int8_t>&);
template size_t workspace_bytes<int8_t>(const DepthwiseArgs<int8_t>&);
template int vector_width<int8_t>(const DepthwiseArgs<int8_t>&);
template Status run<int8_t>(const DepthwiseArgs<int8_t>&, void*, cudaStream_t);
template Status can_implement<__half>(const DepthwiseArgs<__half>&);
template size_t workspace_bytes<__half>(const DepthwiseArgs<__half>&);
template int vector_width<__half>(const DepthwiseArgs<__half>&);
template Status run<__half>(const DepthwiseArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::int8::depthwise
