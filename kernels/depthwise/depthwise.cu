// Depthwise convolution on NHWC, see depthwise.cuh.
//
// One thread computes TW consecutive output pixels along W for V consecutive channels. Consecutive
// threads take consecutive channel vectors, so every load and store of a warp is contiguous within
// a pixel (16 bytes per thread when V = 8). For each of the K filter rows the thread reads the
// (TW-1)*S+K input columns it needs once and uses each for up to K taps of its TW outputs; input
// rows shared with the outputs of neighbouring rows (other threads of the block) come from L1/L2.
// The memory traffic is therefore close to one read of x, one write of y (and one read of the
// residual): the kernel is bound by memory bandwidth on every MobileNet-sized layer.
//
// Outside the image (padding) the input is zero. The strip width TW is 1, 2 or 4 (Strip); by
// default 4 for stride 1 and 2 for stride 2 when there is enough work to fill the GPU, else 1.
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/depthwise/depthwise.cuh"

namespace quench::kernels::depthwise {
namespace {

constexpr int kBlock = 256;

// V channels of T <-> V floats, in one access of V * sizeof(T) bytes.
template <class T, int V>
struct VecIO;

template <>
struct VecIO<__half, 8> {
  static __device__ __forceinline__ void load_ro(const __half* p, float (&f)[8]) {
    unpack(__ldg(reinterpret_cast<const uint4*>(p)), f);
  }
  static __device__ __forceinline__ void load(const __half* p, float (&f)[8]) {
    unpack(*reinterpret_cast<const uint4*>(p), f);
  }
  static __device__ __forceinline__ void store(__half* p, const float (&f)[8]) {
    uint4 raw;
    __half2* h = reinterpret_cast<__half2*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) h[i] = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
    *reinterpret_cast<uint4*>(p) = raw;
  }
  static __device__ __forceinline__ void unpack(const uint4& raw, float (&f)[8]) {
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 t = __half22float2(h[i]);
      f[2 * i] = t.x;
      f[2 * i + 1] = t.y;
    }
  }
};

template <>
struct VecIO<__half, 2> {
  static __device__ __forceinline__ void load_ro(const __half* p, float (&f)[2]) {
    const float2 t = __half22float2(__ldg(reinterpret_cast<const __half2*>(p)));
    f[0] = t.x;
    f[1] = t.y;
  }
  static __device__ __forceinline__ void load(const __half* p, float (&f)[2]) {
    const float2 t = __half22float2(*reinterpret_cast<const __half2*>(p));
    f[0] = t.x;
    f[1] = t.y;
  }
  static __device__ __forceinline__ void store(__half* p, const float (&f)[2]) {
    *reinterpret_cast<__half2*>(p) = __floats2half2_rn(f[0], f[1]);
  }
};

template <>
struct VecIO<__half, 1> {
  static __device__ __forceinline__ void load_ro(const __half* p, float (&f)[1]) { f[0] = __half2float(__ldg(p)); }
  static __device__ __forceinline__ void load(const __half* p, float (&f)[1]) { f[0] = __half2float(*p); }
  static __device__ __forceinline__ void store(__half* p, const float (&f)[1]) { *p = __float2half_rn(f[0]); }
};

template <class T>
struct Params {
  int h, w, c, oh, ow, strips, pad_top, pad_left;
  int rows;          // output rows per row group (1, 2 or 4, dividing oh)
  int groups;        // oh / rows
  unsigned total;    // threads: n * oh * strips * (c / V), below 2^31
  const T* x;
  const T* weight;
  const float* bias;
  const T* residual;  // may alias y: each element is read and then written by the same thread
  T* y;
  EpilogueParams epi;
};

