// Element-wise operators over numpy-broadcast inputs: Add Sub Mul Div Pow PRelu Equal Min Max
// (variadic) and Where. Floating types compute in double and round once; integers wrap like
// two's complement hardware (never undefined behaviour), and integer Div truncates like C.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

enum class Op { kAdd, kSub, kMul, kDiv, kPow, kPRelu, kEqual, kMin, kMax, kWhere };

Op op_of(std::string_view op) {
  static constexpr std::pair<std::string_view, Op> kMap[] = {
      {"Add", Op::kAdd}, {"Sub", Op::kSub}, {"Mul", Op::kMul}, {"Div", Op::kDiv}, {"Pow", Op::kPow},
      {"PRelu", Op::kPRelu}, {"Equal", Op::kEqual}, {"Min", Op::kMin}, {"Max", Op::kMax}};
  for (auto [name, o] : kMap)
    if (name == op) return o;
  return Op::kWhere;
}

// ------------------------------------------------------------------------------ broadcasting

// A shape held on the stack, so run functions can reshape inputs without allocating.
struct Dims {
  int rank = 0;
  Index d{};
};

Dims dims_of(const Shape& s) {
  Dims r;
  r.rank = static_cast<int>(std::min<size_t>(s.size(), kMaxRank));
  for (int i = 0; i < r.rank; ++i) r.d[i] = s[i];
  return r;
}

Shape shape_of(const Dims& d) { return Shape(d.d.begin(), d.d.begin() + d.rank); }

// Element strides of `in` right-aligned against `out`, 0 along broadcast dims.
Index strides_for(const Dims& in, const Dims& out) {
  Index st{};
  const int off = out.rank - in.rank;
  int64_t acc = 1;
  for (int i = in.rank - 1; i >= 0; --i) {
    st[off + i] = (in.d[i] == 1 && out.d[off + i] != 1) ? 0 : acc;
    acc *= in.d[i];
  }
  return st;
}

