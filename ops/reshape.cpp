// Shape-changing operators that keep the elements in order: Reshape, Flatten, Squeeze and
// Unsqueeze (a plain copy), Expand (a broadcast copy), and Shape (reads only the input's
// shape). Every dtype quench can hold works, since elements are only moved.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

// Attributes became inputs at some opset; 0 means "no opset given": the newest form.
bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

bool present(std::span<const ValueDesc> in, size_t i) { return in.size() > i && in[i].present; }

// Output 0 is input 0's bytes in the same order; the views may alias when the planner reuses
// the buffer, in which case there is nothing to do.
Status run_copy(const NodeDesc&, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  if (in[0].data != out[0].data) copy_elements(in[0].data, out[0].data, out[0].numel(), out[0].dtype);
  return {};
}

Status require_holdable(DType dtype, const NodeDesc& n) {
  if (dtype_size(dtype) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": element type ", dtype_name(dtype), " cannot be held in a tensor");
  return {};
}

// Rejects repeated axes (after normalization), which ONNX forbids for Squeeze and Unsqueeze.
Status check_unique(const std::vector<int64_t>& axes, const NodeDesc& n) {
  for (size_t i = 0; i < axes.size(); ++i)
    for (size_t j = i + 1; j < axes.size(); ++j)
      if (axes[i] == axes[j]) return error(StatusCode::kInvalidArgument, n.where(), ": axis ", axes[i], " is repeated");
  return {};
}

// ---------------------------------------------------------------------------------- Reshape

Status infer_reshape(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  QUENCH_TRY(require_holdable(in[0].dtype, n));
  std::vector<int64_t> spec;
  if (before(n, 5)) {
    if (!n.attrs.has("shape")) return error(StatusCode::kInvalidArgument, w, ": required attribute 'shape' is missing");
    QUENCH_ASSIGN(spec, n.attrs.get_ints("shape", {}, w));
  } else {
    if (!present(in, 1)) return error(StatusCode::kInvalidArgument, w, ": input 1 (shape) is missing");
    QUENCH_ASSIGN(spec, constant_ints(in[1], n, "input 1 (shape)"));
  }
  QUENCH_ASSIGN(int64_t allowzero, n.attrs.get_int("allowzero", 0, w));
  const Shape& is = in[0].shape;
  const int64_t total = shape_numel(is);
  auto fail = [&] {
    return error(StatusCode::kShapeError, w, ": cannot reshape ", total, " elements to ", shape_str(spec));
  };
  Shape s(spec.size());
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer_at >= 0) return error(StatusCode::kShapeError, w, ": shape ", shape_str(spec), " has more than one -1");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d == 0 && allowzero == 0) {
      if (i >= is.size())
        return error(StatusCode::kShapeError, w, ": shape ", shape_str(spec), " copies dim ", i, " (0) but the input ",
                     shape_str(is), " has rank ", is.size());
      d = is[i];
    }
    if (d < 0) return error(StatusCode::kShapeError, w, ": shape ", shape_str(spec), " has invalid dim ", d);
    s[i] = d;
    if (__builtin_mul_overflow(known, d, &known)) return fail();
  }
  if (infer_at >= 0) {
    // A -1 next to a zero-sized dim (allowzero) is ambiguous.
    if (known == 0 || total % known != 0) return fail();
    s[infer_at] = total / known;
  } else if (known != total) {
    return fail();
  }
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

// ---------------------------------------------------------------------------------- Flatten

Status infer_flatten(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  QUENCH_TRY(require_holdable(in[0].dtype, n));
  QUENCH_ASSIGN(int64_t axis, n.attrs.get_int("axis", 1, w));
  const int64_t r = static_cast<int64_t>(in[0].shape.size());
  // axis lies in [-r, r]: it names the first dim of the second output dim.
  if (axis < -r || axis > r || (axis < 0 && before(n, 11)))
    return error(StatusCode::kInvalidArgument, w, ": axis ", axis, " is out of range for rank ", r);
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) {
    int64_t& side = i < axis ? a : b;
    if (__builtin_mul_overflow(side, in[0].shape[i], &side))
      return error(StatusCode::kShapeError, w, ": ", shape_str(in[0].shape), " is too large to flatten");
  }
  out[0].dtype = in[0].dtype;
  out[0].shape = {a, b};
  return {};
}

// ---------------------------------------------------------------------------------- Squeeze

// Axes from the attribute (before opset 13) or the optional input 1; `given` false when absent.
Result<std::vector<int64_t>> axes_of(const NodeDesc& n, std::span<const ValueDesc> in, bool& given) {
  given = false;
  if (before(n, 13)) {
    if (!n.attrs.has("axes")) return std::vector<int64_t>{};
    given = true;
    return n.attrs.get_ints("axes", {}, n.where());
  }
  if (!present(in, 1)) return std::vector<int64_t>{};
  given = true;
  return constant_ints(in[1], n, "input 1 (axes)");
}

