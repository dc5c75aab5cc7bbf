// Pad (and crop) over up to 6 dims of any layout: constant, reflect, edge and wrap, as ONNX's Pad
// and quench's CPU reference define them:
//
//   out_dim[d] = dim[d] + pad_begin[d] + pad_end[d]   (a negative pad crops that side first)
//
// Along each dim the input kept after cropping is [lo, lo + extent); output index o maps to
// rel = o - max(pad_begin, 0): inside [0, extent) it reads lo + rel, outside it takes the
// constant (constant), the nearest kept element (edge), the mirror image without repeating the
// edge element (reflect, period 2 * (extent - 1); a single element repeats) or rel mod extent
// (wrap). Elements are only moved, so the kernel serves FP16 and FP32 alike; for NHWC spatial
// padding the channels (untouched, innermost) move 16 bytes per thread when they allow.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::pad {

inline constexpr int kMaxDims = 6;

enum class PadMode : int { kConstant = 0, kReflect, kEdge, kWrap };

template <class T>
struct PadArgs {
  PadMode mode = PadMode::kConstant;
  int rank = 0;  // 1..kMaxDims
  int64_t dims[kMaxDims] = {};       // input, outermost first
  int64_t pad_begin[kMaxDims] = {};  // negative: crop
  int64_t pad_end[kMaxDims] = {};
  float value = 0.0f;  // constant mode; converted to T (round to nearest)
  const T* x = nullptr;
  T* y = nullptr;  // out_dims; must not overlap x
  int max_vector = 8;  // caps the elements per access (at most 16 bytes: 8 FP16, 4 FP32); tests use it
};

// The output dims; kShapeError when a crop leaves a dim negative, or when a non-constant mode has
// to pad a dim that cropping left empty.
template <class T>
Status output_dims(const PadArgs<T>& args, int64_t (&out)[kMaxDims]);

template <class T>
Status can_implement(const PadArgs<T>& args);

template <class T>
size_t workspace_bytes(const PadArgs<T>& args);

// Elements per access run() will use.
template <class T>
int vector_width(const PadArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize. An empty output
// launches nothing.
template <class T>
Status run(const PadArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::pad
