// Transpose: a permutation of up to 6 dims, y dim i = x dim perm[i] (ONNX's Transpose), e.g. NCHW
// -> NHWC is perm {0, 2, 3, 1}. Elements are only moved, so the kernels serve FP16 and FP32.
//
// The launcher drops size-1 dims and merges dims that stay neighbours in the same order, then
//   - copies (cudaMemcpyAsync) when nothing moves,
//   - when the innermost dim stays innermost: copies rows, 16 bytes per thread when the row
//     length and pointers allow,
//   - otherwise: 32x32 tiles through shared memory between the input's innermost dim and the
//     dim that becomes innermost, so both the reads and the writes are coalesced; the other dims
//     are a batch (the NCHW <-> NHWC case is [N, C, HW] <-> [N, HW, C]).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::transpose {

inline constexpr int kMaxDims = 6;

// kAuto picks as described above; tests pin kGather (element gather, any permutation) to check
// it against the others.
enum class TransposePath : int { kAuto = 0, kCopy, kRows, kTiled, kGather };

template <class T>
struct TransposeArgs {
  int rank = 0;  // 1..kMaxDims
  int64_t dims[kMaxDims] = {};  // input, outermost first
  int perm[kMaxDims] = {};      // output dim i is input dim perm[i]
  const T* x = nullptr;
  T* y = nullptr;  // must not overlap x
  int max_vector = 8;  // caps elements per access on the rows path (at most 16 bytes)
  TransposePath path = TransposePath::kAuto;
};

template <class T>
Status can_implement(const TransposeArgs<T>& args);

template <class T>
size_t workspace_bytes(const TransposeArgs<T>& args);

// The path run() takes (kAuto resolved), and the merged rank it runs on.
template <class T>
TransposePath chosen_path(const TransposeArgs<T>& args);
template <class T>
int merged_rank(const TransposeArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize. An empty tensor
// launches nothing.
template <class T>
Status run(const TransposeArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::transpose
