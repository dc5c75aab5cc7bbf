// Element-wise unary operators: activations and math functions, plus Identity and Dropout
// (inference: a copy). Floating types compute in double and round once.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/unary.h"

namespace quench::ops {
namespace {

using Fn = UnaryFn;  // shared with the fused ops' epilogues (ops/unary.h)
using Params = UnaryParams;

Fn fn_of(std::string_view op) {
  static constexpr std::pair<std::string_view, Fn> kMap[] = {
      {"Relu", Fn::kRelu}, {"LeakyRelu", Fn::kLeakyRelu}, {"Clip", Fn::kClip}, {"Sigmoid", Fn::kSigmoid},
      {"HardSigmoid", Fn::kHardSigmoid}, {"HardSwish", Fn::kHardSwish}, {"Tanh", Fn::kTanh}, {"Elu", Fn::kElu},
      {"Sqrt", Fn::kSqrt}, {"Erf", Fn::kErf}, {"Neg", Fn::kNeg}, {"Abs", Fn::kAbs}, {"Exp", Fn::kExp},
      {"Log", Fn::kLog}, {"Floor", Fn::kFloor}, {"Ceil", Fn::kCeil}};
  for (auto [name, fn] : kMap)
    if (name == op) return fn;
  return Fn::kCopy;  // Identity, Dropout
}

bool integer_ok(Fn f) { return f == Fn::kRelu || f == Fn::kClip || f == Fn::kNeg || f == Fn::kAbs || f == Fn::kCopy; }

double apply(Fn f, double x, const Params& p) {
  switch (f) {
    case Fn::kRelu: return x > 0 ? x : (x == x ? 0.0 : x);  // keeps nan
    case Fn::kLeakyRelu: return x >= 0 ? x : p.alpha * x;
    case Fn::kClip: return std::isnan(x) ? x : std::min(std::max(x, p.lo), p.hi);
    case Fn::kSigmoid: return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    case Fn::kHardSigmoid: return std::max(0.0, std::min(1.0, p.alpha * x + p.beta));
    case Fn::kHardSwish: return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case Fn::kTanh: return std::tanh(x);
    case Fn::kElu: return x >= 0 ? x : p.alpha * (std::exp(x) - 1.0);
    case Fn::kSqrt: return std::sqrt(x);
    case Fn::kErf: return std::erf(x);
    case Fn::kNeg: return -x;
    case Fn::kAbs: return std::fabs(x);
    case Fn::kExp: return std::exp(x);
    case Fn::kLog: return std::log(x);
    case Fn::kFloor: return std::floor(x);
    case Fn::kCeil: return std::ceil(x);
    case Fn::kCopy: return x;
  }
  return x;
}

template <class T>
T apply_int(Fn f, T x, const Params& p) {
  switch (f) {
    case Fn::kRelu: return x > T{0} ? x : T{0};
    case Fn::kClip: {
      const double v = std::min(std::max(static_cast<double>(x), p.lo), p.hi);
      return static_cast<T>(v);
    }
    case Fn::kNeg: return static_cast<T>(-x);
    case Fn::kAbs: return x < T{0} ? static_cast<T>(-x) : x;
    default: return x;
  }
}

// Clip's bounds: attributes before opset 11, optional inputs from 11 on.
Result<Params> params_of(const NodeDesc& n, std::span<const TensorView> in) {
  Params p;
  // Only these ops have parameters; the others must not pay for building a message prefix
  // on every run (a run allocates nothing).
  if (n.op_type != "LeakyRelu" && n.op_type != "Elu" && n.op_type != "HardSigmoid" && n.op_type != "Clip") return p;
  const std::string w = n.where();
  if (n.op_type == "LeakyRelu") { QUENCH_ASSIGN(float a, n.attrs.get_float("alpha", 0.01f, w)); p.alpha = a; }
  if (n.op_type == "Elu") { QUENCH_ASSIGN(float a, n.attrs.get_float("alpha", 1.0f, w)); p.alpha = a; }
  if (n.op_type == "HardSigmoid") {
    QUENCH_ASSIGN(float a, n.attrs.get_float("alpha", 0.2f, w));
    QUENCH_ASSIGN(float b, n.attrs.get_float("beta", 0.5f, w));
    p.alpha = a; p.beta = b;
  }
  if (n.op_type == "Clip") {
    if (n.opset > 0 && n.opset < 11) {
      QUENCH_ASSIGN(float lo, n.attrs.get_float("min", -std::numeric_limits<float>::infinity(), w));
      QUENCH_ASSIGN(float hi, n.attrs.get_float("max", std::numeric_limits<float>::infinity(), w));
      p.lo = lo; p.hi = hi;
    } else {
      auto bound = [&](size_t i, double& dst) -> Status {
        if (in.size() <= i || in[i].data == nullptr) return {};
        if (in[i].numel() != 1) return error(StatusCode::kInvalidArgument, w, ": Clip bound ", i, " must be a scalar");
        Tensor t = Tensor::view(in[i].dtype, in[i].shape, in[i].data, nullptr);
        dst = t.value_as_double(0);
        return {};
      };
      QUENCH_TRY(bound(1, p.lo));
      QUENCH_TRY(bound(2, p.hi));
    }
  }
  return p;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const Fn f = fn_of(n.op_type);
  if (!dtype_is_float(in[0].dtype) && !(integer_ok(f) && (dtype_is_integer(in[0].dtype) || in[0].dtype == DType::kBool)))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(in[0].dtype),
                 ", which ", n.op_type, " does not support");
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i].present && in[i].dtype != in[0].dtype && n.op_type == "Clip")
      return error(StatusCode::kInvalidArgument, n.where(), ": Clip bounds must have the input's element type");
  out[0].dtype = in[0].dtype;
  out[0].shape = in[0].shape;
  if (out.size() > 1 && out[1].present) {  // Dropout's mask: all true at inference
    out[1].dtype = DType::kBool;
    out[1].shape = in[0].shape;
  }
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Fn f = fn_of(n.op_type);
  QUENCH_ASSIGN(Params p, params_of(n, in));
  const int64_t count = in[0].numel();
  if (out.size() > 1 && out[1].data) std::memset(out[1].data, 1, static_cast<size_t>(count));
  if (f == Fn::kCopy) {
    copy_elements(in[0].data, out[0].data, count, in[0].dtype);
    return {};
  }
  return dispatch_numeric(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in[0].as<T>();
    T* y = out[0].as<T>();
    parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if constexpr (std::is_floating_point_v<T>) y[i] = static_cast<T>(apply(f, static_cast<double>(x[i]), p));
        else y[i] = apply_int<T>(f, x[i], p);
      }
    });
    return {};
  });
}

// Every unary op reads x[i] before writing y[i], so it may run in place.
constexpr OpSchema unary(std::string_view name) { return {name, 1, 1, 1, 1, infer, run, nullptr, true}; }

const OpSchema kSchemas[] = {
    unary("Relu"), unary("LeakyRelu"), {"Clip", 1, 3, 1, 1, infer, run, nullptr, true}, unary("Sigmoid"),
    unary("HardSigmoid"), unary("HardSwish"), unary("Tanh"), unary("Elu"), unary("Sqrt"), unary("Erf"),
    unary("Neg"), unary("Abs"), unary("Exp"), unary("Log"), unary("Floor"), unary("Ceil"), unary("Identity"),
    {"Dropout", 1, 3, 1, 2, infer, run, nullptr, true},
};

}  // namespace

std::span<const OpSchema> unary_schemas() { return kSchemas; }

UnaryFn unary_fn(std::string_view op_type) { return fn_of(op_type); }
double unary_apply(UnaryFn f, double x, const UnaryParams& p) { return apply(f, x, p); }

}  // namespace quench::ops
