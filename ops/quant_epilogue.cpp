#include "ops/quant_epilogue.h"

#include <cmath>
#include <limits>

#include "ops/op_util.h"

namespace quench::ops {
namespace {

bool positive_finite(float s) { return s > 0 && std::isfinite(s); }

Result<float> scale_attr(const NodeDesc& n, std::string_view name) {
  QUENCH_ASSIGN(float s, float_attr(n, name, 0.0f));
  if (!positive_finite(s))
    return error(StatusCode::kInvalidArgument, n.where(), ": attribute '", name,
                 "' must be a positive finite scale, got ", s);
  return s;
}

Status check_input(const NodeDesc& n, const ValueDesc& v, DType want, std::string_view what) {
  if (v.dtype != want)
    return error(StatusCode::kInvalidArgument, n.where(), ": ", what, " is ", dtype_name(v.dtype), ", expected ",
                 dtype_name(want));
  return {};
}

Status check_channel_vector(const NodeDesc& n, const ValueDesc& v, DType want, int64_t channels,
                            std::string_view what) {
  QUENCH_TRY(check_input(n, v, want, what));
  if (v.shape != Shape{channels})
    return error(StatusCode::kShapeError, n.where(), ": ", what, " has shape ", shape_str(v.shape), "; expected [",
                 channels, "], one per output channel");
  return {};
}

Result<DType> output_dtype(const NodeDesc& n) {
  QUENCH_ASSIGN(int64_t out_type, int_attr(n, "output_type", static_cast<int64_t>(DType::kI8)));
  if (out_type != static_cast<int64_t>(DType::kI8) && out_type != static_cast<int64_t>(DType::kF32))
    return error(StatusCode::kUnsupported, n.where(), ": output_type ", out_type,
                 " is neither 3 (int8) nor 1 (float32)");
  return static_cast<DType>(out_type);
}

}  // namespace

Result<QuantAttrs> read_quant_attrs(const NodeDesc& n, bool has_residual) {
  QuantAttrs a;
  QUENCH_ASSIGN(a.x_scale, scale_attr(n, "x_scale"));
  QUENCH_ASSIGN(a.out_dtype, output_dtype(n));
  if (a.out_dtype == DType::kI8) {
    QUENCH_ASSIGN(a.y_scale, scale_attr(n, "y_scale"));
  }
  if (has_residual && a.out_dtype == DType::kI8) {
    QUENCH_ASSIGN(a.r_scale, scale_attr(n, "r_scale"));
  }
  QUENCH_ASSIGN(a.act, read_activation(n, kActivationAttrs));
  QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
  if (after != 0 && after != 1)
    return error(StatusCode::kInvalidArgument, n.where(), ": ", kResidualAfterAttr, " must be 0 or 1, got ", after);
  a.residual_after = after == 1 && has_residual;
  if (a.residual_after && a.out_dtype == DType::kI8 && a.act.kind != ActKind::kNone)
    return error(StatusCode::kUnsupported, n.where(),
                 ": an INT8 output adds its residual before the activation; residual_after_activation = 1 "
                 "needs a float output or no activation");
  switch (a.act.kind) {
    case ActKind::kNone:
      a.clamp_a = -std::numeric_limits<float>::infinity();
      a.clamp_b = std::numeric_limits<float>::infinity();
      break;
    case ActKind::kRelu:
      a.clamp_a = 0.0f;
      a.clamp_b = std::numeric_limits<float>::infinity();
      break;
    case ActKind::kClip:
      if (std::isnan(a.act.params.lo) || std::isnan(a.act.params.hi))
        return error(StatusCode::kInvalidArgument, n.where(), ": Clip bounds must not be NaN");
      a.clamp_a = static_cast<float>(a.act.params.lo);
      a.clamp_b = static_cast<float>(a.act.params.hi);
      break;
    default: a.int_clamp = false; break;
  }
  return a;
}

Result<ChannelQuant> channel_quant(const NodeDesc& n, const QuantAttrs& a, float w_scale, int64_t channel) {
  if (!positive_finite(w_scale))
    return error(StatusCode::kInvalidArgument, n.where(), ": weight scale of output channel ", channel,
                 " is ", w_scale, "; scales must be positive and finite");
  ChannelQuant c;
  c.dequant = quant::dequant_scale(a.x_scale, w_scale);
  bool ok = true;
  if (a.out_dtype == DType::kI8) {
    ok = quant::multiplier_from_real(quant::requant_real(a.x_scale, w_scale, a.y_scale), &c.requant);
    if (a.int_clamp) quant::clamp_bounds(a.clamp_a, a.clamp_b, a.y_scale, &c.lo, &c.hi);
    if (a.r_scale > 0) ok = ok && quant::multiplier_from_real(quant::residual_real(a.r_scale, a.x_scale, w_scale), &c.residual);
  }
  if (!ok)
    return error(StatusCode::kInvalidArgument, n.where(), ": the scales of output channel ", channel,
                 " give no finite requantization multiplier");
  return c;
}

int8_t epilogue_int8(const QuantAttrs& a, const ChannelQuant& c, int32_t acc) {
  if (a.int_clamp) return quant::requantize_int8(acc, c.requant, c.lo, c.hi);
  const float v = quant::dequantize_accumulator(acc, c.dequant);
  return quant::quantize(static_cast<float>(apply_activation(a.act, v)), a.y_scale);
}

float epilogue_float(const QuantAttrs& a, const ChannelQuant& c, int32_t acc, const float* residual) {
  float v = quant::dequantize_accumulator(acc, c.dequant);
  if (residual && !a.residual_after) v += *residual;
  v = static_cast<float>(apply_activation(a.act, v));
  if (residual && a.residual_after) v += *residual;
  return v;
}

Status check_quant_operands(const NodeDesc& n, std::span<const ValueDesc> in, int64_t channels, int64_t reduction,
                            size_t residual_index, ValueDesc& out) {
  QUENCH_TRY(check_input(n, in[0], DType::kI8, "input X"));
  QUENCH_TRY(check_input(n, in[1], DType::kI8, "weight W"));
  if (!in[2].present) return error(StatusCode::kInvalidArgument, n.where(), ": the weight scales are missing");
  QUENCH_TRY(check_channel_vector(n, in[2], DType::kF32, channels, "weight scale W_scale"));
  if (in.size() > 3 && in[3].present) QUENCH_TRY(check_channel_vector(n, in[3], DType::kI32, channels, "bias B"));
  if (reduction > quant::kMaxReduction)
    return error(StatusCode::kUnsupported, n.where(), ": each output sums ", reduction,
                 " INT8 products; more than ", quant::kMaxReduction, " could overflow the INT32 accumulator");
  const bool has_residual = in.size() > residual_index && in[residual_index].present;
  QUENCH_ASSIGN(out.dtype, output_dtype(n));
  if (has_residual && (in[residual_index].dtype != out.dtype || in[residual_index].shape != out.shape))
    return error(StatusCode::kShapeError, n.where(), ": the residual input is ", dtype_name(in[residual_index].dtype),
                 shape_str(in[residual_index].shape), " but the output is ", dtype_name(out.dtype),
                 shape_str(out.shape), "; they must match exactly");
  QUENCH_ASSIGN(QuantAttrs a, read_quant_attrs(n, has_residual));
  // Constant weight scales (the usual case) are checked now rather than at the first run.
  if (const Tensor* s = in[2].constant)
    for (int64_t c = 0; c < channels; ++c) QUENCH_TRY(channel_quant(n, a, static_cast<float>(s->value_as_double(c)), c).status());
  return {};
}

}  // namespace quench::ops
