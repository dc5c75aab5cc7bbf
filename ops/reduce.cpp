// Reductions over a set of axes: ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1
// ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare. Floating types accumulate in double;
// integer sums and products wrap (as the hardware would), never overflow into undefined
// behaviour. The axes are an attribute before opset 13 (ReduceSum) / 18 (the others) and an
// optional input after, which must then be known at build time since it decides the shape.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

Kind kind_of(std::string_view op) {
  static constexpr std::pair<std::string_view, Kind> kMap[] = {
      {"ReduceSum", Kind::kSum}, {"ReduceMean", Kind::kMean}, {"ReduceMax", Kind::kMax},
      {"ReduceMin", Kind::kMin}, {"ReduceProd", Kind::kProd}, {"ReduceL1", Kind::kL1},
      {"ReduceL2", Kind::kL2}, {"ReduceLogSum", Kind::kLogSum}, {"ReduceLogSumExp", Kind::kLogSumExp}};
  for (auto [name, k] : kMap)
    if (name == op) return k;
  return Kind::kSumSquare;
}

// Opset 0 means "no opset given": the newest form.
bool axes_are_input(const NodeDesc& n, Kind k) { return n.opset == 0 || n.opset >= (k == Kind::kSum ? 13 : 18); }

// The axes as given: the attribute's values, or input 1's raw elements.
struct AxesArg {
  bool from_input = false;
  std::span<const int64_t> attr;
  const void* data = nullptr;  // input 1, null when omitted
  DType dtype = DType::kUndefined;
  int64_t count = 0;
  int64_t at(int64_t i) const { return from_input ? element_as_int64(data, dtype, i) : attr[i]; }
  int64_t size() const { return from_input ? count : static_cast<int64_t>(attr.size()); }
};

// Bit d is set when dim d is reduced. Shared by infer and run, so both read the axes one way.
Result<uint32_t> reduced_mask(const NodeDesc& n, Kind k, int rank, const AxesArg& axes) {
  if (axes.size() == 0) {
    QUENCH_ASSIGN(int64_t noop, int_attr(n, "noop_with_empty_axes", 0));
    // No axes: all of them, unless noop_with_empty_axes (input form only) asks for none.
    return (axes_are_input(n, k) && noop != 0) ? 0u : (1u << rank) - 1u;
  }
  uint32_t mask = 0;
  for (int64_t i = 0; i < axes.size(); ++i) {
    QUENCH_ASSIGN(int64_t a, normalize_axis(axes.at(i), rank, n));
    if (rank == 0) continue;  // axis 0 / -1 of a scalar: nothing to reduce
    if (mask & (1u << a)) return error(StatusCode::kInvalidArgument, n.where(), ": axis ", axes.at(i), " is repeated");
    mask |= 1u << a;
  }
  return mask;
}

Result<AxesArg> axes_at_build(const NodeDesc& n, Kind k, std::span<const ValueDesc> in) {
  AxesArg a;
  a.from_input = axes_are_input(n, k);
  if (!a.from_input) {
    QUENCH_ASSIGN(a.attr, ints_attr(n, "axes"));
    return a;
  }
  if (in.size() < 2 || !in[1].present) return a;
  if (!in[1].constant)
    return error(StatusCode::kUnsupported, n.where(), ": input 1 (axes) must be known at build time (a constant)");
  if (!dtype_is_integer(in[1].constant->dtype()))
    return error(StatusCode::kInvalidArgument, n.where(), ": input 1 (axes) must be an integer tensor, got ",
                 dtype_name(in[1].constant->dtype()));
  a.data = in[1].constant->data();
  a.dtype = in[1].constant->dtype();
  a.count = in[1].constant->numel();
  return a;
}

