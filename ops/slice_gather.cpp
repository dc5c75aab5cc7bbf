// Slice (strided, possibly reversed windows) and Gather (rows picked by an index tensor).
// Both only move elements, so every dtype quench can hold works.
#include <algorithm>
#include <cstring>
#include <limits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

// ------------------------------------------------------------------------------------ Slice

struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
};

// Resolved per-dim window: out[d] elements from start[d] every step[d].
struct SliceWindow {
  Index start{}, step{};
  Shape out;
};

Result<SliceWindow> resolve_slice(const NodeDesc& n, const Shape& is, const SliceArgs& a) {
  const std::string w = n.where();
  const int64_t r = static_cast<int64_t>(is.size());
  if (r > kMaxRank) return error(StatusCode::kUnsupported, w, ": input rank ", r, " exceeds ", kMaxRank);
  const size_t k = a.starts.size();
  if (a.ends.size() != k || (a.has_axes && a.axes.size() != k) || (a.has_steps && a.steps.size() != k))
    return error(StatusCode::kInvalidArgument, w, ": starts, ends, axes and steps must have the same length (",
                 a.starts.size(), ", ", a.ends.size(), ", ", a.has_axes ? a.axes.size() : k, ", ",
                 a.has_steps ? a.steps.size() : k, ")");
  SliceWindow sw;
  sw.out = is;
  for (int64_t d = 0; d < r; ++d) sw.step[d] = 1;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < k; ++i) {
    int64_t axis = a.has_axes ? a.axes[i] : static_cast<int64_t>(i);
    QUENCH_ASSIGN(axis, normalize_axis(axis, r, n));
    if (seen[axis]) return error(StatusCode::kInvalidArgument, w, ": axis ", axis, " is repeated");
    seen[axis] = true;
    const int64_t step = a.has_steps ? a.steps[i] : 1;
    if (step == 0) return error(StatusCode::kInvalidArgument, w, ": step 0 on axis ", axis);
    const int64_t dim = is[axis];
    // Negative positions count from the end; then clamp as ONNX says (INT64 extremes included).
    int64_t start = a.starts[i], end = a.ends[i];
    if (start < 0) start = start < -dim ? -1 : start + dim;
    if (end < 0) end = end < -dim ? -1 : end + dim;
    int64_t len;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      len = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
      end = std::clamp<int64_t>(end, -1, dim - 1);
      // -INT64_MIN does not exist; any step that large takes one element at most anyway.
      const int64_t back = step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
      len = start > end ? (start - end - 1) / back + 1 : 0;
    }
    if (dim == 0) len = 0;
    sw.start[axis] = len > 0 ? start : 0;
    sw.step[axis] = len > 1 ? step : 1;  // a huge step taking one element must not scale a stride
    sw.out[axis] = len;
  }
  return sw;
}

// Before opset 10 starts/ends/axes are attributes; from 10 they (and steps) are inputs.
Status infer_slice(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, w, ": element type ", dtype_name(in[0].dtype), " cannot be held in a tensor");
  SliceArgs a;
  if (before(n, 10)) {
    if (!n.attrs.has("starts") || !n.attrs.has("ends"))
      return error(StatusCode::kInvalidArgument, w, ": required attributes 'starts' and 'ends' are missing");
    QUENCH_ASSIGN(a.starts, n.attrs.get_ints("starts", {}, w));
    QUENCH_ASSIGN(a.ends, n.attrs.get_ints("ends", {}, w));
    a.has_axes = n.attrs.has("axes");
    QUENCH_ASSIGN(a.axes, n.attrs.get_ints("axes", {}, w));
  } else {
    if (in.size() < 3 || !in[1].present || !in[2].present)
      return error(StatusCode::kInvalidArgument, w, ": inputs 1 (starts) and 2 (ends) are required");
    QUENCH_ASSIGN(a.starts, constant_ints(in[1], n, "input 1 (starts)"));
    QUENCH_ASSIGN(a.ends, constant_ints(in[2], n, "input 2 (ends)"));
    if ((a.has_axes = in.size() > 3 && in[3].present)) { QUENCH_ASSIGN(a.axes, constant_ints(in[3], n, "input 3 (axes)")); }
    if ((a.has_steps = in.size() > 4 && in[4].present)) { QUENCH_ASSIGN(a.steps, constant_ints(in[4], n, "input 4 (steps)")); }
  }
  QUENCH_ASSIGN(SliceWindow sw, resolve_slice(n, in[0].shape, a));
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(sw.out);
  return {};
}

