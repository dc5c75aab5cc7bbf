// Pad: constant, reflect, edge and wrap modes; negative pads crop. Elements are only moved
// (or filled with the constant), so every dtype quench can hold works.
//
// Where one axis both crops and pads (a negative pad on one side, a positive one on the
// other), the crop applies first and the reflect/edge/wrap pattern is taken from what is
// left, as ONNX Runtime does.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

enum class Mode { kConstant, kReflect, kEdge, kWrap };

struct PadPlan {
  Mode mode = Mode::kConstant;
  Index lo{}, extent{};      // per dim: first kept input index and how many are kept (after cropping)
  Index pad_before{};        // output elements before the kept ones (>= 0)
  Shape out;
};

Result<Mode> mode_of(const NodeDesc& n) {
  QUENCH_ASSIGN(std::string m, n.attrs.get_string("mode", "constant", n.where()));
  if (m == "constant") return Mode::kConstant;
  if (m == "reflect") return Mode::kReflect;
  if (m == "edge") return Mode::kEdge;
  if (m == "wrap") return Mode::kWrap;
  return error(StatusCode::kUnsupported, n.where(), ": mode '", m, "' is not one of constant, reflect, edge, wrap");
}

// pads: [begin_0..begin_k, end_0..end_k] for `axes` (all dims when axes is empty).
Result<PadPlan> plan_pad(const NodeDesc& n, const Shape& is, const std::vector<int64_t>& pads,
                         const std::vector<int64_t>* axes_given) {
  const std::string w = n.where();
  const int64_t r = static_cast<int64_t>(is.size());
  if (r > kMaxRank) return error(StatusCode::kUnsupported, w, ": input rank ", r, " exceeds ", kMaxRank);
  std::vector<int64_t> axes;
  if (axes_given) {
    axes = *axes_given;
  } else {
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size())
    return error(StatusCode::kInvalidArgument, w, ": pads has ", pads.size(), " values; expected ", 2 * axes.size(),
                 " (begin and end for each of ", axes.size(), " axes)");
  PadPlan p;
  QUENCH_ASSIGN(p.mode, mode_of(n));
  Index begin{}, end{};
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    QUENCH_ASSIGN(int64_t a, normalize_axis(axes[i], r, n));
    if (seen[a]) return error(StatusCode::kInvalidArgument, w, ": axis ", a, " is repeated");
    seen[a] = true;
    begin[a] = pads[i];
    end[a] = pads[i + axes.size()];
  }
  p.out = is;
  for (int64_t d = 0; d < r; ++d) {
    const int64_t dim = is[d];
    // Bound the pads so that the sums below cannot overflow; no real tensor comes near this.
    constexpr int64_t kLimit = int64_t{1} << 40;
    if (begin[d] > kLimit || begin[d] < -kLimit || end[d] > kLimit || end[d] < -kLimit)
      return error(StatusCode::kInvalidArgument, w, ": pads on axis ", d, " are too large");
    int64_t out = 0;
    if (__builtin_add_overflow(dim, begin[d] + end[d], &out))
      return error(StatusCode::kShapeError, w, ": padded axis ", d, " is too large");
    if (out < 0)
      return error(StatusCode::kShapeError, w, ": pads ", begin[d], " and ", end[d], " crop axis ", d, " (size ", dim,
                   ") below zero");
    p.lo[d] = std::min(std::max<int64_t>(0, -begin[d]), dim);
    p.extent[d] = std::max<int64_t>(0, dim - p.lo[d] - std::max<int64_t>(0, -end[d]));
    p.pad_before[d] = std::max<int64_t>(0, begin[d]);
    if (p.extent[d] == 0 && out > 0 && p.mode != Mode::kConstant)
      return error(StatusCode::kShapeError, w, ": cannot pad axis ", d, " in this mode: no input elements are left on it");
    p.out[d] = out;
  }
  return p;
}

// Input index along one dim for output index `o`, or -1 where the constant goes.
int64_t source_index(const PadPlan& p, int d, int64_t o) {
  const int64_t m = p.extent[d];
  int64_t rel = o - p.pad_before[d];
  if (rel >= 0 && rel < m) return p.lo[d] + rel;
  switch (p.mode) {
    case Mode::kConstant: return -1;
    case Mode::kEdge: rel = rel < 0 ? 0 : m - 1; break;
    case Mode::kReflect: {
      // Mirror without repeating the edge: period 2(m-1); a single element just repeats.
      if (m == 1) { rel = 0; break; }
      const int64_t period = 2 * (m - 1);
      rel %= period;
      if (rel < 0) rel += period;
      if (rel >= m) rel = period - rel;
      break;
    }
    case Mode::kWrap:
      rel %= m;
      if (rel < 0) rel += m;
      break;
  }
  return p.lo[d] + rel;
}

