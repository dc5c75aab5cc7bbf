// Nearest and bilinear resize on NHWC, see resize.cuh.
//
// One thread per output pixel and channel vector (channel vectors fastest, so a warp reads and
// writes contiguous bytes). The source coordinate is computed per thread in FP64 with explicitly
// rounded operations (__dadd_rn and friends are never contracted into FMAs), reproducing the CPU
// reference's arithmetic bit for bit; the per-axis constants that the reference computes once
// (L = scale * in, in - 1, the symmetric offset) come from the host, computed the same way.
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/resize/resize.cuh"

namespace quench::kernels::resize {
namespace {

constexpr int kBlock = 256;

struct Axis {
  double scale;
  double length;          // L = scale * in (ONNX's "output width", not rounded)
  double in_minus_1;      // in - 1
  double length_minus_1;  // L - 1
  double offset;          // half_pixel_symmetric: in/2 * (1 - out/L)
  int in;
};

Axis make_axis(int64_t in, int64_t out, double scale) {
  Axis a;
  a.scale = scale;
  a.in = static_cast<int>(in);
  const double in_d = static_cast<double>(in);
  a.length = scale * in_d;
  a.in_minus_1 = in_d - 1;
  a.length_minus_1 = a.length - 1;
  const double adjustment = static_cast<double>(out) / a.length;
  const double center = in_d / 2;
  a.offset = center * (1 - adjustment);
  return a;
}

template <CoordinateMode C>
__device__ __forceinline__ double source_coord(const Axis& a, int x_int) {
  const double x = static_cast<double>(x_int);
  if constexpr (C == CoordinateMode::kHalfPixel) {
    return __dsub_rn(__ddiv_rn(__dadd_rn(x, 0.5), a.scale), 0.5);
  } else if constexpr (C == CoordinateMode::kPytorchHalfPixel) {
    return a.length == 1.0 ? -0.5 : __dsub_rn(__ddiv_rn(__dadd_rn(x, 0.5), a.scale), 0.5);
  } else if constexpr (C == CoordinateMode::kHalfPixelSymmetric) {
    return __dsub_rn(__dadd_rn(a.offset, __ddiv_rn(__dadd_rn(x, 0.5), a.scale)), 0.5);
  } else if constexpr (C == CoordinateMode::kAlignCorners) {
    return a.length == 1.0 ? 0.0 : __ddiv_rn(__dmul_rn(x, a.in_minus_1), a.length_minus_1);
  } else if constexpr (C == CoordinateMode::kAsymmetric) {
    return __ddiv_rn(x, a.scale);
  } else {
    static_assert(C == CoordinateMode::kTfHalfPixelForNN, "unhandled coordinate mode");
    return __ddiv_rn(__dadd_rn(x, 0.5), a.scale);
  }
}

__device__ __forceinline__ int clamp_index(double i, int in) {
  return static_cast<int>(fmin(fmax(i, 0.0), static_cast<double>(in - 1)));
}

// The nearest input index, with the reference's tie rules; a coordinate on a sample is that sample.
template <NearestMode M>
__device__ __forceinline__ int nearest_index(double coord, int in) {
  const double c = fmin(fmax(coord, -1e12), 1e12);  // far-off coordinates read the edge anyway
  const double fl = floor(c);
  double pick = fl;
  if (c != fl) {
    const double ratio = __dsub_rn(c, fl);
    if constexpr (M == NearestMode::kRoundPreferFloor) {
      pick = ratio <= 0.5 ? fl : fl + 1;
    } else if constexpr (M == NearestMode::kRoundPreferCeil) {
      pick = ratio < 0.5 ? fl : fl + 1;
    } else if constexpr (M == NearestMode::kCeil) {
      pick = fl + 1;
    }
  }
  return clamp_index(pick, in);
}

// The two neighbours along one axis and the weight of the second.
struct Lerp {
  int i0, i1;
  float t;
};

__device__ __forceinline__ Lerp linear_taps(double coord, int in) {
  const double c = fmin(fmax(coord, -1e12), 1e12);
  const double fl = floor(c);
  return Lerp{clamp_index(fl, in), clamp_index(fl + 1, in), static_cast<float>(__dsub_rn(c, fl))};
}

template <class T>
struct Params {
  const T* x;
  T* y;
  unsigned total;          // threads
  FastDivmod vecs, ow, oh;  // c / V, out_w, out_h
  int c;
  Axis ah, aw;
};

template <class T, int V, CoordinateMode C, ResizeMode M, NearestMode N>
__global__ void __launch_bounds__(kBlock) resize_kernel(const Params<T> p) {
  using IO = VecIO<T, V>;
  const unsigned idx = blockIdx.x * kBlock + threadIdx.x;
  if (idx >= p.total) return;
  unsigned rest, cv, ow, oh;
  p.vecs.divmod(idx, rest, cv);
  p.ow.divmod(rest, rest, ow);
  p.oh.divmod(rest, rest, oh);
  const unsigned n = rest;
  const int64_t c0 = static_cast<int64_t>(cv) * V;
  const T* image = p.x + static_cast<int64_t>(n) * p.ah.in * p.aw.in * p.c + c0;
  auto pixel = [&](int ih, int iw) { return image + (static_cast<int64_t>(ih) * p.aw.in + iw) * p.c; };
  const double ch = source_coord<C>(p.ah, static_cast<int>(oh));
  const double cw = source_coord<C>(p.aw, static_cast<int>(ow));
  float out[V];
  if constexpr (M == ResizeMode::kNearest) {
    IO::load_ro(pixel(nearest_index<N>(ch, p.ah.in), nearest_index<N>(cw, p.aw.in)), out);
  } else {
    const Lerp lh = linear_taps(ch, p.ah.in), lw = linear_taps(cw, p.aw.in);
    float a[V], b[V], c[V], d[V];
    IO::load_ro(pixel(lh.i0, lw.i0), a);
    IO::load_ro(pixel(lh.i0, lw.i1), b);
    IO::load_ro(pixel(lh.i1, lw.i0), c);
    IO::load_ro(pixel(lh.i1, lw.i1), d);
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const float top = a[v] + lw.t * (b[v] - a[v]);
      const float bottom = c[v] + lw.t * (d[v] - c[v]);
      out[v] = top + lh.t * (bottom - top);
    }
  }
  IO::store(p.y + static_cast<int64_t>(idx) * V, out);
}

unsigned blocks_for(unsigned threads) { return (threads + kBlock - 1) / kBlock; }

template <class T, int V, CoordinateMode C>
Status launch_mode(const Params<T>& p, ResizeMode mode, NearestMode nearest, cudaStream_t stream) {
  const unsigned blocks = blocks_for(p.total);
  if (mode == ResizeMode::kLinear) {
    resize_kernel<T, V, C, ResizeMode::kLinear, NearestMode::kFloor><<<blocks, kBlock, 0, stream>>>(p);
  } else {
    switch (nearest) {
      case NearestMode::kRoundPreferFloor:
        resize_kernel<T, V, C, ResizeMode::kNearest, NearestMode::kRoundPreferFloor><<<blocks, kBlock, 0, stream>>>(p);
        break;
      case NearestMode::kRoundPreferCeil:
        resize_kernel<T, V, C, ResizeMode::kNearest, NearestMode::kRoundPreferCeil><<<blocks, kBlock, 0, stream>>>(p);
        break;
      case NearestMode::kFloor:
        resize_kernel<T, V, C, ResizeMode::kNearest, NearestMode::kFloor><<<blocks, kBlock, 0, stream>>>(p);
        break;
      case NearestMode::kCeil:
        resize_kernel<T, V, C, ResizeMode::kNearest, NearestMode::kCeil><<<blocks, kBlock, 0, stream>>>(p);
        break;
    }
  }
  return launch_status("resize_kernel");
}

template <class T, int V>
Status launch_coord(const Params<T>& p, const ResizeArgs<T>& a, cudaStream_t stream) {
  switch (a.coord) {
    case CoordinateMode::kHalfPixel: return launch_mode<T, V, CoordinateMode::kHalfPixel>(p, a.mode, a.nearest, stream);
    case CoordinateMode::kPytorchHalfPixel:
      return launch_mode<T, V, CoordinateMode::kPytorchHalfPixel>(p, a.mode, a.nearest, stream);
    case CoordinateMode::kHalfPixelSymmetric:
      return launch_mode<T, V, CoordinateMode::kHalfPixelSymmetric>(p, a.mode, a.nearest, stream);
    case CoordinateMode::kAlignCorners: return launch_mode<T, V, CoordinateMode::kAlignCorners>(p, a.mode, a.nearest, stream);
    case CoordinateMode::kAsymmetric: return launch_mode<T, V, CoordinateMode::kAsymmetric>(p, a.mode, a.nearest, stream);
    case CoordinateMode::kTfHalfPixelForNN:
      return launch_mode<T, V, CoordinateMode::kTfHalfPixelForNN>(p, a.mode, a.nearest, stream);
  }
  return error(StatusCode::kInvalidArgument, "resize: unknown coordinate mode");
}

}  // namespace

