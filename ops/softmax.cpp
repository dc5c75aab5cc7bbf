// Softmax and LogSoftmax, numerically stable (the maximum is subtracted before exp) and summed
// in double. Before opset 13 the input is coerced to 2-D, [prod(dims before axis), prod(dims
// from axis)], and normalised over the second dim (axis default 1); from opset 13 over the one
// dim `axis` (default -1).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

// The input seen as [outer, n, inner], normalised along n.
struct Geometry {
  int64_t outer = 1, n = 1, inner = 1;
};

Result<Geometry> geometry_of(const NodeDesc& node, const Shape& s) {
  const bool coerce_2d = node.opset > 0 && node.opset < 13;  // opset 0: the newest form
  QUENCH_ASSIGN(int64_t axis, int_attr(node, "axis", coerce_2d ? 1 : -1));
  const int64_t r = static_cast<int64_t>(s.size());
  Geometry g;
  if (r == 0) {  // a scalar is one row of one element
    QUENCH_TRY(normalize_axis(axis, r, node).status());
    return g;
  }
  QUENCH_ASSIGN(axis, normalize_axis(axis, r, node));
  for (int64_t d = 0; d < r; ++d) {
    if (d < axis) g.outer *= s[d];
    else if (d == axis || coerce_2d) g.n *= s[d];
    else g.inner *= s[d];
  }
  return g;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  if (!dtype_is_float(in[0].dtype))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(in[0].dtype), ", which ",
                 n.op_type, " does not support (floating types only)");
  QUENCH_TRY(geometry_of(n, in[0].shape).status());
  out[0].dtype = in[0].dtype;
  out[0].shape = in[0].shape;
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(Geometry g, geometry_of(n, in[0].shape));
  const bool log = n.op_type == "LogSoftmax";
  if (in[0].numel() == 0) return {};
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in[0].as<T>();
    T* y = out[0].as<T>();
    // One task per normalised vector: element j of vector c is at base(c) + j * inner.
    parallel_for(g.outer * g.inner, std::max<int64_t>(1, (int64_t{1} << 14) / g.n), [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        const int64_t base = (c / g.inner) * g.n * g.inner + c % g.inner;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < g.n; ++j) m = std::max<double>(m, to_compute(x[base + j * g.inner]));
        double s = 0;
        for (int64_t j = 0; j < g.n; ++j) s += std::exp(to_compute(x[base + j * g.inner]) - m);
        // Reads element j before writing it, so the output may share the input's buffer.
        const double log_s = std::log(s);
        for (int64_t j = 0; j < g.n; ++j) {
          const int64_t i = base + j * g.inner;
          const double v = to_compute(x[i]) - m;
          y[i] = from_compute<T>(log ? v - log_s : std::exp(v) / s);
        }
      }
    });
    return {};
  };
  if (in[0].dtype == DType::kF16) return body(Half{});
  if (in[0].dtype == DType::kBF16) return body(BFloat16{});
  return dispatch_float(in[0].dtype, n, body);
}

const OpSchema kSchemas[] = {
    {"Softmax", 1, 1, 1, 1, infer, run, nullptr, true},
    {"LogSoftmax", 1, 1, 1, 1, infer, run, nullptr, true},
};

}  // namespace

std::span<const OpSchema> softmax_schemas() { return kSchemas; }

}  // namespace quench::ops
