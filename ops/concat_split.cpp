// Concat and Split along one axis. Both only move bytes, so every dtype quench can hold works.
// A tensor seen as [outer, axis, inner] is copied as `outer` runs of axis*inner elements.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

int64_t prod(const Shape& s, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) p *= s[i];
  return p;
}

// ----------------------------------------------------------------------------------- Concat

// Runs on every Concat step, so the node's name is only formatted on an error path.
Result<int64_t> concat_axis(const NodeDesc& n, int64_t rank) {
  const Attribute* a = n.attrs.find("axis");
  // Opset 1 defaulted axis to 1; from opset 4 on it is required.
  if (!a && !before(n, 4))
    return error(StatusCode::kInvalidArgument, n.where(), ": required attribute 'axis' is missing");
  if (a && a->kind != Attribute::Kind::kInt) return n.attrs.get_int("axis", 1, n.where()).status();
  return normalize_axis(a ? a->i : 1, rank, n);
}

Status infer_concat(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  for (size_t i = 0; i < in.size(); ++i)
    if (!in[i].present) return error(StatusCode::kInvalidArgument, w, ": input ", i, " is missing");
  const Shape& s0 = in[0].shape;
  if (s0.empty()) return error(StatusCode::kShapeError, w, ": cannot concatenate scalars");
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, w, ": element type ", dtype_name(in[0].dtype), " cannot be held in a tensor");
  QUENCH_ASSIGN(int64_t axis, concat_axis(n, static_cast<int64_t>(s0.size())));
  Shape s = s0;
  s[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& si = in[i].shape;
    if (in[i].dtype != in[0].dtype)
      return error(StatusCode::kInvalidArgument, w, ": input ", i, " is ", dtype_name(in[i].dtype), " but input 0 is ",
                   dtype_name(in[0].dtype));
    bool ok = si.size() == s0.size();
    for (size_t d = 0; ok && d < si.size(); ++d) ok = d == static_cast<size_t>(axis) || si[d] == s0[d];
    if (!ok)
      return error(StatusCode::kShapeError, w, ": input ", i, " has shape ", shape_str(si), ", which does not match ",
                   shape_str(s0), " outside axis ", axis);
    if (__builtin_add_overflow(s[axis], si[axis], &s[axis]))
      return error(StatusCode::kShapeError, w, ": the concatenated axis overflows");
  }
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

Status run_concat(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Shape& os = out[0].shape;
  QUENCH_ASSIGN(int64_t axis, concat_axis(n, static_cast<int64_t>(os.size())));
  const size_t es = dtype_size(out[0].dtype);
  const int64_t outer = prod(os, 0, axis), inner = prod(os, axis + 1, os.size());
  const int64_t out_row = os[axis] * inner;  // elements of one outer index in the output
  auto* y = static_cast<std::byte*>(out[0].data);
  if (outer == 0 || out_row == 0) return {};
  parallel_for(outer, std::max<int64_t>(1, (int64_t{1} << 16) / out_row), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t off = 0;
      for (const TensorView& x : in) {
        const int64_t row = x.shape[axis] * inner;
        std::byte* dst = y + (o * out_row + off) * es;
        const auto* src = static_cast<const std::byte*>(x.data) + o * row * es;
        if (row > 0 && dst != src) std::memcpy(dst, src, static_cast<size_t>(row) * es);
        off += row;
      }
    }
  });
  return {};
}

// ------------------------------------------------------------------------------------ Split