template <class T>
Status can_implement(const ResizeArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "resize: only FP16 is instantiated so far");
  if (a.mode != ResizeMode::kNearest && a.mode != ResizeMode::kLinear)
    return error(StatusCode::kUnsupported, "resize: mode ", static_cast<int>(a.mode), " (nearest and linear only)");
  if (static_cast<int>(a.coord) < 0 || static_cast<int>(a.coord) > static_cast<int>(CoordinateMode::kTfHalfPixelForNN))
    return error(StatusCode::kUnsupported, "resize: coordinate transformation mode ", static_cast<int>(a.coord));
  if (static_cast<int>(a.nearest) < 0 || static_cast<int>(a.nearest) > static_cast<int>(NearestMode::kCeil))
    return error(StatusCode::kUnsupported, "resize: nearest mode ", static_cast<int>(a.nearest));
  if (a.coord == CoordinateMode::kTfHalfPixelForNN &&
      !(a.mode == ResizeMode::kNearest &&
        (a.nearest == NearestMode::kFloor || a.nearest == NearestMode::kRoundPreferFloor)))
    return error(StatusCode::kUnsupported,
                 "resize: tf_half_pixel_for_nn moves the N and C axes too unless nearest with floor or "
                 "round_prefer_floor (ONNX applies (x + 0.5) / 1 to them)");
  if (a.n <= 0 || a.h <= 0 || a.w <= 0 || a.c <= 0 || a.out_h <= 0 || a.out_w <= 0)
    return error(StatusCode::kInvalidArgument, "resize: N, H, W, C, out_h, out_w must be positive (got ", a.n, ", ", a.h,
                 ", ", a.w, ", ", a.c, ", ", a.out_h, ", ", a.out_w, ")");
  if (!(a.scale_h > 0) || !(a.scale_w > 0) || !std::isfinite(a.scale_h) || !std::isfinite(a.scale_w))
    return error(StatusCode::kInvalidArgument, "resize: scales must be positive and finite (got ", a.scale_h, ", ",
                 a.scale_w, ")");
  constexpr int64_t kLimit = int64_t{1} << 24;
  if (a.h > kLimit || a.w > kLimit || a.c > kLimit || a.out_h > kLimit || a.out_w > kLimit)
    return error(StatusCode::kUnsupported, "resize: dims too large");
  if (a.n * a.out_h * a.out_w * a.c >= int64_t{kFastDivmodLimit} - kBlock)
    return error(StatusCode::kUnsupported, "resize: output too large for one launch (2^31 elements)");
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "resize: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}))
    return error(StatusCode::kInvalidArgument, "resize: pointers must be aligned to their element");
  if (ranges_overlap(a.x, static_cast<size_t>(a.n * a.h * a.w * a.c) * sizeof(T), a.y,
                     static_cast<size_t>(a.n * a.out_h * a.out_w * a.c) * sizeof(T)))
    return error(StatusCode::kInvalidArgument, "resize: y overlaps x");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "resize: max_vector must be 1, 2 or 8");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const ResizeArgs<T>&) {
  return 0;
}