Result<AxesArg> axes_at_run(const NodeDesc& n, Kind k, std::span<const TensorView> in) {
  AxesArg a;
  a.from_input = axes_are_input(n, k);
  if (!a.from_input) {
    QUENCH_ASSIGN(a.attr, ints_attr(n, "axes"));
    return a;
  }
  if (in.size() < 2 || !in[1].data) return a;
  a.data = in[1].data;
  a.dtype = in[1].dtype;
  a.count = in[1].numel();
  return a;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const Kind k = kind_of(n.op_type);
  const DType t = in[0].dtype;
  const bool bool_ok = k == Kind::kMax || k == Kind::kMin;  // opset 20: any / all
  if (!dtype_is_float(t) && !dtype_is_integer(t) && !(bool_ok && t == DType::kBool))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(t), ", which ", n.op_type,
                 " does not support");
  QUENCH_TRY(require_rank_at_most(in[0].shape, n, "input 0"));
  const int rank = static_cast<int>(in[0].shape.size());
  QUENCH_ASSIGN(AxesArg axes, axes_at_build(n, k, in));
  QUENCH_ASSIGN(uint32_t mask, reduced_mask(n, k, rank, axes));
  QUENCH_ASSIGN(int64_t keepdims, n.attrs.get_int("keepdims", 1, n.where()));
  Shape s;
  for (int d = 0; d < rank; ++d) {
    if (!(mask & (1u << d))) s.push_back(in[0].shape[d]);
    else if (keepdims) s.push_back(1);
  }
  out[0].dtype = t;
  out[0].shape = std::move(s);
  return {};
}

// The input's dims split into kept dims (one output element per index) and reduced dims.
struct Layout {
  int nk = 0, nr = 0;
  Index kd{}, ks{};  // kept dims: sizes, input strides
  Index rd{}, rs{};  // reduced dims: sizes, input strides
  int64_t out_count = 1, red_count = 1;
};

Layout layout_of(const Shape& shape, uint32_t mask) {
  Layout L;
  const Index st = contiguous_strides(shape);
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (mask & (1u << d)) {
      L.rd[L.nr] = shape[d];
      L.rs[L.nr++] = st[d];
      L.red_count *= shape[d];
    } else {
      L.kd[L.nk] = shape[d];
      L.ks[L.nk++] = st[d];
      L.out_count *= shape[d];
    }
  }
  return L;
}

// Calls f(offset) for every input element reduced into the output element at `base`.
template <class F>
void visit_reduced(const Layout& L, int64_t base, F&& f) {
  if (L.red_count == 0) return;
  if (L.nr == 0) { f(base); return; }
  const int last = L.nr - 1;
  const int64_t inner = L.rd[last], is = L.rs[last];
  Index idx{};
  int64_t off = base;
  for (int64_t row = 0, rows = L.red_count / inner; row < rows; ++row) {
    for (int64_t i = 0; i < inner; ++i) f(off + i * is);
    for (int d = last - 1; d >= 0; --d) {
      off += L.rs[d];
      if (++idx[d] < L.rd[d]) break;
      off -= L.rs[d] * L.rd[d];
      idx[d] = 0;
    }
  }
}

template <class C>
C wrap(uint64_t v) { return static_cast<C>(v); }  // modular since C++20