template <class T, int K, int S, int V, int TW>
__global__ void __launch_bounds__(kBlock) depthwise_kernel(const Params<T> p) {
  using IO = VecIO<T, V>;
  constexpr int kCols = (TW - 1) * S + K;  // input columns one filter row of the strip touches

  // 32-bit index arithmetic (the launcher keeps the thread count below 2^31): a 64-bit division
  // is a subroutine call, whose register saves show up as stack traffic.
  const unsigned idx = blockIdx.x * kBlock + threadIdx.x;
  if (idx >= p.total) return;
  const unsigned vecs = static_cast<unsigned>(p.c / V);
  // Thread order, fastest first: channel vector, output row within a group of `rows` rows, strip,
  // row group, image. Neighbouring threads of a block thus cover a few consecutive output rows of
  // the same columns, whose input rows overlap, and L1 serves the overlap.
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
  const T* x_image = p.x + static_cast<int64_t>(n) * p.h * p.w * p.c + c0;
  const int iw0 = ow0 * S - p.pad_left;

  float acc[TW][V];
#pragma unroll
  for (int t = 0; t < TW; ++t)
#pragma unroll
    for (int v = 0; v < V; ++v) acc[t][v] = 0.0f;

#pragma unroll
  for (int i = 0; i < K; ++i) {
    // No early exit for rows in the padding (their loads are predicated off instead), so that the
    // compiler can issue the loads of every row before the first FMA.
    const int ih = oh * S - p.pad_top + i;
    const bool row_ok = ih >= 0 && ih < p.h;
    const T* row = x_image + static_cast<int64_t>(row_ok ? ih : 0) * p.w * p.c;
    float wv[K][V];
#pragma unroll
    for (int j = 0; j < K; ++j) IO::load_ro(p.weight + (i * K + j) * p.c + c0, wv[j]);
#pragma unroll
    for (int j = 0; j < kCols; ++j) {
      const int iw = iw0 + j;
      float xv[V];
      if (row_ok && iw >= 0 && iw < p.w) {
        IO::load_ro(row + static_cast<int64_t>(iw) * p.c, xv);
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) xv[v] = 0.0f;
      }
#pragma unroll
      for (int t = 0; t < TW; ++t) {
        const int kw = j - t * S;
        if (kw >= 0 && kw < K) {
#pragma unroll
          for (int v = 0; v < V; ++v) acc[t][v] = fmaf(xv[v], wv[kw][v], acc[t][v]);
        }
      }
    }
  }

  float bias[V];
#pragma unroll
  for (int v = 0; v < V; ++v) bias[v] = p.bias ? __ldg(p.bias + c0 + v) : 0.0f;
  with_activation(p.epi.activation, [&](auto act) {
    constexpr Activation A = decltype(act)::value;
#pragma unroll
    for (int t = 0; t < TW; ++t) {
      const int ow = ow0 + t;
      if (ow >= p.ow) continue;
      const int64_t off = ((static_cast<int64_t>(n) * p.oh + oh) * p.ow + ow) * p.c + c0;
      float res[V];
      if (p.residual) {
        IO::load(p.residual + off, res);
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) res[v] = 0.0f;
      }
      float out[V];
#pragma unroll
      for (int v = 0; v < V; ++v) out[v] = apply_epilogue<A>(acc[t][v] + bias[v], res[v], p.epi);
      IO::store(p.y + off, out);
    }
  });
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class T, int K, int S, int V, int TW>
Status launch(Params<T> p, int64_t n, cudaStream_t stream) {
  p.strips = static_cast<int>(ceil_div(p.ow, TW));
  p.rows = p.oh % 4 == 0 ? 4 : p.oh % 2 == 0 ? 2 : 1;
  p.groups = p.oh / p.rows;
  const int64_t total = n * p.oh * p.strips * (p.c / V);
  if (total > INT32_MAX - kBlock) return error(StatusCode::kUnsupported, "depthwise: tensor too large for one launch");
  p.total = static_cast<unsigned>(total);
  const int64_t blocks = ceil_div(total, kBlock);
  depthwise_kernel<T, K, S, V, TW><<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(p);
  return launch_status("depthwise_kernel");
}

// Strip width: wide when the wide launch still gives every multiprocessor a couple of blocks.
template <class T, int K, int S, int V>
Status launch_tw(const Params<T>& p, int64_t n, int tw, cudaStream_t stream) {
  switch (tw) {
    case 4: return launch<T, K, S, V, 4>(p, n, stream);
    case 2: return launch<T, K, S, V, 2>(p, n, stream);
    default: return launch<T, K, S, V, 1>(p, n, stream);
  }
}

template <class T, int K, int S>
Status launch_v(const Params<T>& p, int64_t n, int v, int tw, cudaStream_t stream) {
  switch (v) {
    case 8: return launch_tw<T, K, S, 8>(p, n, tw, stream);
    case 2: return launch_tw<T, K, S, 2>(p, n, tw, stream);
    default: return launch_tw<T, K, S, 1>(p, n, tw, stream);
  }
}

template <class T, int K>
Status launch_s(const Params<T>& p, int64_t n, int stride, int v, int tw, cudaStream_t stream) {
  return stride == 1 ? launch_v<T, K, 1>(p, n, v, tw, stream) : launch_v<T, K, 2>(p, n, v, tw, stream);
}

}  // namespace