// Calls row(out_offset, count, in_offsets, inner_strides) for every innermost row of `out`,
// rows spread over cores. Input k's element j of the row is at in_offsets[k] + j * inner_strides[k].
template <size_t N, class RowFn>
void for_each_row(const Dims& out, const std::array<Index, N>& st, RowFn&& row) {
  const int rank = out.rank;
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= out.d[i];
  if (total == 0) return;
  const int64_t inner = rank > 0 ? out.d[rank - 1] : 1;
  std::array<int64_t, N> is{};
  for (size_t k = 0; k < N; ++k) is[k] = rank > 0 ? st[k][rank - 1] : 0;
  parallel_for(total / inner, std::max<int64_t>(1, (int64_t{1} << 14) / inner), [&](int64_t b, int64_t e) {
    // Decompose the first row index once, then step the outer dims like an odometer.
    Index idx{};
    std::array<int64_t, N> off{};
    int64_t rem = b;
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = rem % out.d[d];
      rem /= out.d[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[k][d];
    }
    for (int64_t r = b; r < e; ++r) {
      row(r * inner, inner, off, is);
      for (int d = rank - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) off[k] += st[k][d];
        if (++idx[d] < out.d[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= st[k][d] * out.d[d];
        idx[d] = 0;
      }
    }
  });
}

// out[i] = f(a[..], b[..]) over the broadcast of a and b to out's dims.
template <class A, class B, class R, class F>
void broadcast2(const void* a, const Dims& ad, const void* b, const Dims& bd, void* out, const Dims& od, F f) {
  const A* pa = static_cast<const A*>(a);
  const B* pb = static_cast<const B*>(b);
  R* po = static_cast<R*>(out);
  const std::array<Index, 2> st{strides_for(ad, od), strides_for(bd, od)};
  for_each_row<2>(od, st, [&](int64_t o, int64_t count, const std::array<int64_t, 2>& off,
                              const std::array<int64_t, 2>& is) {
    for (int64_t i = 0; i < count; ++i) po[o + i] = f(pa[off[0] + i * is[0]], pb[off[1] + i * is[1]]);
  });
}

// Opsets before 7 (Add Sub Mul Div Pow Equal) broadcast only with broadcast=1, B aligned with
// A's dims from `axis` (default: B's dims are A's trailing dims).
bool legacy_broadcast(const NodeDesc& n, Op op) {
  return n.opset > 0 && n.opset < 7 &&
         (op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv || op == Op::kPow || op == Op::kEqual);
}

Result<Dims> legacy_b_dims(const NodeDesc& n, const Dims& a, const Dims& b) {
  QUENCH_ASSIGN(int64_t bc, int_attr(n, "broadcast", 0));
  bool ok = true;
  Dims r = b;
  if (bc == 0) {
    ok = a.rank == b.rank && std::equal(a.d.begin(), a.d.begin() + a.rank, b.d.begin());
  } else {
    QUENCH_ASSIGN(int64_t axis, int_attr(n, "axis", a.rank - b.rank));
    if (axis < 0) axis += a.rank;
    ok = axis >= 0 && axis + b.rank <= a.rank;
    if (ok) {
      r.rank = a.rank;
      r.d.fill(1);
      for (int i = 0; i < b.rank; ++i) r.d[axis + i] = b.d[i];
      for (int i = 0; i < a.rank; ++i) ok = ok && (r.d[i] == a.d[i] || r.d[i] == 1);
    }
  }
  if (!ok)
    return error(StatusCode::kShapeError, n.where(), ": input 1 of shape ", shape_str(shape_of(b)),
                 " does not broadcast to input 0 of shape ", shape_str(shape_of(a)), " (opset ", n.opset,
                 " broadcasting: attributes 'broadcast' and 'axis')");
  return r;
}

// Opset 6 PRelu: a 1-D slope as long as X's dim 1 holds one slope per channel. (From opset 7
// the slope broadcasts to X numpy-style, which would align it with X's last dim instead.)
Dims prelu_slope_dims(const NodeDesc& n, const Dims& x, const Dims& slope) {
  if (!(n.opset > 0 && n.opset < 7 && slope.rank == 1 && x.rank >= 2 && slope.d[0] == x.d[1])) return slope;
  Dims r;  // [C, 1, ..., 1]: right-aligned against X, C lands on dim 1
  r.rank = x.rank - 1;
  r.d.fill(1);
  r.d[0] = slope.d[0];
  return r;
}

// ------------------------------------------------------------------------------ arithmetic

template <class C>
C wrap(uint64_t v) { return static_cast<C>(v); }  // modular since C++20

template <class C>
C arith(Op op, C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case Op::kAdd: return a + b;
      case Op::kSub: return a - b;
      case Op::kMul: return a * b;
      case Op::kDiv: return a / b;
      case Op::kPRelu: return a < 0 ? a * b : a;
      case Op::kMin: return (std::isnan(a) || std::isnan(b)) ? std::numeric_limits<C>::quiet_NaN() : std::min(a, b);
      case Op::kMax: return (std::isnan(a) || std::isnan(b)) ? std::numeric_limits<C>::quiet_NaN() : std::max(a, b);
      default: return a;
    }
  } else {
    // Through uint64_t: wraps instead of overflowing (small types would otherwise promote to
    // int, where uint16 * uint16 can overflow).
    const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
    switch (op) {
      case Op::kAdd: return wrap<C>(ua + ub);
      case Op::kSub: return wrap<C>(ua - ub);
      case Op::kMul: return wrap<C>(ua * ub);
      case Op::kDiv:
        // x / 0 is 0 (as numpy) and MIN / -1 wraps: both would trap on x86.
        if (b == 0) return C{0};
        if constexpr (std::is_signed_v<C>)
          if (b == -1) return wrap<C>(uint64_t{0} - ua);
        return static_cast<C>(a / b);
      case Op::kPRelu: return a < C{0} ? wrap<C>(ua * ub) : a;
      case Op::kMin: return std::min(a, b);
      case Op::kMax: return std::max(a, b);
      default: return a;
    }
  }
}

// Exact integer power, wrapping like repeated multiplication.
template <class T>
T int_pow(T base, int64_t e) {
  if (e < 0) {  // 1 / base^|e| truncated: 0 unless |base| is 1
    if (base == T{1}) return T{1};
    if constexpr (std::is_signed_v<T>)
      if (base == T{-1}) return (e & 1) ? T{-1} : T{1};
    return T{0};
  }
  uint64_t r = 1, b = static_cast<uint64_t>(base);
  for (; e > 0; e >>= 1) {
    if (e & 1) r *= b;
    b *= b;
  }
  return wrap<T>(r);
}