// One output element: the reduction of x at the offsets visit_reduced yields from `base`.
template <class T>
T reduce_one(Kind k, const T* x, const Layout& L, int64_t base) {
  using C = compute_t<T>;
  auto each = [&](auto&& f) { visit_reduced(L, base, [&](int64_t off) { f(to_compute(x[off])); }); };
  if (k == Kind::kMax || k == Kind::kMin) {
    // Over nothing: the identity of the reduction (-inf / +inf, or the type's extremes).
    const bool mx = k == Kind::kMax;
    C r;
    if constexpr (std::is_floating_point_v<C>) r = mx ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
    else r = mx ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
    bool nan = false;
    each([&](C v) {
      if constexpr (std::is_floating_point_v<C>) nan = nan || std::isnan(v);
      r = mx ? std::max(r, v) : std::min(r, v);
    });
    if constexpr (std::is_floating_point_v<C>)
      if (nan) r = std::numeric_limits<C>::quiet_NaN();  // numpy propagates nan
    return from_compute<T>(r);
  }
  if constexpr (std::is_floating_point_v<C>) {
    double s = k == Kind::kProd ? 1.0 : 0.0;
    switch (k) {
      case Kind::kSum: case Kind::kMean: case Kind::kLogSum: each([&](double v) { s += v; }); break;
      case Kind::kProd: each([&](double v) { s *= v; }); break;
      case Kind::kL1: each([&](double v) { s += std::fabs(v); }); break;
      case Kind::kL2: case Kind::kSumSquare: each([&](double v) { s += v * v; }); break;
      case Kind::kLogSumExp: {
        double m = -std::numeric_limits<double>::infinity();
        each([&](double v) { m = std::max(m, v); });
        if (std::isinf(m)) return from_compute<T>(m);  // all -inf (or empty), or a +inf: no nan from inf - inf
        each([&](double v) { s += std::exp(v - m); });
        return from_compute<T>(m + std::log(s));
      }
      default: break;
    }
    if (k == Kind::kMean) s /= static_cast<double>(L.red_count);  // empty: 0/0 = nan, as numpy
    if (k == Kind::kL2) s = std::sqrt(s);
    if (k == Kind::kLogSum) s = std::log(s);
    return from_compute<T>(s);
  } else {
    // Integers: sums and products wrap through uint64_t; the rest goes through double.
    uint64_t s = k == Kind::kProd ? 1 : 0;
    double d = 0;
    switch (k) {
      case Kind::kSum: case Kind::kMean: each([&](T v) { s += static_cast<uint64_t>(v); }); break;
      case Kind::kProd: each([&](T v) { s *= static_cast<uint64_t>(v); }); break;
      case Kind::kSumSquare: each([&](T v) { s += static_cast<uint64_t>(v) * static_cast<uint64_t>(v); }); break;
      case Kind::kL1:
        each([&](T v) {
          uint64_t u = static_cast<uint64_t>(v);
          if constexpr (std::is_signed_v<T>) u = v < 0 ? uint64_t{0} - u : u;
          s += u;
        });
        break;
      case Kind::kL2: each([&](T v) { d += static_cast<double>(v) * static_cast<double>(v); }); return saturate_cast<T>(std::sqrt(d));
      case Kind::kLogSum: each([&](T v) { d += static_cast<double>(v); }); return saturate_cast<T>(std::log(d));
      case Kind::kLogSumExp: {
        double m = -std::numeric_limits<double>::infinity();
        each([&](T v) { m = std::max(m, static_cast<double>(v)); });
        if (std::isinf(m)) return saturate_cast<T>(m);
        each([&](T v) { d += std::exp(static_cast<double>(v) - m); });
        return saturate_cast<T>(m + std::log(d));
      }
      default: break;
    }
    if (k == Kind::kMean) {
      if (L.red_count == 0) return T{0};
      using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
      return static_cast<T>(static_cast<W>(s) / static_cast<W>(L.red_count));  // truncates, as C
    }
    return wrap<T>(s);
  }
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Kind k = kind_of(n.op_type);
  const int rank = static_cast<int>(in[0].shape.size());
  QUENCH_ASSIGN(AxesArg axes, axes_at_run(n, k, in));
  QUENCH_ASSIGN(uint32_t mask, reduced_mask(n, k, rank, axes));
  const Layout L = layout_of(in[0].shape, mask);
  if (L.out_count != out[0].numel())
    return error(StatusCode::kInternal, n.where(), ": output has ", out[0].numel(), " elements, expected ", L.out_count);
  return dispatch_numeric_or_half(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in[0].as<T>();
    T* y = out[0].as<T>();
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, L.red_count));
    parallel_for(L.out_count, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t base = 0;  // input offset of output element o: decompose o over the kept dims
        for (int64_t d = L.nk - 1, r = o; d >= 0; --d) {
          base += (r % L.kd[d]) * L.ks[d];
          r /= L.kd[d];
        }
        y[o] = reduce_one<T>(k, x, L, base);
      }
    });
    return {};
  });
}

constexpr OpSchema reduce(std::string_view name) { return {name, 1, 2, 1, 1, infer, run, nullptr, false}; }

const OpSchema kSchemas[] = {
    reduce("ReduceSum"), reduce("ReduceMean"), reduce("ReduceMax"), reduce("ReduceMin"), reduce("ReduceProd"),
    reduce("ReduceL1"), reduce("ReduceL2"), reduce("ReduceLogSum"), reduce("ReduceLogSumExp"), reduce("ReduceSumSquare"),
};

}  // namespace

Result<uint32_t> reduce_axes_mask(const NodeDesc& n, int rank, const Tensor* axes) {
  const Kind k = kind_of(n.op_type);
  AxesArg a;
  a.from_input = axes_are_input(n, k);
  if (!a.from_input) {
    QUENCH_ASSIGN(a.attr, ints_attr(n, "axes"));
  } else if (axes) {
    if (!dtype_is_integer(axes->dtype()))
      return error(StatusCode::kInvalidArgument, n.where(), ": input 1 (axes) must be an integer tensor, got ",
                   dtype_name(axes->dtype()));
    a.data = axes->data();
    a.dtype = axes->dtype();
    a.count = axes->numel();
  }
  return reduced_mask(n, k, rank, a);
}

std::span<const OpSchema> reduce_schemas() { return kSchemas; }

}  // namespace quench::ops
