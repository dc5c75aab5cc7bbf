// Helpers shared by op families: axes, broadcasting, constant inputs, dtype dispatch.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "ops/op.h"
#include "quench/float16.h"

namespace quench::ops {

// Ranks beyond this are refused, so index arithmetic can live in fixed arrays on the stack.
inline constexpr int kMaxRank = 8;

// double -> integer T, truncating toward zero and saturating at T's range; NaN gives 0.
// (Casting an out-of-range double is undefined behaviour in C++, and ONNX leaves it open.)
template <class T>
T saturate_cast(double v) {
  static_assert(std::is_integral_v<T>);
  if (v != v) return T{0};
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}
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

// --- Element-moving helpers (Reshape, Transpose, Slice, Pad, Concat... move bytes only). ---

// Calls f(T{}) with an unsigned integer type as wide as one element of `dtype`, so ops that
// only move elements work for every dtype quench can hold (float16, bool included).
template <class F>
Status dispatch_by_size(DType dtype, const NodeDesc& node, F&& f) {
  switch (dtype_size(dtype)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default:
      return error(StatusCode::kUnsupported, node.where(), ": element type ", dtype_name(dtype),
                   " cannot be held in a tensor");
  }
}

// dst (contiguous, shape `out_shape`) = src[offset + sum_d i_d * src_strides[d]], strides in
// elements (0 broadcasts, negative walks backwards). Rank <= kMaxRank; parallel over rows.
void strided_copy(const void* src, int64_t src_offset, const Index& src_strides, void* dst, const Shape& out_shape,
                  size_t elem_size);

// Element i of a run-time view as double / int64, whatever its dtype (for small parameter
// inputs such as Pad's constant_value or Resize's roi, read at run time).
double view_value_as_double(const TensorView& v, int64_t i);
int64_t view_value_as_int64(const TensorView& v, int64_t i);

// All elements of an integer view (Slice starts, Split sizes... at run time).
Result<std::vector<int64_t>> view_ints(const TensorView& v, const NodeDesc& node, std::string_view what);

// Writes `value` converted to `dtype` (saturating for integers) into `dst`.
void store_value_as(double value, DType dtype, void* dst);

// --- Attribute readers for run functions: as Attributes::get_*, but the node's name is built
// only on error, so reading attributes on the run path allocates nothing. ---
Result<int64_t> int_attr(const NodeDesc& n, std::string_view name, int64_t dflt);
Result<float> float_attr(const NodeDesc& n, std::string_view name, float dflt);
Result<std::string_view> string_attr(const NodeDesc& n, std::string_view name, std::string_view dflt);
// An ints attribute's values, viewed in place; `dflt` when absent.
Result<std::span<const int64_t>> ints_attr(const NodeDesc& n, std::string_view name,
                                           std::span<const int64_t> dflt = {});

// --- Arithmetic on every numeric dtype (binary, reduce, softmax, cast families). ---

// Storage tags for the 16-bit floats, so templates can tell them from uint16_t.
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

// As dispatch_numeric, plus float16 (Half) and bfloat16 (BFloat16).
template <class F>
Status dispatch_numeric_or_half(DType dtype, const NodeDesc& node, F&& f) {
  if (dtype == DType::kF16) return f(Half{});
  if (dtype == DType::kBF16) return f(BFloat16{});
  return dispatch_numeric(dtype, node, f);
}

// The type the CPU reference computes an element type in: floating types in double (rounded
// once on the way out), integers in themselves.
template <class T> struct ComputeType { using type = T; };
template <> struct ComputeType<float> { using type = double; };
template <> struct ComputeType<Half> { using type = double; };
template <> struct ComputeType<BFloat16> { using type = double; };
template <class T> using compute_t = typename ComputeType<T>::type;

template <class T> compute_t<T> to_compute(T v) {
  if constexpr (std::is_same_v<T, Half>) return half_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return bf16_to_float(v.bits);
  else return v;
}
template <class T> T from_compute(compute_t<T> c) {
  if constexpr (std::is_same_v<T, Half>) return Half{float_to_half(static_cast<float>(c))};
  else if constexpr (std::is_same_v<T, BFloat16>) return BFloat16{float_to_bf16(static_cast<float>(c))};
  else return static_cast<T>(c);
}

// Element i of raw `data` of `dtype` as double / int64, without allocating (run paths).
double element_as_double(const void* data, DType dtype, int64_t i);
int64_t element_as_int64(const void* data, DType dtype, int64_t i);

}  // namespace quench::ops