// Base T, exponent E (any numeric types): the result has the base's type.
template <class T, class E>
T power(T x, E y) {
  using CT = compute_t<T>;
  using CE = compute_t<E>;
  const CT cx = to_compute(x);
  const CE cy = to_compute(y);
  if constexpr (std::is_integral_v<CT> && std::is_integral_v<CE>) {
    int64_t e;
    if constexpr (std::is_unsigned_v<CE> && sizeof(CE) == 8)
      e = cy > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                            : static_cast<int64_t>(cy);
    else
      e = static_cast<int64_t>(cy);
    return int_pow<T>(x, e);
  } else {
    const double r = std::pow(static_cast<double>(cx), static_cast<double>(cy));
    if constexpr (std::is_integral_v<CT>) return saturate_cast<T>(r);
    else return from_compute<T>(r);
  }
}

// ---------------------------------------------------------------------------------- infer

bool is_arith(DType t) { return dtype_is_float(t) || dtype_is_integer(t); }

Status dtype_error(const NodeDesc& n, size_t i, DType t) {
  return error(StatusCode::kUnsupported, n.where(), ": input ", i, " has element type ", dtype_name(t), ", which ",
               n.op_type, " does not support");
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const Op op = op_of(n.op_type);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].present) return error(StatusCode::kInvalidArgument, n.where(), ": input ", i, " is missing");
    QUENCH_TRY(require_rank_at_most(in[i].shape, n, "input " + std::to_string(i)));
  }
  // Element types: one shared type, except Pow's exponent and Where's condition.
  if (op == Op::kWhere) {
    if (in[0].dtype != DType::kBool) return error(StatusCode::kInvalidArgument, n.where(), ": condition (input 0) must be bool, got ", dtype_name(in[0].dtype));
    if (dtype_size(in[1].dtype) == 0) return dtype_error(n, 1, in[1].dtype);
  } else if (op == Op::kEqual) {
    if (!is_arith(in[0].dtype) && in[0].dtype != DType::kBool) return dtype_error(n, 0, in[0].dtype);
  } else {
    if (!is_arith(in[0].dtype)) return dtype_error(n, 0, in[0].dtype);
    if (op == Op::kPow && !is_arith(in[1].dtype)) return dtype_error(n, 1, in[1].dtype);
  }
  const size_t first_same = op == Op::kWhere ? 1 : 0;
  for (size_t i = first_same + 1; i < in.size(); ++i)
    if (op != Op::kPow && in[i].dtype != in[first_same].dtype)
      return error(StatusCode::kInvalidArgument, n.where(), ": input ", i, " has element type ", dtype_name(in[i].dtype),
                   " but input ", first_same, " has ", dtype_name(in[first_same].dtype));

  Shape s;
  if (legacy_broadcast(n, op)) {
    QUENCH_ASSIGN(Dims bd, legacy_b_dims(n, dims_of(in[0].shape), dims_of(in[1].shape)));
    (void)bd;
    s = in[0].shape;
  } else {
    std::vector<Shape> shapes;
    for (const ValueDesc& v : in) shapes.push_back(v.shape);
    if (op == Op::kPRelu) shapes[1] = shape_of(prelu_slope_dims(n, dims_of(in[0].shape), dims_of(in[1].shape)));
    QUENCH_ASSIGN(s, broadcast_shapes(shapes, n));
    if (op == Op::kPRelu && s != in[0].shape)  // slope broadcasts to X, never the reverse
      return error(StatusCode::kShapeError, n.where(), ": slope of shape ", shape_str(in[1].shape),
                   " does not broadcast to X of shape ", shape_str(in[0].shape));
  }
  out[0].dtype = op == Op::kEqual ? DType::kBool : op == Op::kWhere ? in[1].dtype : in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

// ------------------------------------------------------------------------------------ run

