// Transposed convolution on NHWC as a direct gather, see conv_transpose.cuh.
//
// One thread computes VO consecutive output channels of one output pixel; consecutive threads
// take consecutive channel vectors of the same pixel, so the packed weights of a tap are read
// contiguously by a warp and the output is stored contiguously. For each of the KH x KW taps the
// thread finds the input pixel that lands on its output (ih = (oh + pad_top - kh*d_h) / s_h when
// that divides exactly and falls inside the input), then runs over its group's input channels
// VI at a time: one VI-wide input load (the same address for every thread of the pixel, a
// broadcast) and VI VO-wide weight loads (from L1/L2: the packed weights are small).
// Divisions by the strides use FastDivmod (an integer division is a subroutine call).
//
// Not tensor-core: every FMA is an FP32 FMA on CUDA cores (v1). For the 2x2 stride-2 upsampling
// this is one tap per output and the kernel is bound by one read of x and one write of y.
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/conv_transpose/conv_transpose.cuh"

namespace quench::kernels::conv_transpose {
namespace {

constexpr int kBlock = 256;
// 32-bit index arithmetic in the kernel: dims, pads and the kernel's reach stay far below 2^31.
constexpr int64_t kDimLimit = int64_t{1} << 24;
constexpr int kSmallLimit = 4096;

template <class T>
struct Params {
  const T* x;
  const T* weight;
  const float* bias;
  T* y;
  unsigned total;               // threads: n * out_h * out_w * (out_c / VO)
  FastDivmod vecs, ow, oh;      // out_c / VO, out_w, out_h
  FastDivmod mg;                // output channels per group
  FastDivmod sh, sw;            // strides
  int h, w, c, cg, out_c;       // input dims, input channels per group, output channels
  int taps, dh, dw;             // taps: kh * kw
  FastDivmod kwd;               // kernel_w
  int pad_top, pad_left;
  int tap_stride;               // elements from one tap's packed weights to the next: c * M_g
  EpilogueParams epi;
};

template <class T, int VO, int VI>
__global__ void __launch_bounds__(kBlock) conv_transpose_kernel(const Params<T> p) {
  const unsigned idx = blockIdx.x * kBlock + threadIdx.x;
  if (idx >= p.total) return;
  unsigned rest, mv, ow, oh;
  p.vecs.divmod(idx, rest, mv);
  p.ow.divmod(rest, rest, ow);
  p.oh.divmod(rest, rest, oh);
  const unsigned n = rest;
  const unsigned m0 = mv * VO;
  unsigned group, m_local;
  p.mg.divmod(m0, group, m_local);
  const int mg = static_cast<int>(p.mg.divisor);
  const int c_begin = static_cast<int>(group) * p.cg;

  const T* image = p.x + static_cast<int64_t>(n) * p.h * p.w * p.c + c_begin;
  // Packed weight [tap][c][m_local]: this thread's column of its group's channels.
  const T* wcol = p.weight + static_cast<int64_t>(c_begin) * mg + m_local;

  float acc[VO];
#pragma unroll
  for (int v = 0; v < VO; ++v) acc[v] = 0.0f;

  const int th = static_cast<int>(oh) + p.pad_top, tw = static_cast<int>(ow) + p.pad_left;
  for (int t = 0; t < p.taps; ++t) {
    unsigned i, j;
    p.kwd.divmod(static_cast<unsigned>(t), i, j);
    const int num_h = th - static_cast<int>(i) * p.dh, num_w = tw - static_cast<int>(j) * p.dw;
    if (num_h < 0 || num_w < 0) continue;
    unsigned ih, rh, iw, rw;
    p.sh.divmod(static_cast<unsigned>(num_h), ih, rh);
    p.sw.divmod(static_cast<unsigned>(num_w), iw, rw);
    if (rh != 0 || rw != 0 || ih >= static_cast<unsigned>(p.h) || iw >= static_cast<unsigned>(p.w)) continue;
    const T* px = image + (static_cast<int64_t>(ih) * p.w + iw) * p.c;
    const T* pw = wcol + static_cast<int64_t>(t) * p.tap_stride;
    // Not unrolled: ptxas spills the unrolled forms (the VI loads inside already give ILP).
#pragma unroll 1
    for (int c = 0; c < p.cg; c += VI) {
      float xv[VI];
      VecIO<T, VI>::load_ro(px + c, xv);
#pragma unroll
      for (int k = 0; k < VI; ++k) {
        float wv[VO];
        VecIO<T, VO>::load_ro(pw + static_cast<int64_t>(c + k) * mg, wv);
#pragma unroll
        for (int v = 0; v < VO; ++v) acc[v] = fmaf(xv[k], wv[v], acc[v]);
      }
    }
  }

  if (p.bias) {
#pragma unroll
    for (int v = 0; v < VO; ++v) acc[v] += __ldg(p.bias + m0 + v);
  }
  with_activation(p.epi.activation, [&](auto act) {
    constexpr Activation A = decltype(act)::value;
#pragma unroll
    for (int v = 0; v < VO; ++v) acc[v] = activate<A>(acc[v], p.epi);
  });
  const int64_t out = ((static_cast<int64_t>(n) * p.oh.divisor + oh) * p.ow.divisor + ow) * p.out_c + m0;
  VecIO<T, VO>::store(p.y + out, acc);
}

template <class T, int VO>
Status launch_vo(const Params<T>& p, int vi, cudaStream_t stream) {
  const unsigned blocks = (p.total + kBlock - 1) / kBlock;
  switch (vi) {
    case 8: conv_transpose_kernel<T, VO, 8><<<blocks, kBlock, 0, stream>>>(p); break;
    case 2: conv_transpose_kernel<T, VO, 2><<<blocks, kBlock, 0, stream>>>(p); break;
    default: conv_transpose_kernel<T, VO, 1><<<blocks, kBlock, 0, stream>>>(p); break;
  }
  return launch_status("conv_transpose_kernel");
}

// 8 or 2 when `count` divides by it and every pointer is aligned for it (and max allows); else 1.
int width_for(int max_vector, int64_t count, std::initializer_list<const void*> ptrs) {
  return vector_width_for(max_vector, count, sizeof(__half), ptrs);
}

}  // namespace

int64_t onnx_out_size(int64_t in, int kernel, int stride, int dilation, int pad_begin, int pad_end, int output_padding) {
  return static_cast<int64_t>(stride) * (in - 1) + output_padding + static_cast<int64_t>(dilation) * (kernel - 1) + 1 -
         pad_begin - pad_end;
}

Status check_shape(const ConvTransposeShape& s) {
  if (s.n <= 0 || s.h <= 0 || s.w <= 0 || s.c <= 0 || s.out_c <= 0 || s.out_h <= 0 || s.out_w <= 0)
    return error(StatusCode::kInvalidArgument, "conv_transpose: N, H, W, C, out_c, out_h, out_w must be positive (got ",
                 s.n, ", ", s.h, ", ", s.w, ", ", s.c, ", ", s.out_c, ", ", s.out_h, ", ", s.out_w, ")");
  if (s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.dilation_h <= 0 || s.dilation_w <= 0)
    return error(StatusCode::kInvalidArgument, "conv_transpose: kernel, stride and dilation must be positive");
  if (s.groups <= 0 || s.c % s.groups != 0 || s.out_c % s.groups != 0)
    return error(StatusCode::kInvalidArgument, "conv_transpose: groups ", s.groups, " must divide C ", s.c, " and out_c ",
                 s.out_c);
  if (s.h > kDimLimit || s.w > kDimLimit || s.c > kDimLimit || s.out_c > kDimLimit || s.out_h > kDimLimit ||
      s.out_w > kDimLimit || s.kernel_h > kSmallLimit || s.kernel_w > kSmallLimit || s.stride_h > kSmallLimit ||
      s.stride_w > kSmallLimit || s.dilation_h > kSmallLimit || s.dilation_w > kSmallLimit ||
      s.pad_top > kDimLimit || s.pad_top < -kDimLimit || s.pad_left > kDimLimit || s.pad_left < -kDimLimit)
    return error(StatusCode::kUnsupported, "conv_transpose: dims, kernel, stride, dilation or pads too large");
  if (s.n * s.out_h * s.out_w * s.out_c >= int64_t{kFastDivmodLimit} - kBlock ||
      s.n * s.h * s.w * s.c >= int64_t{kFastDivmodLimit} ||
      int64_t{s.kernel_h} * s.kernel_w * s.c * (s.out_c / s.groups) >= int64_t{kFastDivmodLimit})
    return error(StatusCode::kUnsupported, "conv_transpose: input, output or weight too large for one launch (2^31 elements)");
  return Status::ok_status();
}

int64_t packed_weight_count(const ConvTransposeShape& s) {
  if (s.groups <= 0) return 0;
  return int64_t{s.kernel_h} * s.kernel_w * s.c * (s.out_c / s.groups);
}

template <class T>
Status pack_weights(const ConvTransposeShape& s, const float* onnx_weight, T* packed) {
  QUENCH_TRY(check_shape(s));
  if (!onnx_weight || !packed) return error(StatusCode::kInvalidArgument, "conv_transpose: pack_weights needs both buffers");
  const int64_t mg = s.out_c / s.groups, kk = int64_t{s.kernel_h} * s.kernel_w;
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t m = 0; m < mg; ++m)
      for (int64_t k = 0; k < kk; ++k) {
        const float v = onnx_weight[(c * mg + m) * kk + k];
        if constexpr (std::is_same_v<T, __half>) {
          packed[(k * s.c + c) * mg + m] = __float2half_rn(v);
        } else {
          packed[(k * s.c + c) * mg + m] = static_cast<T>(v);
        }
      }
  return Status::ok_status();
}

