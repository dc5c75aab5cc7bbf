// Depthwise-separable convolution in one kernel: a depthwise KxK convolution (+ bias, activation)
// followed by a pointwise 1x1 convolution (+ bias, activation, residual), with the depthwise output
// kept on chip:
//
//   d[m, k] = fp16( act_dw( sum_{i,j} x[n, oh*s - pad_top + i, ow*s - pad_left + j, k] * w_dw[i, j, k]
//                           + b_dw[k] ) )
//   y[m, o] = epilogue_pw( sum_k d[m, k] * w_pw[o, k] + b_pw[o] (+ residual[m, o]) )
//
// m = (n, oh, ow) over the N*OH*OW output pixels, k over the C channels, o over Cout. NHWC float16
// storage, FP32 accumulation. The depthwise value d is rounded to float16 before the pointwise
// product, exactly where the unfused sequence (kernels/depthwise, then the 1x1 GEMM) stores its
// intermediate tensor: the depthwise sums are formed in the same order as kernels/depthwise forms
// them, so d is bit for bit that tensor, and the fused result equals the unfused one up to the
// pointwise accumulation order.
//
// The kernel is the GEMM's tensor-core main loop (kernels/common/mma_pipeline.cuh) with a new A
// operand producer: for each K tile (64 channels) the block computes the depthwise outputs of its
// BM pixels x 64 channels straight into the A shared-memory tile, while the pointwise weight (B,
// [Cout, C] as kernels/conv packs a 1x1 convolution, which is the GEMM's B) streams in by cp.async.
//
// Contract (can_implement): C % 8 == 0; square 3x3 or 5x5 depthwise kernel, stride 1 or 2 along
// both axes, no dilation, any non-negative padding; x, the two weights and y 16-byte aligned
// (residual too when present); x not aliasing y. Other forms run as the two stages.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::dw_pw {

// The compiled tile shapes (block pixels x output channels x channels per K tile); kAuto picks by
// problem size.
enum class Tile : int {
  kAuto = 0,
  k64x64x64,    // 4 warps of 32x32, 4 stages: small problems, Cout <= 64
  k64x128x64,   // 4 warps of 32x64, 3 stages: Cout > 64 (each depthwise value computed once per 128 columns)
};

const char* tile_name(Tile t);

template <class T>
struct DwPwArgs {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input shape (NHWC)
  int64_t out_c = 0;                   // pointwise output channels
  int kernel = 3;                      // depthwise KH = KW: 3 or 5
  int stride = 1;                      // 1 or 2 (both axes)
  int dilation = 1;                    // only 1
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  const T* x = nullptr;                // [n, h, w, c]
  const T* dw_weight = nullptr;        // [kernel, kernel, c] (kernels/depthwise's layout)
  const float* dw_bias = nullptr;      // [c] or null
  EpilogueParams dw_epilogue;          // the depthwise activation (its residual fields unused)
  const T* pw_weight = nullptr;        // [out_c, ldw]: conv::pack_weights of the 1x1 conv (gemm's B)
  int64_t ldw = 0;                     // row stride of pw_weight in elements; 0 means c
  const float* pw_bias = nullptr;      // [out_c] or null
  const T* residual = nullptr;         // [n, out_h, out_w, out_c] or null; may alias y
  T* y = nullptr;                      // [n, out_h, out_w, out_c]
  EpilogueParams epilogue;             // the pointwise epilogue (activation, residual placement)
  Tile tile = Tile::kAuto;
};

template <class T>
int64_t out_h(const DwPwArgs<T>& a) {
  return (a.h + a.pad_top + a.pad_bottom - a.kernel) / a.stride + 1;
}
template <class T>
int64_t out_w(const DwPwArgs<T>& a) {
  return (a.w + a.pad_left + a.pad_right - a.kernel) / a.stride + 1;
}

// Ok when run() will accept `args`; otherwise says why (kUnsupported for forms outside the
// kernel's contract, so that callers run the two stages instead; kInvalidArgument for malformed
// arguments; kShapeError for an empty output).
template <class T>
Status can_implement(const DwPwArgs<T>& args);

// The tile run() uses for `args` on a GPU with `multiprocessors` SMs.
template <class T>
Tile plan(const DwPwArgs<T>& args, int multiprocessors);

// Always 0: no split K, the intermediate never leaves the chip.
template <class T>
size_t workspace_bytes(const DwPwArgs<T>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const DwPwArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::dw_pw
