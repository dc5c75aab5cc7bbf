// Reductions over any set of axes of a dense tensor: sum, mean, max, min. FP16 storage, FP32
// accumulation, one rounding at the store.
//
//   y[kept index] = reduce over the reduced axes of x
//
// x is described in memory order (`dims`, row-major, dense) with a bit per reduced dim; y holds
// the kept dims in the same order, dense (keepdims only changes the logical shape, not the
// bytes). The launcher drops size-1 dims and merges neighbouring dims that are both kept or both
// reduced, so e.g. ONNX's LayerNorm mean over the last axis of [N, T, C] runs as [N*T, C] rows.
//
// Two kernels, chosen by the innermost merged dim:
//   rows     the innermost dim is reduced: one warp per output, the lanes stride over the reduced
//            elements (contiguous reads along the innermost dim), then a shuffle reduction;
//   columns  the innermost dim is kept: one thread per output, each summing its reduced elements
//            serially; neighbouring threads read neighbouring addresses.
// Both are plain (v1): a reduction of very many elements into very few outputs gets few threads.
//
// Over no elements (a reduced dim of size 0): sum 0, mean NaN (0/0), max -inf, min +inf, as the
// CPU reference. Max and min propagate NaN.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::reduce {

enum class ReduceKind : int { kSum = 0, kMean, kMax, kMin };
const char* reduce_kind_name(ReduceKind k);

inline constexpr int kMaxDims = 8;

template <class T>
struct ReduceArgs {
  ReduceKind kind = ReduceKind::kSum;
  int rank = 0;                  // dims of x, in memory order
  int64_t dims[kMaxDims] = {};
  uint32_t reduced = 0;          // bit d set: dim d is reduced
  const T* x = nullptr;
  T* y = nullptr;                // the kept dims of x, dense
};

// Elements of y: the product of the kept dims (1 when every dim is reduced).
template <class T>
int64_t output_count(const ReduceArgs<T>& args);

template <class T>
Status can_implement(const ReduceArgs<T>& args);

template <class T>
size_t workspace_bytes(const ReduceArgs<T>& args);

// Whether run() uses the row kernel (the innermost merged dim is reduced) or the column kernel.
template <class T>
bool uses_rows(const ReduceArgs<T>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize. An empty
// output launches nothing.
template <class T>
Status run(const ReduceArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::reduce
