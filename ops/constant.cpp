// Operators that make tensors from attributes and shapes: Constant, ConstantOfShape, Range.
// Their outputs depend on values only, so shape inference folds them whenever they are small
// enough; the run functions below serve the large ones. ConstantOfShape's shape and Range's
// inputs decide the output shape, so they must be known at build time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

// ---------------------------------------------------------------------------------- Constant

// The one value attribute a Constant node carries (exactly one is allowed).
Result<const Attribute*> constant_attr(const NodeDesc& n) {
  static constexpr std::string_view kValueAttrs[] = {"value",       "value_float",  "value_floats", "value_int",
                                                     "value_ints",  "value_string", "value_strings", "sparse_value"};
  const Attribute* found = nullptr;
  std::string_view name;
  for (std::string_view a : kValueAttrs) {
    const Attribute* p = n.attrs.find(a);
    if (!p) continue;
    if (found)
      return error(StatusCode::kInvalidArgument, n.where(), ": has both '", name, "' and '", a,
                   "'; exactly one value attribute is allowed");
    found = p;
    name = a;
  }
  if (!found) return error(StatusCode::kInvalidArgument, n.where(), ": has no value attribute ('value', 'value_float', ...)");
  if (name == "sparse_value")
    return error(StatusCode::kUnsupported, n.where(), ": sparse constants ('sparse_value') are not supported");
  if (name == "value_string" || name == "value_strings")
    return error(StatusCode::kUnsupported, n.where(), ": string constants ('", name, "') are not supported");
  using K = Attribute::Kind;
  const K want = name == "value" ? K::kTensor : name == "value_float" ? K::kFloat : name == "value_floats" ? K::kFloats
                 : name == "value_int" ? K::kInt : K::kInts;
  if (found->kind != want)
    return error(StatusCode::kInvalidArgument, n.where(), ": attribute '", name, "' is ",
                 attribute_kind_name(found->kind), ", expected ", attribute_kind_name(want));
  if (want == K::kTensor && dtype_size(found->t.dtype()) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": constant of element type ", dtype_name(found->t.dtype()),
                 " is not supported");
  return found;
}

Status infer_constant(const NodeDesc& n, std::span<const ValueDesc>, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(const Attribute* a, constant_attr(n));
  using K = Attribute::Kind;
  switch (a->kind) {
    case K::kTensor: out[0].dtype = a->t.dtype(); out[0].shape = a->t.shape(); break;
    case K::kFloat: out[0].dtype = DType::kF32; out[0].shape = {}; break;
    case K::kFloats: out[0].dtype = DType::kF32; out[0].shape = {static_cast<int64_t>(a->floats.size())}; break;
    case K::kInt: out[0].dtype = DType::kI64; out[0].shape = {}; break;
    default: out[0].dtype = DType::kI64; out[0].shape = {static_cast<int64_t>(a->ints.size())}; break;
  }
  return {};
}

Status run_constant(const NodeDesc& n, std::span<const TensorView>, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(const Attribute* a, constant_attr(n));
  const TensorView& o = out[0];
  const int64_t count = o.numel();
  using K = Attribute::Kind;
  switch (a->kind) {
    case K::kTensor:
      if (a->t.numel() != count || a->t.dtype() != o.dtype)
        return error(StatusCode::kInternal, n.where(), ": output does not match the constant's type and shape");
      copy_elements(a->t.data(), o.data, count, o.dtype);  // memcpy: the attribute may be unaligned
      break;
    case K::kFloat: *o.as<float>() = a->f; break;
    case K::kFloats: copy_elements(a->floats.data(), o.data, count, DType::kF32); break;
    case K::kInt: *o.as<int64_t>() = a->i; break;
    default: copy_elements(a->ints.data(), o.data, count, DType::kI64); break;
  }
  return {};
}

// --------------------------------------------------------------------------- ConstantOfShape

// The fill value: attribute `value`, a one-element tensor, float32 0 when absent.
Result<Tensor> fill_value(const NodeDesc& n) {
  if (!n.attrs.has("value")) return Tensor::zeros(DType::kF32, {1});
  QUENCH_ASSIGN(Tensor v, n.attrs.get_tensor("value", n.where()));
  if (v.numel() != 1)
    return error(StatusCode::kInvalidArgument, n.where(), ": attribute 'value' must hold one element, it holds ", v.numel());
  if (dtype_size(v.dtype()) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": fill value of element type ", dtype_name(v.dtype()),
                 " is not supported");
  return v;
}

Status infer_constant_of_shape(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  if (in[0].shape.size() != 1)
    return error(StatusCode::kInvalidArgument, n.where(), ": input 0 (shape) must be 1-D, got ", shape_str(in[0].shape));
  QUENCH_ASSIGN(std::vector<int64_t> dims, constant_ints(in[0], n, "input 0 (shape)"));
  int64_t total = 1;
  for (int64_t d : dims)
    if (d < 0 || __builtin_mul_overflow(total, d, &total))
      return error(StatusCode::kShapeError, n.where(), ": invalid output shape ", shape_str(dims));
  QUENCH_ASSIGN(Tensor v, fill_value(n));
  out[0].dtype = v.dtype();
  out[0].shape = std::move(dims);
  return {};
}