template <class T>
Status can_implement(const DepthwiseArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "depthwise: only FP16 is instantiated so far");
  if (a.n <= 0 || a.h <= 0 || a.w <= 0 || a.c <= 0)
    return error(StatusCode::kInvalidArgument, "depthwise: N, H, W, C must be positive (got ", a.n, ", ", a.h, ", ",
                 a.w, ", ", a.c, ")");
  if (a.kernel != 3 && a.kernel != 5)
    return error(StatusCode::kUnsupported, "depthwise: kernel ", a.kernel, "x", a.kernel, " (3x3 and 5x5 only)");
  if (a.stride != 1 && a.stride != 2) return error(StatusCode::kUnsupported, "depthwise: stride ", a.stride, " (1 or 2 only)");
  if (a.pad_top < 0 || a.pad_left < 0 || a.pad_bottom < 0 || a.pad_right < 0)
    return error(StatusCode::kInvalidArgument, "depthwise: negative padding");
  if (out_h(a) <= 0 || out_w(a) <= 0 || a.h + a.pad_top + a.pad_bottom < a.kernel ||
      a.w + a.pad_left + a.pad_right < a.kernel)
    return error(StatusCode::kShapeError, "depthwise: the padded input is smaller than the kernel");
  if (a.h > INT32_MAX / 4 || a.w > INT32_MAX / 4 || a.c > INT32_MAX / 4 || a.n * a.h * a.w * a.c > (int64_t{1} << 40))
    return error(StatusCode::kUnsupported, "depthwise: tensor too large");
  if (!a.x || !a.weight || !a.y) return error(StatusCode::kInvalidArgument, "depthwise: x, weight and y must be non-null");
  if (!aligned_to(a.x, sizeof(T)) || !aligned_to(a.weight, sizeof(T)) || !aligned_to(a.y, sizeof(T)) ||
      (a.residual && !aligned_to(a.residual, sizeof(T))) || (a.bias && !aligned_to(a.bias, sizeof(float))))
    return error(StatusCode::kInvalidArgument, "depthwise: pointers must be aligned to their element");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "depthwise: max_vector must be 1, 2 or 8");
  if (a.strip != Strip::kAuto && a.strip != Strip::kNarrow && a.strip != Strip::kMedium && a.strip != Strip::kWide)
    return error(StatusCode::kInvalidArgument, "depthwise: unknown strip");
  if (!epilogue_params_valid(a.epilogue)) return error(StatusCode::kInvalidArgument, "depthwise: bad epilogue parameters");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const DepthwiseArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const DepthwiseArgs<T>& a) {
  auto all_aligned = [&](unsigned bytes) {
    return aligned_to(a.x, bytes) && aligned_to(a.weight, bytes) && aligned_to(a.y, bytes) &&
           (!a.residual || aligned_to(a.residual, bytes));
  };
  if (a.max_vector >= 8 && a.c % 8 == 0 && all_aligned(8 * sizeof(T))) return 8;
  if (a.max_vector >= 2 && a.c % 2 == 0 && all_aligned(2 * sizeof(T))) return 2;
  return 1;
}

template <class T>
Status run(const DepthwiseArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Params<T> p;
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
  p.bias = a.bias;
  p.residual = a.residual;
  p.y = a.y;
  p.epi = a.epilogue;
  const int v = vector_width(a);
  int tw = a.strip == Strip::kWide ? 4 : a.strip == Strip::kMedium ? 2 : 1;
  if (a.strip == Strip::kAuto) {
    int device = 0, sms = 0;
    QUENCH_TRY(cuda_status(cudaGetDevice(&device), "depthwise: cudaGetDevice"));
    QUENCH_TRY(cuda_status(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                           "depthwise: cudaDeviceGetAttribute"));
    const int64_t wide_width = a.stride == 1 ? 4 : 2;
    const int64_t wide_threads = a.n * p.oh * ceil_div(p.ow, wide_width) * (p.c / v);
    // Measured on an H100 (bench/results, depthwise_variant): the wide strip wins down to about
    // two thirds of a wave of blocks, the narrow one below that.
    tw = 2 * ceil_div(wide_threads, kBlock) >= static_cast<int64_t>(sms) ? static_cast<int>(wide_width) : 1;
  }
  return a.kernel == 3 ? launch_s<T, 3>(p, a.n, a.stride, v, tw, stream)
                       : launch_s<T, 5>(p, a.n, a.stride, v, tw, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const DepthwiseArgs<__half>&);
template size_t workspace_bytes<__half>(const DepthwiseArgs<__half>&);
template int vector_width<__half>(const DepthwiseArgs<__half>&);
template Status run<__half>(const DepthwiseArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::depthwise
