// 2-D convolution on NHWC as an implicit GEMM on tensor cores, with the fused epilogue:
//
//   y[p, g*Cout_g + o] = epilogue(sum_k A_g[p, k] * W[g*Cout_g + o, k])      (one GEMM per group g)
//
// rows p = (n, oh, ow) (M = N*OH*OW), columns o < Cout_g = Cout/groups (N), and
// k = (kh*KW + kw)*Cin_g + c (K = KH*KW*Cin_g), where A_g[p, k] is the input pixel
// x[n, oh*sh - pad_top + kh*dh, ow*sw - pad_left + kw*dw, g*Cin_g + c], zero in the padding. A is
// never materialized: the kernel gathers it tile by tile (im2col on the fly).
//
// Weights are pre-transformed once on the host (pack_weights) from ONNX's [Cout][Cin_g][KH][KW]
// into [Cout][KH][KW][Cin_g] FP16 rows of packed_k(shape) elements (K rounded up to 8, zero tail),
// so that a weight row is the GEMM's B row, 16-byte aligned.
//
// Three paths (Path), chosen by shape unless pinned:
//   kGemm            1x1, stride 1, no padding, groups 1, Cin % 8 == 0: the NHWC input is the GEMM's
//                    A [N*H*W, Cin] as it stands, so this runs kernels/gemm unchanged;
//   kImplicitVector  Cin_g % 8 == 0 (and 16-byte aligned pixels): each 16-byte chunk of a K tile is
//                    8 channels of one tap, gathered by cp.async, zero-filled in the padding;
//   kImplicitGeneral any Cin_g (the 3-channel stem, odd channel counts): element-wise gathers
//                    stored to shared memory; the math is the same.
// FP16 storage, FP32 accumulation (mma.sync m16n8k16). Any kernel size, stride, dilation,
// asymmetric padding and group count; bias (FP32, [Cout]), activation and residual as in
// kernels/common/epilogue.cuh.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"
#include "kernels/gemm/gemm.cuh"
#include "quench/status.h"

namespace quench::kernels::conv {

// The compiled tile shapes of the implicit paths (block M x N x K step); kAuto picks by problem
// size. The GEMM path pins the GEMM tile of the same block shape (gemm::Tile).
enum class Tile : int {
  kAuto = 0,
  k128x128x32,  // 8 warps of 64x32, 4 stages (K step 32 keeps the gather's registers under 128)
  k128x64x64,   // 8 warps of 32x32, 3 stages
  k64x64x64,    // 4 warps of 32x32, 4 stages
};

const char* tile_name(Tile t);

// Block rows (M) x columns (N) x K step, and threads, of an implicit-path tile (kAuto: 64x64x64).
struct TileShape {
  int bm, bn, bk, threads;
};
TileShape tile_shape(Tile t);

enum class Path : int { kAuto = 0, kGemm, kImplicitVector, kImplicitGeneral };

const char* path_name(Path p);

struct ConvShape {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input, NHWC
  int64_t out_c = 0;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int groups = 1;
};

// Output size by the ONNX formula; <= 0 when the padded input is smaller than the dilated kernel.
int64_t out_h(const ConvShape& s);
int64_t out_w(const ConvShape& s);
// K of one group's GEMM (KH*KW*Cin/groups), and the packed weight row length (K rounded up to 8).
int64_t gemm_k(const ConvShape& s);
int64_t packed_k(const ConvShape& s);
// Elements of the packed weight: out_c * packed_k.
int64_t packed_weight_count(const ConvShape& s);

// Ok when `s` is a convolution this family runs (positive sizes, divisible groups, an output of at
// least one pixel, sizes within the kernels' 32-bit indexing); otherwise says why.
Status check_shape(const ConvShape& s);

// Host-side weight transform: ONNX [out_c][c/groups][kernel_h][kernel_w] FP32 -> packed
// [out_c][packed_k] of T (k = (kh*KW + kw)*Cin_g + ci, zeros after K). Both buffers in host memory,
// `packed` of packed_weight_count(s) elements.
template <class T>
Status pack_weights(const ConvShape& s, const float* onnx_weight, T* packed);

template <class T>
struct ConvArgs {
  ConvShape shape;
  const T* x = nullptr;          // [n, h, w, ldx]: channels 0..c-1 of each pixel are read
  int64_t ldx = 0;               // elements from one pixel to the next; 0 means c
  const T* weight = nullptr;     // packed (pack_weights), 16-byte aligned
  const float* bias = nullptr;   // [out_c] or null
  const T* residual = nullptr;   // [n*oh*ow, ldr] or null; may alias y (read before write)
  int64_t ldr = 0;               // 0 means ldy
  T* y = nullptr;                // [n*oh*ow, ldy]: channels 0..out_c-1 of each pixel are written
  int64_t ldy = 0;               // 0 means out_c
  EpilogueParams epilogue;
  Path path = Path::kAuto;       // tests and tactic selection pin these
  Tile tile = Tile::kAuto;
  int split_k = 0;               // as in gemm::GemmArgs: 0 chosen by shape, 1 never, else slices
};

// What run() launches for given arguments on a GPU with `multiprocessors` SMs.
struct ConvPlan {
  Path path = Path::kAuto;
  Tile tile = Tile::kAuto;            // implicit paths
  gemm::Tile gemm_tile = gemm::Tile::kAuto;  // the GEMM path
  int split_k = 1;
};

// Ok when run() will accept `args`; otherwise says why (kShapeError for an empty output,
// kUnsupported for shapes or pinned paths outside the kernels' contract, kInvalidArgument for
// malformed arguments).
template <class T>
Status can_implement(const ConvArgs<T>& args);

// Path, tile and K split run() uses for `args` on a GPU with `multiprocessors` SMs. The path
// depends on the pointers' alignment as well as the shape.
template <class T>
ConvPlan plan(const ConvArgs<T>& args, int multiprocessors);

// Device workspace run() needs (0 unless the plan splits K), 16-byte aligned; its counters must be
// zeroed once by initialize_workspace before the first run, and every run leaves them zero.
template <class T>
size_t workspace_bytes(const ConvArgs<T>& args);
template <class T>
size_t workspace_bytes(const ConvArgs<T>& args, int multiprocessors);
template <class T>
Status initialize_workspace(const ConvArgs<T>& args, void* workspace, cudaStream_t stream);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const ConvArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::conv