Status run_constant_of_shape(const NodeDesc& n, std::span<const TensorView>, std::span<const TensorView> out, void*) {
  const Attribute* a = n.attrs.find("value");
  const TensorView& o = out[0];
  if (!a) {  // float32 zero
    if (o.numel() > 0) std::memset(o.data, 0, static_cast<size_t>(o.numel()) * sizeof(float));
    return {};
  }
  if (a->kind != Attribute::Kind::kTensor || a->t.numel() != 1 || a->t.dtype() != o.dtype)
    return error(StatusCode::kInternal, n.where(), ": attribute 'value' does not match the output");
  return dispatch_by_size(o.dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, a->t.data(), sizeof(T));
    T* y = o.as<T>();
    parallel_for(o.numel(), 1 << 16, [&](int64_t b, int64_t e) { std::fill(y + b, y + e, v); });
    return {};
  });
}

// ------------------------------------------------------------------------------------- Range

// Number of elements: max(ceil((limit - start) / delta), 0), exactly for integer types.
Result<int64_t> range_count(const NodeDesc& n, const void* start, const void* limit, const void* delta, DType t) {
  if (dtype_is_integer(t)) {
    const __int128 s = element_as_int64(start, t, 0), l = element_as_int64(limit, t, 0), d = element_as_int64(delta, t, 0);
    if (d == 0) return error(StatusCode::kInvalidArgument, n.where(), ": delta is 0");
    const __int128 diff = l - s;
    if ((d > 0 && diff <= 0) || (d < 0 && diff >= 0)) return int64_t{0};
    const __int128 c = d > 0 ? (diff + d - 1) / d : (diff + d + 1) / d;
    if (c > std::numeric_limits<int64_t>::max())
      return error(StatusCode::kOutOfRange, n.where(), ": the range has more than 2^63 elements");
    return static_cast<int64_t>(c);
  }
  const double s = element_as_double(start, t, 0), l = element_as_double(limit, t, 0), d = element_as_double(delta, t, 0);
  if (d == 0) return error(StatusCode::kInvalidArgument, n.where(), ": delta is 0");
  const double c = std::ceil((l - s) / d);
  if (!(c < 9.0e18)) return error(StatusCode::kOutOfRange, n.where(), ": start ", s, ", limit ", l, ", delta ", d,
                                  " give no finite element count");
  return c > 0 ? static_cast<int64_t>(c) : int64_t{0};
}

Status infer_range(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const DType t = in[0].dtype;
  // ONNX allows float, double, int16, int32, int64; any float or signed integer works here.
  const bool is_signed_int = t == DType::kI8 || t == DType::kI16 || t == DType::kI32 || t == DType::kI64;
  if (!dtype_is_float(t) && !is_signed_int)
    return error(StatusCode::kUnsupported, n.where(), ": element type ", dtype_name(t), " is not supported");
  static constexpr const char* kNames[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (in[i].dtype != t)
      return error(StatusCode::kInvalidArgument, n.where(), ": input ", i, " (", kNames[i], ") is ",
                   dtype_name(in[i].dtype), " but start is ", dtype_name(t));
    if (shape_numel(in[i].shape) != 1)
      return error(StatusCode::kInvalidArgument, n.where(), ": input ", i, " (", kNames[i], ") must be a scalar, got shape ",
                   shape_str(in[i].shape));
    if (!in[i].constant)
      return error(StatusCode::kUnsupported, n.where(), ": input ", i, " (", kNames[i],
                   ") must be known at build time, since it decides the output's shape");
  }
  QUENCH_ASSIGN(int64_t count, range_count(n, in[0].constant->data(), in[1].constant->data(), in[2].constant->data(), t));
  out[0].dtype = t;
  out[0].shape = {count};
  return {};
}

Status run_range(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const TensorView& o = out[0];
  return dispatch_numeric_or_half(o.dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = o.as<T>();
    if constexpr (std::is_integral_v<compute_t<T>>) {
      // start + i * delta, wrapping rather than overflowing.
      const uint64_t s = static_cast<uint64_t>(element_as_int64(in[0].data, o.dtype, 0));
      const uint64_t d = static_cast<uint64_t>(element_as_int64(in[2].data, o.dtype, 0));
      for (int64_t i = 0; i < o.numel(); ++i) y[i] = static_cast<T>(s + static_cast<uint64_t>(i) * d);
    } else {
      const double s = element_as_double(in[0].data, o.dtype, 0), d = element_as_double(in[2].data, o.dtype, 0);
      for (int64_t i = 0; i < o.numel(); ++i) y[i] = from_compute<T>(s + static_cast<double>(i) * d);
    }
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"Constant", 0, 0, 1, 1, infer_constant, run_constant, nullptr, false},
    {"ConstantOfShape", 1, 1, 1, 1, infer_constant_of_shape, run_constant_of_shape, nullptr, false},
    {"Range", 3, 3, 1, 1, infer_range, run_range, nullptr, false},
};

}  // namespace

std::span<const OpSchema> constant_schemas() { return kSchemas; }

}  // namespace quench::ops