template <class T>
Status can_implement(const ConvTransposeArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "conv_transpose: only FP16 is instantiated so far");
  QUENCH_TRY(check_shape(a.shape));
  if (!epilogue_params_valid(a.epilogue)) return error(StatusCode::kInvalidArgument, "conv_transpose: bad epilogue parameters");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "conv_transpose: max_vector must be 1, 2 or 8");
  if (!a.x || !a.weight || !a.y) return error(StatusCode::kInvalidArgument, "conv_transpose: x, weight and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.weight, a.y}) || !all_aligned(sizeof(float), {a.bias}))
    return error(StatusCode::kInvalidArgument, "conv_transpose: pointers must be aligned to their element");
  const ConvTransposeShape& s = a.shape;
  const size_t y_bytes = static_cast<size_t>(s.n * s.out_h * s.out_w * s.out_c) * sizeof(T);
  if (ranges_overlap(a.x, static_cast<size_t>(s.n * s.h * s.w * s.c) * sizeof(T), a.y, y_bytes) ||
      ranges_overlap(a.weight, static_cast<size_t>(packed_weight_count(s)) * sizeof(T), a.y, y_bytes) ||
      (a.bias && ranges_overlap(a.bias, static_cast<size_t>(s.out_c) * sizeof(float), a.y, y_bytes)))
    return error(StatusCode::kInvalidArgument, "conv_transpose: y overlaps an operand");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const ConvTransposeArgs<T>&) {
  return 0;
}

