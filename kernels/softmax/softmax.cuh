// Softmax and log-softmax over the last axis of a [rows, cols] tensor (any layout whose softmax
// axis is innermost; ONNX's pre-13 "coerce to 2-D" form is exactly this view). FP16 storage, FP32
// math, numerically stable (the row maximum is subtracted before exp):
//
//   softmax:      y = exp(x - max) / sum(exp(x - max))
//   log-softmax:  y = x - max - log(sum(exp(x - max)))
//
// Rows of up to kWarpMaxCols elements are handled by one warp each, held in registers (one read,
// one write); longer rows by one block each, in two passes over the row (an online max/sum pass,
// then the output pass). Vectorized 8 (16 bytes) or 2 (half2) elements per access when cols and
// the pointers allow. y may alias x.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::softmax {

enum class SoftmaxKind : int { kSoftmax = 0, kLogSoftmax };

// kAuto: the warp path when cols <= kWarpMaxCols, else the block path; tests pin each.
enum class SoftmaxPath : int { kAuto = 0, kWarp, kBlock };

inline constexpr int64_t kWarpMaxCols = 1024;

template <class T>
struct SoftmaxArgs {
  SoftmaxKind kind = SoftmaxKind::kSoftmax;
  int64_t rows = 0, cols = 0;
  const T* x = nullptr;
  T* y = nullptr;  // may be x
  int max_vector = 8;  // caps the vector width (8, 2 or 1)
  SoftmaxPath path = SoftmaxPath::kAuto;
};

template <class T>
Status can_implement(const SoftmaxArgs<T>& args);

template <class T>
size_t workspace_bytes(const SoftmaxArgs<T>& args);

// The vector width and path run() will use.
template <class T>
int vector_width(const SoftmaxArgs<T>& args);
template <class T>
SoftmaxPath chosen_path(const SoftmaxArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const SoftmaxArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::softmax
