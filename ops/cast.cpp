// Cast (element type from attribute `to`) and CastLike (element type of input 1) among the
// types quench can hold: float32/64, float16, bfloat16, the integers and bool.
//   float -> integer: truncates toward zero, saturates, nan gives 0 (ONNX leaves it undefined);
//   integer -> narrower integer: wraps (as numpy's astype);
//   anything -> bool: nonzero (nan included) is true;
//   -> float16 / bfloat16: rounded once to nearest even, even from double.
// `saturate` (opset 19) concerns float8 types only, which quench does not hold.
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

struct Bool { uint8_t v; };  // told apart from uint8_t

bool castable(DType t) { return dtype_is_float(t) || dtype_is_integer(t) || t == DType::kBool; }

template <class F>
Status dispatch_cast(DType t, const NodeDesc& n, F&& f) {
  if (t == DType::kBool) return f(Bool{});
  return dispatch_numeric_or_half(t, n, f);
}

// An element as a plain C++ value: bool as 0/1, 16-bit floats as float.
template <class S>
auto value_of(S s) {
  if constexpr (std::is_same_v<S, Bool>) return static_cast<uint8_t>(s.v != 0);
  else if constexpr (std::is_same_v<S, Half>) return half_to_float(s.bits);
  else if constexpr (std::is_same_v<S, BFloat16>) return bf16_to_float(s.bits);
  else return s;
}

// double -> float rounding to odd (toward zero, then the last bit set when inexact), so that a
// second rounding to a narrower float (half, bfloat16) equals one direct rounding.
float round_to_odd(double v) {
  float f = static_cast<float>(v);
  if (std::isfinite(f) && static_cast<double>(f) != v) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits |= 1u;
    std::memcpy(&f, &bits, 4);
  }
  return f;
}

template <class D, class V>
D convert(V v) {
  if constexpr (std::is_same_v<D, Bool>) {
    return Bool{static_cast<uint8_t>(v != 0)};
  } else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) {
    const float f = std::is_same_v<V, float> ? static_cast<float>(v) : round_to_odd(static_cast<double>(v));
    if constexpr (std::is_same_v<D, Half>) return Half{float_to_half(f)};
    else return BFloat16{float_to_bf16(f)};
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_floating_point_v<V>) {
    return saturate_cast<D>(static_cast<double>(v));  // float -> double is exact
  } else {
    return static_cast<D>(v);  // integer to integer: modular since C++20
  }
}

Result<DType> target_of(const NodeDesc& n, std::span<const ValueDesc> in) {
  if (n.op_type == "CastLike") return in[1].dtype;
  if (!n.attrs.has("to")) return error(StatusCode::kInvalidArgument, n.where(), ": required attribute 'to' is missing");
  QUENCH_ASSIGN(int64_t to, n.attrs.get_int("to", 0, n.where()));
  DType t = DType::kUndefined;
  if (to < std::numeric_limits<int32_t>::min() || to > std::numeric_limits<int32_t>::max() ||
      !dtype_from_onnx(static_cast<int32_t>(to), &t))
    return error(StatusCode::kUnsupported, n.where(), ": target type ", to, " is not an element type quench supports");
  return t;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(DType to, target_of(n, in));
  if (!castable(in[0].dtype))
    return error(StatusCode::kUnsupported, n.where(), ": cannot cast from element type ", dtype_name(in[0].dtype));
  if (!castable(to)) return error(StatusCode::kUnsupported, n.where(), ": cannot cast to element type ", dtype_name(to));
  out[0].dtype = to;
  out[0].shape = in[0].shape;
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const int64_t count = in[0].numel();
  if (in[0].dtype == out[0].dtype) {
    if (in[0].data != out[0].data) copy_elements(in[0].data, out[0].data, count, in[0].dtype);
    return {};
  }
  return dispatch_cast(in[0].dtype, n, [&](auto src_tag) -> Status {
    using S = decltype(src_tag);
    return dispatch_cast(out[0].dtype, n, [&](auto dst_tag) -> Status {
      using D = decltype(dst_tag);
      const S* x = in[0].as<S>();
      D* y = out[0].as<D>();
      parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = convert<D>(value_of(x[i]));
      });
      return {};
    });
  });
}

const OpSchema kSchemas[] = {
    // Only an identity cast can run in place, and that is the only case the planner allows.
    {"Cast", 1, 1, 1, 1, infer, run, nullptr, true},
    {"CastLike", 2, 2, 1, 1, infer, run, nullptr, true},
};

}  // namespace

std::span<const OpSchema> cast_schemas() { return kSchemas; }

}  // namespace quench::ops
