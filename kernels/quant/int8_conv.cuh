// INT8 2-D convolution on NHWC as an implicit GEMM on tensor cores, with the fused INT8 epilogue
// (kernels/quant/int8_epilogue.cuh):
//
//   y[p, g*Cout_g + o] = epilogue(sum_k A_g[p, k] * W[g*Cout_g + o, k])      (one GEMM per group g)
//
// with the geometry of kernels/conv/conv.cuh (ConvShape: any kernel size, stride, dilation,
// asymmetric padding, groups): rows p = (n, oh, ow), k = (kh*KW + kw)*Cin_g + c, A gathered tile by
// tile (kernels/conv/gather_loader.cuh, the FP16 convolution's loader on bytes). Weights are packed
// once on the host (pack_weights) from ONNX's INT8 [Cout][Cin_g][KH][KW] into [Cout][packed_k]
// rows (k order as above, K rounded up to 16 with zeros).
//
// Paths (conv::Path), chosen by shape unless pinned:
//   kGemm            1x1, stride 1, unpadded, groups 1, Cin and ldx multiples of 16, x 16-byte
//                    aligned: the NHWC input is the GEMM's X as it stands (kernels/quant/int8_gemm);
//   kImplicitVector  Cin_g and ldx multiples of 16, x 16-byte aligned: one 16-byte cp.async per
//                    chunk (16 channels of one tap), zero-filled in the padding;
//   kImplicitGeneral any Cin_g (the 3-channel stem, odd channel counts): byte gathers.
// The reduction K = KH*KW*Cin_g must be at most quant::kMaxReduction.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/conv/conv.cuh"
#include "kernels/quant/int8_epilogue.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "quench/status.h"

namespace quench::kernels::int8::conv {

using kernels::conv::ConvShape;
using kernels::conv::Path;

// The implicit paths' tiles: in bytes the FP16 convolution's (kernels/conv/conv.cuh).
enum class Tile : int {
  kAuto = 0,
  k128x128x64,   // 8 warps of 64x32, 4 stages (K step 64 bytes: two A rows per thread)
  k128x64x128,   // 8 warps of 32x32, 3 stages
  k64x64x128,    // 4 warps of 32x32, 4 stages
};

const char* tile_name(Tile t);

// The packed weight row (kernels::conv::gemm_k(s) rounded up to 16) and its size. (Call these
// qualified: kernels::conv declares FP16 functions of the same names for the same argument.)
int64_t packed_k(const ConvShape& s);
int64_t packed_weight_count(const ConvShape& s);

// Host: ONNX INT8 [out_c][c/groups][kernel_h][kernel_w] -> packed [out_c][packed_k(s)].
Status pack_weights(const ConvShape& s, const int8_t* onnx_weight, int8_t* packed);

// Out: int8_t or __half (the CUDA backend runs float layers in FP16, so no FP32 output is compiled;
// docs/decisions.md).
template <class Out>
struct ConvArgs {
  ConvShape shape;
  const int8_t* x = nullptr;      // [n, h, w, ldx]: channels 0..c-1 of each pixel are read
  int64_t ldx = 0;                // 0 means c
  const int8_t* weight = nullptr; // packed, 16-byte aligned
  const Out* residual = nullptr;  // [n*oh*ow, ldr] or null; may alias y
  int64_t ldr = 0;                // 0 means ldy
  Out* y = nullptr;               // [n*oh*ow, ldy]
  int64_t ldy = 0;                // 0 means out_c
  const int32_t* channel_table = nullptr;  // device, table_words(out_c) words, 16-byte aligned
  Epilogue epilogue;              // make_epilogue(spec, out_c, ...)
  Path path = Path::kAuto;        // tests and tactic selection pin these
  Tile tile = Tile::kAuto;
  int split_k = 0;                // 0: by shape, 1: never, else K slices (<= 64)
};

struct ConvPlan {
  Path path = Path::kAuto;
  Tile tile = Tile::kAuto;               // implicit paths
  gemm::Tile gemm_tile = gemm::Tile::kAuto;  // the GEMM path
  int split_k = 1;
};

template <class Out>
Status can_implement(const ConvArgs<Out>& args);
template <class Out>
ConvPlan plan(const ConvArgs<Out>& args, int multiprocessors);
template <class Out>
size_t workspace_bytes(const ConvArgs<Out>& args);
template <class Out>
size_t workspace_bytes(const ConvArgs<Out>& args, int multiprocessors);
template <class Out>
Status initialize_workspace(const ConvArgs<Out>& args, void* workspace, cudaStream_t stream);
template <class Out>
Status run(const ConvArgs<Out>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::int8::conv
