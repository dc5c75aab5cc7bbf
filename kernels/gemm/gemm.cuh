// Tensor-core GEMM with a fused epilogue:
//
//   C[M,N] = epilogue(A[M,K] . B[N,K]^T)
//
// A is row-major (NHWC activations viewed as [N*H*W, Cin]), B is row-major [N,K] (1x1 conv weights
// [Cout, Cin]), C is row-major [M,N]. FP16 storage, FP32 accumulation (mma.sync m16n8k16, ldmatrix
// from swizzled shared memory, a multi-stage cp.async pipeline). M and N may be anything >= 1; K must
// be a multiple of 8 (one 16-byte vector), and so must lda and ldb.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::gemm {

// The compiled tile shapes (block M x N x K, warps, pipeline stages); kAuto picks by problem size.
enum class Tile : int {
  kAuto = 0,
  k128x128x64,  // 8 warps of 64x32, 3 stages: large M*N
  k128x64x64,   // 8 warps of 32x32, 3 stages: large M, small N
  k64x64x64,    // 4 warps of 32x32, 4 stages: small problems, more blocks
};

const char* tile_name(Tile t);

template <class T>
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const T* a = nullptr;        // [m, lda], 16-byte aligned
  const T* b = nullptr;        // [n, ldb], 16-byte aligned
  T* c = nullptr;              // [m, ldc]
  int64_t lda = 0, ldb = 0, ldc = 0;  // row strides in elements; 0 means dense (k, k, n)
  const float* bias = nullptr;  // [n] or null
  const T* residual = nullptr;  // [m, ldr] or null; may alias c (read before write, same element)
  int64_t ldr = 0;              // 0 means ldc
  EpilogueParams epilogue;
  Tile tile = Tile::kAuto;
  // K split across this many blocks per output tile (serial reduction in the workspace, the last
  // block of a tile applies the epilogue). 0: chosen by problem size (split only when the tiles
  // alone cannot fill the GPU and K is long); 1: never.
  int split_k = 0;
};

// What run() launches for given arguments on a GPU with `multiprocessors` SMs.
struct GemmPlan {
  Tile tile = Tile::kAuto;
  int split_k = 1;
};

// Ok when run() will accept `args`; otherwise says why (kUnsupported for shapes outside the
// kernel's contract, kInvalidArgument for malformed arguments).
template <class T>
Status can_implement(const GemmArgs<T>& args);

// The tile and K split run() uses for `args` on a GPU with `multiprocessors` SMs.
template <class T>
GemmPlan plan(const GemmArgs<T>& args, int multiprocessors);

// Device workspace run() needs on the current device, in bytes: 0 unless the plan splits K
// (then FP32 partial tiles and one counter per tile). 16-byte alignment required. The counters
// must be zero before the first run (initialize_workspace); every run leaves them zero again, so
// a workspace initialized once serves any number of runs of the same plan, one at a time.
template <class T>
size_t workspace_bytes(const GemmArgs<T>& args);
template <class T>
size_t workspace_bytes(const GemmArgs<T>& args, int multiprocessors);

// Zeroes the split-K counters of `workspace` (workspace_bytes(args) bytes) on `stream`; once,
// before the first run() with it (no-op when the plan does not split K).
template <class T>
Status initialize_workspace(const GemmArgs<T>& args, void* workspace, cudaStream_t stream);

// Launches on `stream`; checks the arguments and the launch; does not synchronize. `workspace`
// must hold workspace_bytes(args) initialized bytes (may be null when that is 0).
template <class T>
Status run(const GemmArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::gemm
