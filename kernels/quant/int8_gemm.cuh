// INT8 tensor-core GEMM with the fused INT8 epilogue (kernels/quant/int8_epilogue.cuh):
//
//   y[M,N] = epilogue(X[M,K] . W[N,K]^T)      dot products exact in INT32
//
// X is row-major INT8 [M, ldx] (NHWC activations viewed as [N*H*W, C]), W is the packed weight
// [N, packed_k(K)] (pack_weights: ONNX Gemm's B in either layout, or Conv weight rows, K rounded
// up to 16 with zeros), y and the residual row-major [M, ldy] / [M, ldr] of the output type Out
// (int8_t or __half: the CUDA backend runs float layers in FP16, so no FP32 output is compiled;
// docs/decisions.md). mma.sync m16n8k32 (s8.s8.s32), ldmatrix from swizzled shared memory,
// a multi-stage cp.async pipeline and serial split K: the FP16 GEMM's pipeline
// (kernels/common/mma_pipeline.cuh) and loader (kernels/gemm/gemm_loader.cuh) on bytes.
//
// Contract (can_implement): M, N >= 1; 1 <= K <= quant::kMaxReduction (longer sums could leave
// INT32); ldx a multiple of 16 and X 16-byte aligned. The kernel reads each X row up to
// packed_k(K) bytes: bytes K .. packed_k(K)-1 may hold anything (they meet W's zero padding), but
// must be readable, which ldx >= packed_k(K) guarantees.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/quant/int8_epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::int8::gemm {

// The compiled tile shapes (block M x N x K bytes, warps, stages): in bytes the FP16 GEMM's
// shapes, so the same shared memory per stage. kAuto picks by problem size.
enum class Tile : int {
  kAuto = 0,
  k128x128x128,  // 8 warps of 64x32, 3 stages
  k128x64x128,   // 8 warps of 32x32, 3 stages
  k64x64x128,    // 4 warps of 32x32, 4 stages
};

const char* tile_name(Tile t);

// K rounded up to 16 bytes: the packed weight's row length.
int64_t packed_k(int64_t k);

// Host: W int8 as [n, k] (w_is_nk: ONNX Gemm with transB = 1, Conv rows) or [k, n] (transB = 0)
// -> packed [n][packed_k(k)], zeros after k. Both buffers in host memory.
Status pack_weights(int64_t n, int64_t k, const int8_t* w, bool w_is_nk, int8_t* packed);

template <class Out>
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const int8_t* x = nullptr;   // [m, ldx], 16-byte aligned
  int64_t ldx = 0;             // 0 means k; a multiple of 16
  const int8_t* w = nullptr;   // packed [n, packed_k(k)], 16-byte aligned
  Out* y = nullptr;            // [m, ldy]
  int64_t ldy = 0;             // 0 means n
  const Out* residual = nullptr;  // [m, ldr] or null; may alias y (read before written, same element)
  int64_t ldr = 0;             // 0 means ldy
  const int32_t* channel_table = nullptr;  // device, table_words(n) words, 16-byte aligned
  Epilogue epilogue;           // make_epilogue(spec, n, ...)
  Tile tile = Tile::kAuto;
  int split_k = 0;             // 0: by shape; 1: never; else K slices (<= 64)
};

struct GemmPlan {
  Tile tile = Tile::kAuto;
  int split_k = 1;
};

// Ok when run() accepts `args`; otherwise says why (kUnsupported for shapes outside the
// contract, kInvalidArgument for malformed arguments).
template <class Out>
Status can_implement(const GemmArgs<Out>& args);

// The tile and K split run() uses on a GPU with `multiprocessors` SMs.
template <class Out>
GemmPlan plan(const GemmArgs<Out>& args, int multiprocessors);

// Workspace as in kernels/gemm/gemm.cuh: 0 unless K is split (INT32 partial tiles and one counter
// per tile), 16-byte aligned, counters zeroed once by initialize_workspace; every run leaves them
// zero again.
template <class Out>
size_t workspace_bytes(const GemmArgs<Out>& args);
template <class Out>
size_t workspace_bytes(const GemmArgs<Out>& args, int multiprocessors);
template <class Out>
Status initialize_workspace(const GemmArgs<Out>& args, void* workspace, cudaStream_t stream);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class Out>
Status run(const GemmArgs<Out>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::int8::gemm
