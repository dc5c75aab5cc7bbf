// Host side of the INT8 epilogue: the per-channel table and the per-tensor constants, derived from
// the scales with quant_math.h exactly as the CPU reference derives them (ops/quant_epilogue.cpp).
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/quant/int8_epilogue.cuh"

namespace quench::kernels::int8 {
namespace {

bool positive_finite(float s) { return s > 0 && std::isfinite(s); }

}  // namespace

const char* output_name(Output o) {
  switch (o) {
    case Output::kInt8: return "int8";
    case Output::kFloat32: return "float32";
    case Output::kFloat16: return "float16";
  }
  return "unknown";
}

int64_t table_stride(int64_t channels) { return (channels + 3) / 4 * 4; }
size_t table_words(int64_t channels) { return static_cast<size_t>(kTableFields * table_stride(channels)); }
size_t table_bytes(int64_t channels) { return table_words(channels) * sizeof(int32_t); }

Status make_epilogue(const EpilogueSpec& spec, int64_t channels, const float* w_scale, const int32_t* bias,
                     Epilogue* epi, int32_t* table) {
  if (channels <= 0 || !w_scale || !epi || !table)
    return error(StatusCode::kInvalidArgument, "int8 epilogue: channels must be positive, w_scale, epi and table non-null");
  if (channels > std::numeric_limits<int32_t>::max() / kTableFields)
    return error(StatusCode::kUnsupported, "int8 epilogue: ", channels, " channels exceed the table's 32-bit indexing");
  if (!positive_finite(spec.x_scale))
    return error(StatusCode::kInvalidArgument, "int8 epilogue: x_scale must be positive and finite, got ", spec.x_scale);
  const bool int8_out = spec.output == Output::kInt8;
  if (spec.output != Output::kInt8 && spec.output != Output::kFloat32 && spec.output != Output::kFloat16)
    return error(StatusCode::kInvalidArgument, "int8 epilogue: unknown output type");
  if (int8_out && !positive_finite(spec.y_scale))
    return error(StatusCode::kInvalidArgument, "int8 epilogue: an INT8 output needs a positive finite y_scale, got ",
                 spec.y_scale);
  if (!(spec.r_scale >= 0) || !std::isfinite(spec.r_scale))
    return error(StatusCode::kInvalidArgument, "int8 epilogue: r_scale must be 0 (no INT8 residual) or positive, got ",
                 spec.r_scale);
  if (spec.r_scale > 0 && !int8_out)
    return error(StatusCode::kInvalidArgument,
                 "int8 epilogue: r_scale is for an INT8 residual; a float output's residual is float");
  const EpilogueParams& a = spec.activation;
  if (!epilogue_params_valid(a)) return error(StatusCode::kInvalidArgument, "int8 epilogue: bad activation parameters");
  switch (a.activation) {
    case Activation::kNone: case Activation::kRelu: case Activation::kClip: case Activation::kHardSwish:
    case Activation::kSilu: case Activation::kLeakyRelu: case Activation::kSigmoid:
      break;
    default: return error(StatusCode::kUnsupported, "int8 epilogue: unknown activation");
  }
  const bool clamp_act = a.activation == Activation::kNone || a.activation == Activation::kRelu ||
                         a.activation == Activation::kClip;
  if (int8_out && a.residual_after_activation && a.activation != Activation::kNone)
    return error(StatusCode::kUnsupported, "int8 epilogue: an INT8 output adds its residual before the activation; "
                 "residual_after_activation needs a float output or no activation");

  Epilogue e;
  e.output = spec.output;
  e.act = a.activation;
  e.alpha = a.alpha;
  e.clip_min = a.clip_min;
  e.clip_max = a.clip_max;
  e.residual_after = a.residual_after_activation;
  e.int_clamp = int8_out && clamp_act;
  e.int8_residual = int8_out && spec.r_scale > 0;
  e.y_scale = int8_out ? spec.y_scale : 1.0f;
  e.channels = channels;
  if (e.int_clamp) {
    // The clamp min(max(v, lo), hi) in real terms, quantized (quantize is monotonic, so clamping
    // the quantized value equals quantizing the clamped one).
    const float inf = std::numeric_limits<float>::infinity();
    float lo = -inf, hi = inf;
    if (a.activation == Activation::kRelu) lo = 0.0f;
    if (a.activation == Activation::kClip) {
      lo = a.clip_min;
      hi = a.clip_max;
    }
    quant::clamp_bounds(lo, hi, spec.y_scale, &e.lo, &e.hi);
  }

  const int64_t stride = table_stride(channels);
  std::memset(table, 0, table_bytes(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const float ws = w_scale[c];
    if (!positive_finite(ws))
      return error(StatusCode::kInvalidArgument, "int8 epilogue: weight scale of output channel ", c, " is ", ws,
                   "; scales must be positive and finite");
    quant::Multiplier requant, residual;
    bool ok = true;
    if (int8_out) {
      ok = quant::multiplier_from_real(quant::requant_real(spec.x_scale, ws, spec.y_scale), &requant);
      if (spec.r_scale > 0)
        ok = ok && quant::multiplier_from_real(quant::residual_real(spec.r_scale, spec.x_scale, ws), &residual);
    }
    if (!ok)
      return error(StatusCode::kInvalidArgument, "int8 epilogue: the scales of output channel ", c,
                   " give no finite requantization multiplier");
    const float dequant = quant::dequant_scale(spec.x_scale, ws);
    int32_t dequant_bits = 0;
    std::memcpy(&dequant_bits, &dequant, sizeof(dequant_bits));
    table[kBias * stride + c] = bias ? bias[c] : 0;
    table[kRequantMult * stride + c] = requant.mult;
    table[kRequantShift * stride + c] = requant.shift;
    table[kResidualMult * stride + c] = residual.mult;
    table[kResidualShift * stride + c] = residual.shift;
    table[kDequant * stride + c] = dequant_bits;
  }
  *epi = e;
  return Status::ok_status();
}

Status check_epilogue(const Epilogue& e, Output out, bool has_residual, int64_t channels, const void* table,
                      const char* who) {
  if (e.channels == 0) return error(StatusCode::kInvalidArgument, who, ": the epilogue was not made by make_epilogue");
  if (e.channels != channels)
    return error(StatusCode::kInvalidArgument, who, ": the epilogue was made for ", e.channels,
                 " output channels, the layer has ", channels);
  if (e.output != out)
    return error(StatusCode::kInvalidArgument, who, ": the epilogue writes ", output_name(e.output),
                 " but the output buffer is ", output_name(out));
  if (has_residual && out == Output::kInt8 && !e.int8_residual)
    return error(StatusCode::kInvalidArgument, who,
                 ": an INT8 residual needs its scale (EpilogueSpec::r_scale) when the epilogue is made");
  if (!table) return error(StatusCode::kInvalidArgument, who, ": the channel table is null");
  if (!aligned_to(table, 16)) return error(StatusCode::kInvalidArgument, who, ": the channel table must be 16-byte aligned");
  return Status::ok_status();
}

}  // namespace quench::kernels::int8
