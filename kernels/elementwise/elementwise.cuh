// Elementwise kernels: binary ops with numpy broadcasting (up to 6-D), optionally followed by an
// activation, and activations alone.
//
//   binary:  y = act(a op b)   op in {Add, Sub, Mul, Div, Max, Min, Pow}, a and b broadcast
//   unary:   y = act(f(x))   f in {identity, sqrt}
//
// act is any activation of kernels/common/epilogue.cuh (only EpilogueParams' activation fields
// are used; there is no bias or residual here). FP16 storage, FP32 math, one rounding at the
// store. Max and Min return NaN when either operand is NaN (as ONNX's reference does).
//
// The launcher drops size-1 dims and merges neighbouring dims that broadcast alike, so e.g.
// NHWC [N,H,W,C] + [C] runs as [N*H*W, C] and [N,H,W,C] * [N,1,1,C] as [N, H*W, C]. Accesses are
// 8 elements (16 bytes) per thread when the innermost merged dim is a multiple of 8 and the
// pointers are 16-byte aligned, else 2 (half2), else 1; an operand broadcast along the innermost
// dim is read as one value per vector.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "kernels/common/epilogue.cuh"
#include "quench/status.h"

namespace quench::kernels::elementwise {

inline constexpr int kMaxDims = 6;

// A shape of up to kMaxDims dims, outermost first (a scalar has rank 0).
struct Dims {
  int rank = 0;
  int64_t d[kMaxDims] = {};

  static Dims of(std::initializer_list<int64_t> dims);  // more than kMaxDims dims: rank = -1
  int64_t numel() const;  // 1 for rank 0
  bool operator==(const Dims& o) const;
};

// The numpy broadcast of a and b (right-aligned; each dim equal or 1). kShapeError otherwise.
Status broadcast_shape(const Dims& a, const Dims& b, Dims* out);

enum class BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kPow };
const char* binary_op_name(BinaryOp op);

template <class T>
struct BinaryArgs {
  BinaryOp op = BinaryOp::kAdd;
  Dims a_shape, b_shape;  // y has broadcast_shape(a_shape, b_shape)
  const T* a = nullptr;
  const T* b = nullptr;
  T* y = nullptr;  // may be a or b when that operand has y's shape (read before written, same thread)
  EpilogueParams activation;
  int max_vector = 8;  // caps the vector width (8, 2 or 1); tests use it
};

// A math function applied before the activation (ONNX Sqrt runs as kSqrt with no activation).
enum class UnaryFn : int { kIdentity = 0, kSqrt };

template <class T>
struct UnaryArgs {
  int64_t count = 0;
  const T* x = nullptr;
  T* y = nullptr;  // may be x
  UnaryFn fn = UnaryFn::kIdentity;  // sqrt of a negative is NaN, as std::sqrt
  EpilogueParams activation;
  int max_vector = 8;
};

// Ok when run() accepts the arguments; otherwise why (kShapeError for shapes that do not
// broadcast, kInvalidArgument for malformed arguments, kUnsupported beyond the kernel's limits).
template <class T>
Status can_implement(const BinaryArgs<T>& args);
template <class T>
Status can_implement(const UnaryArgs<T>& args);

template <class T>
size_t workspace_bytes(const BinaryArgs<T>& args);
template <class T>
size_t workspace_bytes(const UnaryArgs<T>& args);

// The vector width run() will use (8, 2 or 1).
template <class T>
int vector_width(const BinaryArgs<T>& args);
template <class T>
int vector_width(const UnaryArgs<T>& args);

// Rank of the merged iteration space run() will use (1 = flat: no broadcast, or a scalar operand).
template <class T>
int merged_rank(const BinaryArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize. An empty output
// launches nothing.
template <class T>
Status run(const BinaryArgs<T>& args, void* workspace, cudaStream_t stream);
template <class T>
Status run(const UnaryArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::elementwise