template <class T>
int vector_width(const ResizeArgs<T>& a) {
  return vector_width_for(a.max_vector, a.c, sizeof(T), {a.x, a.y});
}

template <class T>
Status run(const ResizeArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const int v = vector_width(a);
  Params<T> p;
  p.x = a.x;
  p.y = a.y;
  p.total = static_cast<unsigned>(a.n * a.out_h * a.out_w * (a.c / v));
  p.vecs = FastDivmod(static_cast<uint32_t>(a.c / v));
  p.ow = FastDivmod(static_cast<uint32_t>(a.out_w));
  p.oh = FastDivmod(static_cast<uint32_t>(a.out_h));
  p.c = static_cast<int>(a.c);
  p.ah = make_axis(a.h, a.out_h, a.scale_h);
  p.aw = make_axis(a.w, a.out_w, a.scale_w);
  switch (v) {
    case 8: return launch_coord<T, 8>(p, a, stream);
    case 2: return launch_coord<T, 2>(p, a, stream);
    default: return launch_coord<T, 1>(p, a, stream);
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const ResizeArgs<__half>&);
template size_t workspace_bytes<__half>(const ResizeArgs<__half>&);
template int vector_width<__half>(const ResizeArgs<__half>&);
template Status run<__half>(const ResizeArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::resize