// The split sizes: from the `split` attribute (before opset 13; opset 1 also took an input),
// the optional input 1 (from opset 13), or else equal parts (num_outputs from opset 18).
// `split_input` holds input 1's values when it is present.
Result<std::vector<int64_t>> split_sizes(const NodeDesc& n, int64_t axis, int64_t dim, int64_t count,
                                         const std::vector<int64_t>* split_input) {
  const std::string w = n.where();
  std::vector<int64_t> split;
  bool given = false;
  if (split_input) {
    split = *split_input;
    given = true;
  } else if (before(n, 13) && n.attrs.has("split")) {
    QUENCH_ASSIGN(split, n.attrs.get_ints("split", {}, w));
    given = true;
  }
  if (n.attrs.has("num_outputs")) {
    if (given) return error(StatusCode::kInvalidArgument, w, ": give either split or num_outputs, not both");
    QUENCH_ASSIGN(int64_t num, n.attrs.get_int("num_outputs", 0, w));
    if (num != count)
      return error(StatusCode::kInvalidArgument, w, ": num_outputs is ", num, " but the node has ", count, " outputs");
    // ceil(dim / num) each; the last part takes what is left (possibly less).
    const int64_t part = (dim + num - 1) / num;
    if (part * (num - 1) > dim)
      return error(StatusCode::kShapeError, w, ": cannot split a dim of ", dim, " into ", num, " parts");
    split.assign(static_cast<size_t>(num), part);
    split.back() = dim - part * (num - 1);
  } else if (!given) {
    if (dim % count != 0)
      return error(StatusCode::kShapeError, w, ": cannot split a dim of ", dim, " into ", count, " equal parts");
    split.assign(static_cast<size_t>(count), dim / count);
  }
  if (static_cast<int64_t>(split.size()) != count)
    return error(StatusCode::kInvalidArgument, w, ": split has ", split.size(), " sizes but the node has ", count,
                 " outputs");
  int64_t sum = 0;
  for (int64_t v : split) {
    if (v < 0) return error(StatusCode::kInvalidArgument, w, ": split sizes ", shape_str(split), " include a negative");
    sum += v;
  }
  if (sum != dim)
    return error(StatusCode::kShapeError, w, ": split sizes ", shape_str(split), " add up to ", sum, ", not to dim ",
                 dim, " of axis ", axis);
  return split;
}

Result<int64_t> split_axis(const NodeDesc& n, const Shape& is) {
  if (is.empty()) return error(StatusCode::kShapeError, n.where(), ": cannot split a scalar");
  QUENCH_ASSIGN(int64_t axis, n.attrs.get_int("axis", 0, n.where()));
  return normalize_axis(axis, static_cast<int64_t>(is.size()), n);
}

Status infer_split(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const Shape& is = in[0].shape;
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": element type ", dtype_name(in[0].dtype),
                 " cannot be held in a tensor");
  QUENCH_ASSIGN(int64_t axis, split_axis(n, is));
  std::vector<int64_t> given;
  const bool has_input = in.size() > 1 && in[1].present;
  if (has_input) { QUENCH_ASSIGN(given, constant_ints(in[1], n, "input 1 (split)")); }
  QUENCH_ASSIGN(std::vector<int64_t> split,
                split_sizes(n, axis, is[axis], static_cast<int64_t>(out.size()), has_input ? &given : nullptr));
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].dtype = in[0].dtype;
    out[k].shape = is;
    out[k].shape[axis] = split[k];
  }
  return {};
}

Status run_split(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Shape& is = in[0].shape;
  QUENCH_ASSIGN(int64_t axis, split_axis(n, is));
  std::vector<int64_t> given;
  const bool has_input = in.size() > 1 && in[1].present();
  if (has_input) { QUENCH_ASSIGN(given, view_ints(in[1], n, "input 1 (split)")); }
  // Recomputed rather than read from the outputs: an omitted output ("") has no shape.
  QUENCH_ASSIGN(std::vector<int64_t> split,
                split_sizes(n, axis, is[axis], static_cast<int64_t>(out.size()), has_input ? &given : nullptr));
  const size_t es = dtype_size(in[0].dtype);
  const int64_t outer = prod(is, 0, axis), inner = prod(is, axis + 1, is.size());
  const int64_t in_row = is[axis] * inner;
  const auto* x = static_cast<const std::byte*>(in[0].data);
  if (outer == 0 || in_row == 0) return {};
  parallel_for(outer, std::max<int64_t>(1, (int64_t{1} << 16) / in_row), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t off = 0;
      for (size_t k = 0; k < out.size(); ++k) {
        const int64_t row = split[k] * inner;
        if (row > 0 && out[k].data)
          std::memcpy(static_cast<std::byte*>(out[k].data) + o * row * es, x + (o * in_row + off) * es,
                      static_cast<size_t>(row) * es);
        off += row;
      }
    }
  });
  return {};
}

const OpSchema kSchemas[] = {
    {"Concat", 1, -1, 1, 1, infer_concat, run_concat, nullptr, false},
    {"Split", 1, 2, 1, -1, infer_split, run_split, nullptr, false},
};

}  // namespace

std::span<const OpSchema> concat_split_schemas() { return kSchemas; }

}  // namespace quench::ops