Status run_where(const NodeDesc& n, std::span<const TensorView> in, const TensorView& out, const Dims& od) {
  const std::array<Index, 3> st{strides_for(dims_of(in[0].shape), od), strides_for(dims_of(in[1].shape), od),
                                strides_for(dims_of(in[2].shape), od)};
  // Elements are only picked, never computed: any dtype of the right width will do.
  return dispatch_by_size(out.dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    const uint8_t* c = in[0].as<uint8_t>();
    const T* x = in[1].as<T>();
    const T* y = in[2].as<T>();
    T* o = out.as<T>();
    for_each_row<3>(od, st, [&](int64_t base, int64_t count, const std::array<int64_t, 3>& off,
                                const std::array<int64_t, 3>& is) {
      for (int64_t i = 0; i < count; ++i)
        o[base + i] = c[off[0] + i * is[0]] ? x[off[1] + i * is[1]] : y[off[2] + i * is[2]];
    });
    return {};
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Op op = op_of(n.op_type);
  const TensorView& o = out[0];
  if (o.numel() == 0) return {};
  const Dims od = dims_of(o.shape);
  if (op == Op::kWhere) return run_where(n, in, o, od);

  const Dims ad = dims_of(in[0].shape);
  if (in.size() == 1) {  // Min / Max of one input
    if (in[0].data != o.data) copy_elements(in[0].data, o.data, o.numel(), o.dtype);
    return {};
  }
  Dims bd = dims_of(in[1].shape);
  if (legacy_broadcast(n, op)) { QUENCH_ASSIGN(bd, legacy_b_dims(n, ad, bd)); }
  if (op == Op::kPRelu) bd = prelu_slope_dims(n, ad, bd);

  if (op == Op::kPow) {
    return dispatch_numeric_or_half(in[0].dtype, n, [&](auto base_tag) -> Status {
      using T = decltype(base_tag);
      return dispatch_numeric_or_half(in[1].dtype, n, [&](auto exp_tag) -> Status {
        using E = decltype(exp_tag);
        broadcast2<T, E, T>(in[0].data, ad, in[1].data, bd, o.data, od, [](T x, E y) { return power<T, E>(x, y); });
        return {};
      });
    });
  }
  if (op == Op::kEqual) {
    if (in[0].dtype == DType::kBool) {
      broadcast2<uint8_t, uint8_t, uint8_t>(in[0].data, ad, in[1].data, bd, o.data, od,
                                            [](uint8_t a, uint8_t b) -> uint8_t { return (a != 0) == (b != 0); });
      return {};
    }
    return dispatch_numeric_or_half(in[0].dtype, n, [&](auto tag) -> Status {
      using T = decltype(tag);
      broadcast2<T, T, uint8_t>(in[0].data, ad, in[1].data, bd, o.data, od,
                                [](T a, T b) -> uint8_t { return to_compute(a) == to_compute(b); });
      return {};
    });
  }
  return dispatch_numeric_or_half(o.dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    auto f = [op](T a, T b) { return from_compute<T>(arith(op, to_compute(a), to_compute(b))); };
    broadcast2<T, T, T>(in[0].data, ad, in[1].data, bd, o.data, od, f);
    // Min / Max of more inputs: fold the rest into the output, which already has the full shape.
    for (size_t k = 2; k < in.size(); ++k) broadcast2<T, T, T>(o.data, od, in[k].data, dims_of(in[k].shape), o.data, od, f);
    return {};
  });
}

// Every op reads its inputs' element i (same shape as the output when sizes match) before
// writing output element i, so output 0 may take input 0's buffer.
constexpr OpSchema binary(std::string_view name) { return {name, 2, 2, 1, 1, infer, run, nullptr, true}; }

const OpSchema kSchemas[] = {
    binary("Add"), binary("Sub"), binary("Mul"), binary("Div"), binary("Pow"), binary("PRelu"), binary("Equal"),
    {"Min", 1, -1, 1, 1, infer, run, nullptr, true},
    {"Max", 1, -1, 1, 1, infer, run, nullptr, true},
    {"Where", 3, 3, 1, 1, infer, run, nullptr, true},
};

}  // namespace

std::span<const OpSchema> binary_schemas() { return kSchemas; }

}  // namespace quench::ops