Result<std::vector<int64_t>> pads_attr(const NodeDesc& n) {
  // Opset 1 called the attribute `paddings`.
  const char* name = n.attrs.has("pads") || !n.attrs.has("paddings") ? "pads" : "paddings";
  if (!n.attrs.has(name)) return error(StatusCode::kInvalidArgument, n.where(), ": required attribute 'pads' is missing");
  return n.attrs.get_ints(name, {}, n.where());
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const std::string w = n.where();
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, w, ": element type ", dtype_name(in[0].dtype), " cannot be held in a tensor");
  std::vector<int64_t> pads, axes;
  bool has_axes = false;
  if (before(n, 11)) {
    QUENCH_ASSIGN(pads, pads_attr(n));
  } else {
    if (in.size() < 2 || !in[1].present) return error(StatusCode::kInvalidArgument, w, ": input 1 (pads) is missing");
    QUENCH_ASSIGN(pads, constant_ints(in[1], n, "input 1 (pads)"));
    if (in.size() > 2 && in[2].present) {
      if (in[2].dtype != in[0].dtype)
        return error(StatusCode::kInvalidArgument, w, ": constant_value is ", dtype_name(in[2].dtype), " but the input is ",
                     dtype_name(in[0].dtype));
      if (shape_numel(in[2].shape) > 1)
        return error(StatusCode::kInvalidArgument, w, ": constant_value must hold one value, not ",
                     shape_str(in[2].shape));
    }
    if ((has_axes = in.size() > 3 && in[3].present)) { QUENCH_ASSIGN(axes, constant_ints(in[3], n, "input 3 (axes)")); }
  }
  QUENCH_ASSIGN(PadPlan p, plan_pad(n, in[0].shape, pads, has_axes ? &axes : nullptr));
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(p.out);
  return {};
}

template <class T>
void pad_rows(const PadPlan& p, const Shape& is, const T* x, T* y, T value) {
  const int rank = static_cast<int>(p.out.size());
  const Index st = contiguous_strides(is);
  const int64_t inner = p.out[rank - 1];
  const int64_t rows = shape_numel(p.out) / inner;
  const int last = rank - 1;
  const int64_t head = std::min(p.pad_before[last], inner);
  const int64_t kept = std::min(p.extent[last], inner - head);
  parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 14) / inner), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      T* o = y + row * inner;
      // Map the outer output index to an input row; any dim in the constant border fills it.
      int64_t off = 0;
      bool fill = false;
      for (int64_t d = rank - 2, r = row; d >= 0; --d) {
        const int64_t src = source_index(p, static_cast<int>(d), r % p.out[d]);
        r /= p.out[d];
        if (src < 0) { fill = true; break; }
        off += src * st[d];
      }
      if (fill) {
        std::fill(o, o + inner, value);
        continue;
      }
      const T* s = x + off;
      for (int64_t i = 0; i < head; ++i) {
        const int64_t src = source_index(p, last, i);
        o[i] = src < 0 ? value : s[src];
      }
      if (kept > 0) std::memcpy(o + head, s + p.lo[last], static_cast<size_t>(kept) * sizeof(T));
      for (int64_t i = head + kept; i < inner; ++i) {
        const int64_t src = source_index(p, last, i);
        o[i] = src < 0 ? value : s[src];
      }
    }
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const std::string w = n.where();
  std::vector<int64_t> pads, axes;
  bool has_axes = false;
  // The fill value as the input's own bytes.
  uint64_t value_bits = 0;
  if (before(n, 11)) {
    QUENCH_ASSIGN(pads, pads_attr(n));
    QUENCH_ASSIGN(float v, n.attrs.get_float("value", 0.0f, w));
    store_value_as(v, in[0].dtype, &value_bits);
  } else {
    QUENCH_ASSIGN(pads, view_ints(in[1], n, "input 1 (pads)"));
    if (in.size() > 2 && in[2].present() && in[2].numel() > 0)
      std::memcpy(&value_bits, in[2].data, dtype_size(in[0].dtype));
    if ((has_axes = in.size() > 3 && in[3].present())) { QUENCH_ASSIGN(axes, view_ints(in[3], n, "input 3 (axes)")); }
  }
  const Shape& is = in[0].shape;
  QUENCH_ASSIGN(PadPlan p, plan_pad(n, is, pads, has_axes ? &axes : nullptr));
  if (p.out != out[0].shape)
    return error(StatusCode::kInternal, w, ": output is ", shape_str(out[0].shape), ", expected ", shape_str(p.out));
  if (out[0].numel() == 0) return {};
  if (is.empty()) {
    copy_elements(in[0].data, out[0].data, 1, in[0].dtype);
    return {};
  }
  return dispatch_by_size(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    T value;
    std::memcpy(&value, &value_bits, sizeof(T));
    pad_rows<T>(p, is, in[0].as<T>(), out[0].as<T>(), value);
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"Pad", 1, 4, 1, 1, infer, run, nullptr, false},
};

}  // namespace

std::span<const OpSchema> pad_schemas() { return kSchemas; }

}  // namespace quench::ops
