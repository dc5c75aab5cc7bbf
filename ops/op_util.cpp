#include "ops/op_util.h"

#include <cstring>

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

}  // namespace quench::ops
