// BatchNormalization, inference mode: y = (x - mean) / sqrt(var + epsilon) * scale + bias, per
// channel (dim 1) of an input of any rank >= 2. Training mode (batch statistics, running-mean
// outputs) is refused. Before opset 9, spatial=0 gave per-element parameters [C, D1, ...];
// those are accepted too.
#include <algorithm>
#include <cmath>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

constexpr const char* kParamNames[] = {"X", "scale", "B", "input_mean", "input_var"};

struct BnGeom {
  int64_t outer = 0, channels = 0, inner = 0;  // x is [outer=N, channels=C, inner=D1*...*Dn]
  bool per_element = false;                    // parameters are [C, D1, ...] (spatial=0)
};

Result<BnGeom> geometry(const NodeDesc& n, const Shape& x, std::span<const Shape* const> params) {
  if (x.size() < 2)
    return error(StatusCode::kShapeError, n.where(), ": input has shape ", shape_str(x),
                 "; BatchNormalization needs [N, C, ...]");
  QUENCH_TRY(require_rank_at_most(x, n, "input"));
  BnGeom g;
  g.outer = x[0];
  g.channels = x[1];
  g.inner = 1;
  for (size_t d = 2; d < x.size(); ++d) g.inner *= x[d];
  QUENCH_ASSIGN(int64_t spatial, int_attr(n, "spatial", 1));
  auto per_channel = [&](const Shape& s) { return s.size() == 1 && s[0] == g.channels; };
  auto per_element = [&](const Shape& s) { return s.size() + 1 == x.size() && std::equal(s.begin(), s.end(), x.begin() + 1); };
  g.per_element = spatial == 0 && x.size() > 2 && per_element(*params[0]);
  for (size_t i = 0; i < params.size(); ++i) {
    // All four must share one layout, or indexing would mix them.
    if (g.per_element ? per_element(*params[i]) : per_channel(*params[i])) continue;
    if (g.per_element)
      return error(StatusCode::kShapeError, n.where(), ": with spatial=0, ", kParamNames[i + 1],
                   " must have shape [C, D1, ...] like scale, got ", shape_str(*params[i]));
    return error(StatusCode::kShapeError, n.where(), ": ", kParamNames[i + 1], " has shape ", shape_str(*params[i]),
                 " but the input has ", g.channels, " channels (shape ", shape_str(x), ")");
  }
  return g;
}

Status check_mode(const NodeDesc& n, size_t present_outputs) {
  QUENCH_ASSIGN(int64_t training, int_attr(n, "training_mode", 0));
  if (training != 0)
    return error(StatusCode::kUnsupported, n.where(),
                 ": training_mode=1 (normalizing with batch statistics) is not supported; quench runs inference only");
  if (present_outputs > 1)
    return error(StatusCode::kUnsupported, n.where(),
                 ": the running/saved mean and variance outputs exist only in training mode, which is not supported");
  return {};
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  size_t present = 0;
  for (const ValueDesc& o : out) present += o.present ? 1 : 0;
  QUENCH_TRY(check_mode(n, present));
  if (!dtype_is_float(in[0].dtype))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(in[0].dtype),
                 "; BatchNormalization needs a floating type");
  const Shape* params[4];
  for (size_t i = 1; i < 5; ++i) {
    if (!in[i].present) return error(StatusCode::kInvalidArgument, n.where(), ": ", kParamNames[i], " is missing");
    // Opset 15 lets scale/bias and mean/var differ in precision; all must be floating.
    if (!dtype_is_float(in[i].dtype))
      return error(StatusCode::kInvalidArgument, n.where(), ": ", kParamNames[i], " has element type ",
                   dtype_name(in[i].dtype), "; a floating type is expected");
    params[i - 1] = &in[i].shape;
  }
  QUENCH_TRY(geometry(n, in[0].shape, params).status());
  out[0].dtype = in[0].dtype;
  out[0].shape = in[0].shape;
  return {};
}

template <class T>
T load_as(const TensorView& v, int64_t i) {
  return static_cast<T>(v.dtype == DType::kF64 ? v.as<double>()[i] : v.as<float>()[i]);
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_TRY(check_mode(n, 1));
  const Shape* params[4] = {&in[1].shape, &in[2].shape, &in[3].shape, &in[4].shape};
  QUENCH_ASSIGN(BnGeom g, geometry(n, in[0].shape, params));
  QUENCH_ASSIGN(float eps_f, float_attr(n, "epsilon", 1e-5f));
  const double eps = eps_f;
  for (size_t i = 1; i < 5; ++i)
    if (in[i].dtype != DType::kF32 && in[i].dtype != DType::kF64)
      return error(StatusCode::kUnsupported, n.where(), ": ", kParamNames[i], " has element type ",
                   dtype_name(in[i].dtype), ", which the CPU reference does not compute in");
  return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in[0].as<T>();
    T* y = out[0].as<T>();
    // One task per (n, c) plane; the per-channel scale and shift are formed in double.
    const int64_t planes = g.outer * g.channels;
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.inner)), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t c = p % g.channels;
        const T* xp = x + p * g.inner;
        T* yp = y + p * g.inner;
        // mul = scale / sqrt(var + eps), per channel or (spatial=0) per element.
        auto mul_of = [&](int64_t k) { return load_as<double>(in[1], k) / std::sqrt(load_as<double>(in[4], k) + eps); };
        if (!g.per_element) {
          const double mul = mul_of(c), mean = load_as<double>(in[3], c), bias = load_as<double>(in[2], c);
          for (int64_t i = 0; i < g.inner; ++i) yp[i] = static_cast<T>((static_cast<double>(xp[i]) - mean) * mul + bias);
        } else {
          for (int64_t i = 0, k = c * g.inner; i < g.inner; ++i, ++k)
            yp[i] = static_cast<T>((static_cast<double>(xp[i]) - load_as<double>(in[3], k)) * mul_of(k) +
                                   load_as<double>(in[2], k));
        }
      }
    });
    return {};
  });
}

// Element-wise: y[i] depends on x[i] only, so it may overwrite its input.
const OpSchema kSchemas[] = {
    {"BatchNormalization", 5, 5, 1, 5, infer, run, nullptr, true},
};

}  // namespace

std::span<const OpSchema> batchnorm_schemas() { return kSchemas; }

}  // namespace quench::ops