Status run_slice(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const std::string w = n.where();
  SliceArgs a;
  if (before(n, 10)) {
    QUENCH_ASSIGN(a.starts, n.attrs.get_ints("starts", {}, w));
    QUENCH_ASSIGN(a.ends, n.attrs.get_ints("ends", {}, w));
    a.has_axes = n.attrs.has("axes");
    QUENCH_ASSIGN(a.axes, n.attrs.get_ints("axes", {}, w));
  } else {
    QUENCH_ASSIGN(a.starts, view_ints(in[1], n, "input 1 (starts)"));
    QUENCH_ASSIGN(a.ends, view_ints(in[2], n, "input 2 (ends)"));
    if ((a.has_axes = in.size() > 3 && in[3].present())) { QUENCH_ASSIGN(a.axes, view_ints(in[3], n, "input 3 (axes)")); }
    if ((a.has_steps = in.size() > 4 && in[4].present())) { QUENCH_ASSIGN(a.steps, view_ints(in[4], n, "input 4 (steps)")); }
  }
  const Shape& is = in[0].shape;
  QUENCH_ASSIGN(SliceWindow sw, resolve_slice(n, is, a));
  if (sw.out != out[0].shape)
    return error(StatusCode::kInternal, w, ": output is ", shape_str(out[0].shape), ", expected ", shape_str(sw.out));
  const Index st = contiguous_strides(is);
  Index src_strides{};
  int64_t offset = 0;
  for (size_t d = 0; d < is.size(); ++d) {
    offset += sw.start[d] * st[d];
    src_strides[d] = sw.step[d] * st[d];
  }
  strided_copy(in[0].data, offset, src_strides, out[0].data, out[0].shape, dtype_size(out[0].dtype));
  return {};
}

// ----------------------------------------------------------------------------------- Gather

Result<int64_t> gather_axis(const NodeDesc& n, const Shape& data) {
  if (data.empty()) return error(StatusCode::kShapeError, n.where(), ": data must have rank 1 or more");
  QUENCH_ASSIGN(int64_t axis, n.attrs.get_int("axis", 0, n.where()));
  return normalize_axis(axis, static_cast<int64_t>(data.size()), n);
}

// Checks every index against the axis size; index i of `count` read through `at`.
template <class At>
Status check_indices(const NodeDesc& n, int64_t count, int64_t dim, int64_t axis, At&& at) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = at(i);
    if (v < -dim || v >= dim)
      return error(StatusCode::kOutOfRange, n.where(), ": index ", v, " (element ", i, " of indices) is out of range [",
                   -dim, ", ", dim - 1, "] for axis ", axis, " of size ", dim);
  }
  return {};
}

Status infer_gather(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  const Shape& ds = in[0].shape;
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, w, ": element type ", dtype_name(in[0].dtype), " cannot be held in a tensor");
  QUENCH_TRY(require_dtype(in[1].dtype, {DType::kI32, DType::kI64}, n, "input 1 (indices)"));
  QUENCH_ASSIGN(int64_t axis, gather_axis(n, ds));
  // Known indices are checked now, so a bad model fails at build time rather than at run.
  if (const Tensor* c = in[1].constant)
    QUENCH_TRY(check_indices(n, c->numel(), ds[axis], axis, [&](int64_t i) { return c->value_as_int64(i); }));
  Shape s(ds.begin(), ds.begin() + axis);
  s.insert(s.end(), in[1].shape.begin(), in[1].shape.end());
  s.insert(s.end(), ds.begin() + axis + 1, ds.end());
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

Status run_gather(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Shape& ds = in[0].shape;
  QUENCH_ASSIGN(int64_t axis, gather_axis(n, ds));
  const int64_t dim = ds[axis];
  const int64_t count = in[1].numel();
  const bool i32 = in[1].dtype == DType::kI32;
  auto index = [&](int64_t i) -> int64_t { return i32 ? in[1].as<int32_t>()[i] : in[1].as<int64_t>()[i]; };
  QUENCH_TRY(check_indices(n, count, dim, axis, index));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ds[d];
  for (size_t d = axis + 1; d < ds.size(); ++d) inner *= ds[d];
  const size_t row = static_cast<size_t>(inner) * dtype_size(in[0].dtype);
  const auto* x = static_cast<const std::byte*>(in[0].data);
  auto* y = static_cast<std::byte*>(out[0].data);
  if (row == 0 || count == 0 || outer == 0) return {};
  parallel_for(outer * count, std::max<int64_t>(1, (int64_t{1} << 16) / inner), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t o = k / count;
      int64_t v = index(k % count);
      if (v < 0) v += dim;
      std::memcpy(y + k * row, x + (o * dim + v) * row, row);
    }
  });
  return {};
}

const OpSchema kSchemas[] = {
    {"Slice", 1, 5, 1, 1, infer_slice, run_slice, nullptr, false},
    {"Gather", 2, 2, 1, 1, infer_gather, run_gather, nullptr, false},
};

}  // namespace

std::span<const OpSchema> slice_gather_schemas() { return kSchemas; }

}  // namespace quench::ops
