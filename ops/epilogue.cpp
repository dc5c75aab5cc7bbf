#include "ops/epilogue.h"

#include <limits>
#include <type_traits>

#include "ops/op_util.h"
#include "ops/parallel.h"

namespace quench::ops {
namespace {

constexpr std::pair<std::string_view, ActKind> kKinds[] = {
    {"Relu", ActKind::kRelu},       {"Clip", ActKind::kClip},           {"LeakyRelu", ActKind::kLeakyRelu},
    {"HardSigmoid", ActKind::kHardSigmoid}, {"HardSwish", ActKind::kHardSwish}, {"Sigmoid", ActKind::kSigmoid},
    {"SiLU", ActKind::kSiLU},
};

template <class T>
void epilogue_cpu(T* y, const T* r, int64_t count, const Activation& a, bool after) {
  parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double v = static_cast<double>(y[i]);
      if (r && !after) v += static_cast<double>(r[i]);
      v = apply_activation(a, v);
      if (r && after) v += static_cast<double>(r[i]);
      y[i] = static_cast<T>(v);
    }
  });
}

}  // namespace

std::string_view act_kind_name(ActKind k) {
  for (auto [name, kind] : kKinds)
    if (kind == k) return name;
  return "";
}

bool act_kind_from_name(std::string_view name, ActKind* out) {
  if (name.empty()) {
    *out = ActKind::kNone;
    return true;
  }
  for (auto [n, kind] : kKinds)
    if (n == name) {
      *out = kind;
      return true;
    }
  return false;
}

Result<Activation> read_activation(const NodeDesc& n, const StageAttrs& names) {
  Activation a;
  QUENCH_ASSIGN(std::string_view kind, string_attr(n, names.kind, ""));
  if (!act_kind_from_name(kind, &a.kind))
    return error(StatusCode::kUnsupported, n.where(), ": attribute '", names.kind, "' is '", kind,
                 "'; expected one of Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, SiLU or empty");
  if (a.kind == ActKind::kNone) return a;
  // The unary op's own defaults, so an omitted constant means what it means on the unfused op.
  float alpha_default = 0.0f, beta_default = 0.0f;
  if (a.kind == ActKind::kLeakyRelu) alpha_default = 0.01f;
  if (a.kind == ActKind::kHardSigmoid) {
    alpha_default = 0.2f;
    beta_default = 0.5f;
  }
  if (a.kind == ActKind::kClip) {
    alpha_default = -std::numeric_limits<float>::infinity();
    beta_default = std::numeric_limits<float>::infinity();
  }
  QUENCH_ASSIGN(float alpha, float_attr(n, names.alpha, alpha_default));
  QUENCH_ASSIGN(float beta, float_attr(n, names.beta, beta_default));
  switch (a.kind) {
    case ActKind::kClip:
      a.fn = UnaryFn::kClip;
      a.params.lo = alpha;
      a.params.hi = beta;
      break;
    case ActKind::kSiLU: a.fn = UnaryFn::kSigmoid; break;
    default:
      a.fn = unary_fn(act_kind_name(a.kind));
      a.params.alpha = alpha;
      a.params.beta = beta;
      break;
  }
  return a;
}

double apply_activation(const Activation& a, double x) {
  switch (a.kind) {
    case ActKind::kNone: return x;
    case ActKind::kSiLU: return x * unary_apply(UnaryFn::kSigmoid, x, a.params);
    default: return unary_apply(a.fn, x, a.params);
  }
}

Status apply_epilogue(const NodeDesc& n, DType dtype, void* y, const void* r, int64_t count, const Activation& a,
                      bool residual_after) {
  if (a.kind == ActKind::kNone && !r) return {};
  return dispatch_float(dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    epilogue_cpu<T>(static_cast<T*>(y), static_cast<const T*>(r), count, a, residual_after);
    return {};
  });
}

Status check_activation(const NodeDesc& n, const StageAttrs& names) { return read_activation(n, names).status(); }

}  // namespace quench::ops
