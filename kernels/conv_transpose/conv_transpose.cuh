// 2-D transposed convolution (ONNX ConvTranspose) on NHWC, FP16 storage, FP32 accumulation, with
// the fused epilogue (bias, activation; no residual):
//
//   y[n, oh, ow, m] = epilogue(sum over (kh, kw, c) with  ih * s_h - pad_top  + kh * d_h == oh,
//                                                        iw * s_w - pad_left + kw * d_w == ow
//                              of x[n, ih, iw, c] * w[c, m % M_g, kh, kw])       c in m's group
//
// (M_g = out_c / groups; c runs over the Cin / groups input channels of output channel m's group.)
// This is a direct *gather*: each thread owns output pixels and sums the input taps that land on
// them, so no two threads write one output and no atomics are needed. It is NOT a tensor-core
// kernel (v1): FP32 FMAs on CUDA cores. The 2x2 stride-2 upsampling of PP-OCR's detection head has
// exactly one tap per output pixel and is bound by memory, where this is adequate.
//
// Weights are transformed once on the host (pack_weights) from ONNX's [Cin][M_g][KH][KW] into
// [KH][KW][Cin][M_g], so that one tap's weights for consecutive output channels are contiguous.
// The caller gives the output size (ONNX's rules for output_padding, output_shape and auto_pad
// live in ops/); pad_top / pad_left are the begin pads and may be negative (an output_shape larger
// than the full output). Output pixels no tap reaches get the bias (then the activation).
//
// Vectorized along output channels: 8 per thread (16-byte weight loads and output stores) when
// M_g % 8 == 0, else 2 when M_g is even, else 1; and along input channels: 8 (one 16-byte input
// load) when Cin / groups % 8 == 0, else 2, else 1.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::conv_transpose {

struct ConvTransposeShape {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input, NHWC
  int64_t out_c = 0;
  int64_t out_h = 0, out_w = 0;        // output spatial size, chosen by the caller
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;       // begin pads; may be negative
  int groups = 1;
};

// ONNX's output size for explicit pads and output_padding: s*(in-1) + output_padding +
// d*(k-1) + 1 - pad_begin - pad_end (per axis), for callers and tests.
int64_t onnx_out_size(int64_t in, int kernel, int stride, int dilation, int pad_begin, int pad_end, int output_padding);

// Ok when `s` is a transposed convolution this family runs (positive sizes, divisible groups,
// sizes within the kernel's 32-bit indexing); otherwise says why.
Status check_shape(const ConvTransposeShape& s);

// Elements of the packed weight: KH * KW * Cin * M_g.
int64_t packed_weight_count(const ConvTransposeShape& s);

// Host-side weight transform: ONNX [c][out_c/groups][kernel_h][kernel_w] FP32 -> packed
// [kernel_h][kernel_w][c][out_c/groups] of T. Both buffers in host memory, `packed` of
// packed_weight_count(s) elements.
template <class T>
Status pack_weights(const ConvTransposeShape& s, const float* onnx_weight, T* packed);

template <class T>
struct ConvTransposeArgs {
  ConvTransposeShape shape;
  const T* x = nullptr;         // [n, h, w, c]
  const T* weight = nullptr;    // packed (pack_weights)
  const float* bias = nullptr;  // [out_c] or null
  T* y = nullptr;               // [n, out_h, out_w, out_c]
  EpilogueParams epilogue;      // residual_after_activation is ignored (no residual)
  int max_vector = 8;           // caps both vector widths (8, 2 or 1); tests use it
};

template <class T>
Status can_implement(const ConvTransposeArgs<T>& args);

template <class T>
size_t workspace_bytes(const ConvTransposeArgs<T>& args);

// The output- and input-channel vector widths run() will use (8, 2 or 1 each).
template <class T>
int out_vector_width(const ConvTransposeArgs<T>& args);
template <class T>
int in_vector_width(const ConvTransposeArgs<T>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const ConvTransposeArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::conv_transpose
