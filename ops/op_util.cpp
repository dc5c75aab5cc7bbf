#include "ops/op_util.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/parallel.h"
#include "quench/float16.h"

namespace quench::ops {

Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const NodeDesc& node) {
  if (axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
    return error(StatusCode::kInvalidArgument, node.where(), ": axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> constant_ints(const ValueDesc& v, const NodeDesc& node, std::string_view what) {
  if (!v.present) return error(StatusCode::kInvalidArgument, node.where(), ": ", what, " is missing");
  if (!v.constant)
    return error(StatusCode::kUnsupported, node.where(), ": ", what,
                 " must be known at build time (a constant or computed from shapes only)");
  if (!dtype_is_integer(v.constant->dtype()))
    return error(StatusCode::kInvalidArgument, node.where(), ": ", what, " must be an integer tensor, got ",
                 dtype_name(v.constant->dtype()));
  std::vector<int64_t> out(static_cast<size_t>(v.constant->numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = v.constant->value_as_int64(static_cast<int64_t>(i));
  return out;
}

Result<std::vector<double>> constant_doubles(const ValueDesc& v, const NodeDesc& node, std::string_view what) {
  if (!v.present) return error(StatusCode::kInvalidArgument, node.where(), ": ", what, " is missing");
  if (!v.constant)
    return error(StatusCode::kUnsupported, node.where(), ": ", what, " must be known at build time");
  std::vector<double> out(static_cast<size_t>(v.constant->numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = v.constant->value_as_double(static_cast<int64_t>(i));
  return out;
}

Result<Shape> broadcast_shapes(std::span<const Shape> shapes, const NodeDesc& node) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  if (rank > kMaxRank) return error(StatusCode::kUnsupported, node.where(), ": rank ", rank, " exceeds ", kMaxRank);
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[off + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) { o = d; continue; }
      std::string all;
      for (const Shape& t : shapes) all += shape_str(t) + " ";
      return error(StatusCode::kShapeError, node.where(), ": shapes ", all, "do not broadcast");
    }
  }
  return out;
}

Index contiguous_strides(const Shape& shape) {
  Index st{};
  int64_t acc = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

Index broadcast_strides(const Shape& shape, const Shape& out_shape) {
  Index st{};
  const size_t off = out_shape.size() - shape.size();
  int64_t acc = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[off + i] = (shape[i] == 1 && out_shape[off + i] != 1) ? 0 : acc;
    acc *= shape[i];
  }
  return st;
}

Status require_dtype(DType dtype, std::initializer_list<DType> allowed, const NodeDesc& node, std::string_view what) {
  for (DType d : allowed)
    if (d == dtype) return {};
  return error(StatusCode::kUnsupported, node.where(), ": ", what, " has element type ", dtype_name(dtype),
               ", which this operator does not support");
}

Status require_rank_at_most(const Shape& s, const NodeDesc& node, std::string_view what) {
  if (s.size() > kMaxRank)
    return error(StatusCode::kUnsupported, node.where(), ": ", what, " has rank ", s.size(), ", above ", kMaxRank);
  return {};
}

void copy_elements(const void* src, void* dst, int64_t count, DType dtype) {
  if (count > 0) std::memcpy(dst, src, static_cast<size_t>(count) * dtype_size(dtype));
}

namespace {

template <class T>
void strided_copy_t(const T* src, const Index& st, T* dst, const Shape& shape) {
  const int rank = static_cast<int>(shape.size());
  if (rank == 0) { dst[0] = src[0]; return; }
  const int64_t inner = shape[rank - 1];
  const int64_t rows = shape_numel(shape) / inner;
  const int64_t is = st[rank - 1];
  parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 14) / inner), [&](int64_t b, int64_t e) {
    // Decompose the first row index once, then step the outer index like an odometer.
    Index idx{};
    int64_t off = 0;
    for (int64_t d = rank - 2, r = b; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
      off += idx[d] * st[d];
    }
    for (int64_t row = b; row < e; ++row) {
      const T* s = src + off;
      T* o = dst + row * inner;
      if (is == 1) std::memcpy(o, s, static_cast<size_t>(inner) * sizeof(T));
      else for (int64_t i = 0; i < inner; ++i) o[i] = s[i * is];
      for (int d = rank - 2; d >= 0; --d) {
        off += st[d];
        if (++idx[d] < shape[d]) break;
        off -= st[d] * shape[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace

void strided_copy(const void* src, int64_t src_offset, const Index& src_strides, void* dst, const Shape& out_shape,
                  size_t elem_size) {
  if (shape_numel(out_shape) == 0) return;
  auto go = [&](auto tag) {
    using T = decltype(tag);
    strided_copy_t(static_cast<const T*>(src) + src_offset, src_strides, static_cast<T*>(dst), out_shape);
  };
  switch (elem_size) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    case 8: go(uint64_t{}); break;
    default: break;
  }
}

double view_value_as_double(const TensorView& v, int64_t i) {
  return Tensor::view(v.dtype, {v.numel()}, v.data, nullptr).value_as_double(i);
}

int64_t view_value_as_int64(const TensorView& v, int64_t i) {
  return Tensor::view(v.dtype, {v.numel()}, v.data, nullptr).value_as_int64(i);
}

Result<std::vector<int64_t>> view_ints(const TensorView& v, const NodeDesc& node, std::string_view what) {
  if (!dtype_is_integer(v.dtype))
    return error(StatusCode::kInvalidArgument, node.where(), ": ", what, " must be an integer tensor, got ",
                 dtype_name(v.dtype));
  if (v.numel() > 0 && v.data == nullptr)
    return error(StatusCode::kInternal, node.where(), ": ", what, " has no data");
  std::vector<int64_t> out(static_cast<size_t>(v.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = view_value_as_int64(v, static_cast<int64_t>(i));
  return out;
}

void store_value_as(double value, DType dtype, void* dst) {
  auto put = [&](auto tag) {
    using T = decltype(tag);
    T t;
    if constexpr (std::is_floating_point_v<T>) {
      t = static_cast<T>(value);
    } else {
      t = saturate_cast<T>(value);
    }
    std::memcpy(dst, &t, sizeof(T));
  };
  switch (dtype) {
    case DType::kF32: put(float{}); break;
    case DType::kF64: put(double{}); break;
    case DType::kF16: { const uint16_t h = float_to_half(static_cast<float>(value)); std::memcpy(dst, &h, 2); break; }
    case DType::kBF16: { const uint16_t h = float_to_bf16(static_cast<float>(value)); std::memcpy(dst, &h, 2); break; }
    case DType::kI8: put(int8_t{}); break;
    case DType::kU8: put(uint8_t{}); break;
    case DType::kI16: put(int16_t{}); break;
    case DType::kU16: put(uint16_t{}); break;
    case DType::kI32: put(int32_t{}); break;
    case DType::kU32: put(uint32_t{}); break;
    case DType::kI64: put(int64_t{}); break;
    case DType::kU64: put(uint64_t{}); break;
    case DType::kBool: { const uint8_t b = value != 0; std::memcpy(dst, &b, 1); break; }
    default: break;
  }
}

namespace {
Status attr_kind_error(const NodeDesc& n, std::string_view name, const Attribute& a, const char* want) {
  return error(StatusCode::kInvalidArgument, n.where(), ": attribute '", name, "' is ", attribute_kind_name(a.kind),
               ", expected ", want);
}
}  // namespace

Result<int64_t> int_attr(const NodeDesc& n, std::string_view name, int64_t dflt) {
  const Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kInt) return attr_kind_error(n, name, *a, "int");
  return a->i;
}

Result<float> float_attr(const NodeDesc& n, std::string_view name, float dflt) {
  const Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);  // as Attributes::get_float
  if (a->kind != Attribute::Kind::kFloat) return attr_kind_error(n, name, *a, "float");
  return a->f;
}

Result<std::string_view> string_attr(const NodeDesc& n, std::string_view name, std::string_view dflt) {
  const Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kString) return attr_kind_error(n, name, *a, "string");
  return std::string_view(a->s);
}

Result<std::span<const int64_t>> ints_attr(const NodeDesc& n, std::string_view name, std::span<const int64_t> dflt) {
  const Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kInts) return attr_kind_error(n, name, *a, "ints");
  return std::span<const int64_t>(a->ints);
}

double element_as_double(const void* data, DType dtype, int64_t i) {
  auto at = [&](auto tag) {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, static_cast<const char*>(data) + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
  };
  switch (dtype) {
    case DType::kF32: return at(float{});
    case DType::kF64: return at(double{});
    case DType::kF16: return half_to_float(at(uint16_t{}));
    case DType::kBF16: return bf16_to_float(at(uint16_t{}));
    case DType::kI8: return at(int8_t{});
    case DType::kU8: return at(uint8_t{});
    case DType::kBool: return at(uint8_t{}) != 0;
    case DType::kI16: return at(int16_t{});
    case DType::kU16: return at(uint16_t{});
    case DType::kI32: return at(int32_t{});
    case DType::kU32: return at(uint32_t{});
    case DType::kI64: return static_cast<double>(at(int64_t{}));
    case DType::kU64: return static_cast<double>(at(uint64_t{}));
    default: return 0.0;
  }
}

int64_t element_as_int64(const void* data, DType dtype, int64_t i) {
  auto at = [&](auto tag) {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, static_cast<const char*>(data) + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
  };
  switch (dtype) {
    case DType::kI64: return at(int64_t{});
    case DType::kU64: return static_cast<int64_t>(at(uint64_t{}));
    case DType::kI32: return at(int32_t{});
    case DType::kU32: return at(uint32_t{});
    case DType::kI16: return at(int16_t{});
    case DType::kU16: return at(uint16_t{});
    case DType::kI8: return at(int8_t{});
    case DType::kU8: case DType::kBool: return at(uint8_t{});
    default: {
      const double d = element_as_double(data, dtype, i);
      if (!(d > -9.2e18 && d < 9.2e18)) return 0;  // nan or out of range: no UB
      return static_cast<int64_t>(d);
    }
  }
}

}  // namespace quench::ops