template <class T>
int out_vector_width(const ConvTransposeArgs<T>& a) {
  // VO channels of a thread share one group: M_g divides by VO (so out_c does too).
  return width_for(a.max_vector, a.shape.groups > 0 ? a.shape.out_c / a.shape.groups : 1, {a.weight, a.y});
}

template <class T>
int in_vector_width(const ConvTransposeArgs<T>& a) {
  // A pixel's group slice starts at g * Cin_g: Cin_g divides by VI (so C does too).
  return width_for(a.max_vector, a.shape.groups > 0 ? a.shape.c / a.shape.groups : 1, {a.x});
}

template <class T>
Status run(const ConvTransposeArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const ConvTransposeShape& s = a.shape;
  const int vo = out_vector_width(a), vi = in_vector_width(a);
  Params<T> p;
  p.x = a.x;
  p.weight = a.weight;
  p.bias = a.bias;
  p.y = a.y;
  p.total = static_cast<unsigned>(s.n * s.out_h * s.out_w * (s.out_c / vo));
  p.vecs = FastDivmod(static_cast<uint32_t>(s.out_c / vo));
  p.ow = FastDivmod(static_cast<uint32_t>(s.out_w));
  p.oh = FastDivmod(static_cast<uint32_t>(s.out_h));
  p.mg = FastDivmod(static_cast<uint32_t>(s.out_c / s.groups));
  p.sh = FastDivmod(static_cast<uint32_t>(s.stride_h));
  p.sw = FastDivmod(static_cast<uint32_t>(s.stride_w));
  p.h = static_cast<int>(s.h);
  p.w = static_cast<int>(s.w);
  p.c = static_cast<int>(s.c);
  p.cg = static_cast<int>(s.c / s.groups);
  p.out_c = static_cast<int>(s.out_c);
  p.taps = s.kernel_h * s.kernel_w;
  p.kwd = FastDivmod(static_cast<uint32_t>(s.kernel_w));
  p.dh = s.dilation_h;
  p.dw = s.dilation_w;
  p.pad_top = s.pad_top;
  p.pad_left = s.pad_left;
  p.tap_stride = static_cast<int>(s.c * (s.out_c / s.groups));
  p.epi = a.epilogue;
  switch (vo) {
    case 8: return launch_vo<T, 8>(p, vi, stream);
    case 2: return launch_vo<T, 2>(p, vi, stream);
    default: return launch_vo<T, 1>(p, vi, stream);
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status pack_weights<__half>(const ConvTransposeShape&, const float*, __half*);
template Status can_implement<__half>(const ConvTransposeArgs<__half>&);
template size_t workspace_bytes<__half>(const ConvTransposeArgs<__half>&);
template int out_vector_width<__half>(const ConvTransposeArgs<__half>&);
template int in_vector_width<__half>(const ConvTransposeArgs<__half>&);
template Status run<__half>(const ConvTransposeArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::conv_transpose
