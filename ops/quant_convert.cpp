// quench.Int8Quantize and quench.Int8Dequantize: the conversions at INT8 precision
// boundaries, in the "quench" domain, per tensor, symmetric (zero point 0).
//
//   Int8Quantize    X float32 -> int8     y = quant::quantize(x, scale)   (x / scale, ties to even,
//                                                                          clamped to [-128, 127])
//   Int8Dequantize  X int8 -> float32     y = quant::dequantize(q, scale) (q * scale)
//
// Attribute: scale (float, positive and finite). These are quench's own rather than ONNX's
// QuantizeLinear/DequantizeLinear so that the rounding is the one kernels/quant/quant_math.h
// defines for every INT8 op, and no zero point has to be carried.
#include <cmath>

#include "kernels/quant/quant_math.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

Result<float> scale_of(const NodeDesc& n) {
  QUENCH_ASSIGN(float s, float_attr(n, "scale", 0.0f));
  if (!(s > 0) || !std::isfinite(s))
    return error(StatusCode::kInvalidArgument, n.where(), ": attribute 'scale' must be a positive finite scale, got ", s);
  return s;
}

bool is_quantize(const NodeDesc& n) { return n.op_type == "Int8Quantize"; }

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(scale_of(n).status());
  const DType want = is_quantize(n) ? DType::kF32 : DType::kI8;
  if (in[0].dtype != want)
    return error(StatusCode::kInvalidArgument, n.where(), ": input is ", dtype_name(in[0].dtype), ", expected ",
                 dtype_name(want));
  out[0].dtype = is_quantize(n) ? DType::kI8 : DType::kF32;
  out[0].shape = in[0].shape;
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(float s, scale_of(n));
  const int64_t count = in[0].numel();
  if (is_quantize(n)) {
    const float* x = in[0].as<const float>();
    int8_t* y = out[0].as<int8_t>();
    parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = quant::quantize(x[i], s);
    });
  } else {
    const int8_t* x = in[0].as<const int8_t>();
    float* y = out[0].as<float>();
    parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = quant::dequantize(x[i], s);
    });
  }
  return {};
}

const OpSchema kSchemas[] = {
    {"Int8Quantize", 1, 1, 1, 1, infer, run, nullptr},
    {"Int8Dequantize", 1, 1, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> quant_convert_schemas() { return kSchemas; }

}  // namespace quench::ops
