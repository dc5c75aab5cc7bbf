// Helpers shared by op families: axes, broadcasting, constant inputs, dtype dispatch.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ops/op.h"

namespace quench::ops {

// Ranks beyond this are refused, so index arithmetic can live in fixed arrays on the stack.
inline constexpr int kMaxRank = 8;
using Index = std::array<int64_t, kMaxRank>;

// Maps a possibly negative axis into [0, rank); error names the node.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const NodeDesc& node);

// Values of an input that must be known at build time (Reshape's shape, Slice's starts...).
// Accepts any integer dtype; error names the node and which input.
Result<std::vector<int64_t>> constant_ints(const ValueDesc& v, const NodeDesc& node, std::string_view what);
Result<std::vector<double>> constant_doubles(const ValueDesc& v, const NodeDesc& node, std::string_view what);

// Numpy-style multidirectional broadcast of several shapes.
Result<Shape> broadcast_shapes(std::span<const Shape> shapes, const NodeDesc& node);

// Row-major strides of `shape`, right-aligned into a rank-`rank` index space, with 0 for
// broadcast dims (size 1 against a larger output dim).
Index broadcast_strides(const Shape& shape, const Shape& out_shape);
Index contiguous_strides(const Shape& shape);

// Fails with "input N of <node>: dtype X is not supported" unless `dtype` is in `allowed`.
Status require_dtype(DType dtype, std::initializer_list<DType> allowed, const NodeDesc& node, std::string_view what);
Status require_rank_at_most(const Shape& s, const NodeDesc& node, std::string_view what);

// Calls f(T{}) with the C++ type of `dtype`, for the numeric types the CPU reference computes
// in (float, double and the integers; bool as uint8_t). Others give kUnsupported.
template <class F>
Status dispatch_numeric(DType dtype, const NodeDesc& node, F&& f) {
  switch (dtype) {
    case DType::kF32: return f(float{});
    case DType::kF64: return f(double{});
    case DType::kI8: return f(int8_t{});
    case DType::kU8: return f(uint8_t{});
    case DType::kI16: return f(int16_t{});
    case DType::kU16: return f(uint16_t{});
    case DType::kI32: return f(int32_t{});
    case DType::kU32: return f(uint32_t{});
    case DType::kI64: return f(int64_t{});
    case DType::kU64: return f(uint64_t{});
    case DType::kBool: return f(uint8_t{});
    default:
      return error(StatusCode::kUnsupported, node.where(), ": element type ", dtype_name(dtype),
                   " is not supported by the CPU reference");
  }
}

// Same, floating types only (float, double).
template <class F>
Status dispatch_float(DType dtype, const NodeDesc& node, F&& f) {
  switch (dtype) {
    case DType::kF32: return f(float{});
    case DType::kF64: return f(double{});
    default:
      return error(StatusCode::kUnsupported, node.where(), ": element type ", dtype_name(dtype),
                   " is not supported (float32 or float64 expected)");
  }
}

// Copies element-wise any dtype's bytes: dtype_size(dtype) bytes per element.
void copy_elements(const void* src, void* dst, int64_t count, DType dtype);

}  // namespace quench::ops