Status infer_squeeze(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(require_holdable(in[0].dtype, n));
  const Shape& is = in[0].shape;
  const int64_t r = static_cast<int64_t>(is.size());
  bool given = false;
  QUENCH_ASSIGN(std::vector<int64_t> axes, axes_of(n, in, given));
  std::vector<bool> drop(is.size(), false);
  if (axes.empty()) {  // absent (or empty): every dim of size 1 goes
    for (int64_t i = 0; i < r; ++i) drop[i] = is[i] == 1;
  } else {
    for (int64_t& a : axes) {
      QUENCH_ASSIGN(a, normalize_axis(a, r, n));
      if (is[a] != 1)
        return error(StatusCode::kShapeError, n.where(), ": cannot squeeze axis ", a, " of size ", is[a], " in ",
                     shape_str(is));
      drop[a] = true;
    }
    QUENCH_TRY(check_unique(axes, n));
  }
  Shape s;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[i]) s.push_back(is[i]);
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

// -------------------------------------------------------------------------------- Unsqueeze

Status infer_unsqueeze(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(require_holdable(in[0].dtype, n));
  bool given = false;
  QUENCH_ASSIGN(std::vector<int64_t> axes, axes_of(n, in, given));
  if (!given)
    return error(StatusCode::kInvalidArgument, n.where(), before(n, 13) ? ": required attribute 'axes' is missing"
                                                                        : ": input 1 (axes) is missing");
  const Shape& is = in[0].shape;
  const int64_t r = static_cast<int64_t>(is.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t& a : axes) {
    QUENCH_ASSIGN(a, normalize_axis(a, r, n));
    inserted[a] = true;
  }
  QUENCH_TRY(check_unique(axes, n));
  Shape s(static_cast<size_t>(r));
  for (int64_t i = 0, j = 0; i < r; ++i) s[i] = inserted[i] ? 1 : is[j++];
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

// ----------------------------------------------------------------------------------- Expand

Status infer_expand(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(require_holdable(in[0].dtype, n));
  QUENCH_ASSIGN(std::vector<int64_t> spec, constant_ints(in[1], n, "input 1 (shape)"));
  for (int64_t d : spec)
    if (d < 0) return error(StatusCode::kShapeError, n.where(), ": shape ", shape_str(spec), " has a negative dim");
  const Shape shapes[] = {in[0].shape, spec};
  QUENCH_ASSIGN(Shape s, broadcast_shapes(shapes, n));  // bidirectional: a 1 in `shape` keeps the input dim
  QUENCH_TRY(require_rank_at_most(s, n, "output"));
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

Status run_expand(const NodeDesc&, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  strided_copy(in[0].data, 0, broadcast_strides(in[0].shape, out[0].shape), out[0].data, out[0].shape,
               dtype_size(out[0].dtype));
  return {};
}

// ------------------------------------------------------------------------------------ Shape

// [start, end) of the dims Shape reports (attributes since opset 15), clamped like Slice.
Result<std::pair<int64_t, int64_t>> shape_range(const NodeDesc& n, int64_t r) {
  QUENCH_ASSIGN(int64_t start, n.attrs.get_int("start", 0, n.where()));
  QUENCH_ASSIGN(int64_t end, n.attrs.get_int("end", r, n.where()));
  auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  start = clamp(start);
  end = std::max(clamp(end), start);
  return std::pair{start, end};
}

Status infer_shape(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(auto range, shape_range(n, static_cast<int64_t>(in[0].shape.size())));
  out[0].dtype = DType::kI64;
  out[0].shape = {range.second - range.first};
  return {};
}

// Reads only the input's shape: at build time its data may not exist yet.
Status run_shape(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(auto range, shape_range(n, static_cast<int64_t>(in[0].shape.size())));
  int64_t* y = out[0].as<int64_t>();
  for (int64_t i = range.first; i < range.second; ++i) y[i - range.first] = in[0].shape[i];
  return {};
}

// Reshape, Flatten, Squeeze and Unsqueeze keep the bytes as they are, so they may run in place.
const OpSchema kSchemas[] = {
    {"Reshape", 1, 2, 1, 1, infer_reshape, run_copy, nullptr, true},
    {"Flatten", 1, 1, 1, 1, infer_flatten, run_copy, nullptr, true},
    {"Squeeze", 1, 2, 1, 1, infer_squeeze, run_copy, nullptr, true},
    {"Unsqueeze", 1, 2, 1, 1, infer_unsqueeze, run_copy, nullptr, true},
    {"Expand", 2, 2, 1, 1, infer_expand, run_expand, nullptr, false},
    {"Shape", 1, 1, 1, 1, infer_shape, run_shape, nullptr, false},
};

}  // namespace

std::span<const OpSchema> reshape_schemas() { return kSchemas; }

}  // namespace quench::ops
