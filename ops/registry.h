// The explicit list of operator families. Adding a family: declare its function here, define
// it in its own ops/<family>.cpp, and list it in registry.cpp.
#pragma once

#include <span>
#include <string_view>

#include "ops/op.h"

namespace quench::ops {

// The domain of quench's own ops (the optimizer's fused ops); never an ONNX exporter's.
inline constexpr std::string_view kQuenchDomain = "quench";

// nullptr when quench does not implement `op_type` in `domain` ("" or "ai.onnx", or
// kQuenchDomain for the fused ops).
const OpSchema* find_schema(std::string_view op_type, std::string_view domain);

// Every schema of every ONNX-domain family, in registry order.
std::span<const OpSchema* const> all_schemas();

// One function per family file.
std::span<const OpSchema> unary_schemas();         // ops/unary.cpp
std::span<const OpSchema> binary_schemas();        // ops/binary.cpp
std::span<const OpSchema> conv_schemas();          // ops/conv.cpp
std::span<const OpSchema> conv_transpose_schemas();// ops/conv_transpose.cpp
std::span<const OpSchema> gemm_schemas();          // ops/gemm.cpp
std::span<const OpSchema> batchnorm_schemas();     // ops/batchnorm.cpp
std::span<const OpSchema> pool_schemas();          // ops/pool.cpp
std::span<const OpSchema> softmax_schemas();       // ops/softmax.cpp
std::span<const OpSchema> reduce_schemas();        // ops/reduce.cpp
std::span<const OpSchema> resize_schemas();        // ops/resize.cpp
std::span<const OpSchema> pad_schemas();           // ops/pad.cpp
std::span<const OpSchema> reshape_schemas();       // ops/reshape.cpp: Reshape Flatten Squeeze Unsqueeze Expand Shape
std::span<const OpSchema> concat_split_schemas();  // ops/concat_split.cpp: Concat Split
std::span<const OpSchema> slice_gather_schemas();  // ops/slice_gather.cpp: Slice Gather
std::span<const OpSchema> transpose_schemas();     // ops/transpose.cpp
std::span<const OpSchema> constant_schemas();      // ops/constant.cpp: Constant ConstantOfShape Range
std::span<const OpSchema> cast_schemas();          // ops/cast.cpp

// Domain kQuenchDomain.
std::span<const OpSchema> fused_conv_schemas();    // ops/fused_conv.cpp: FusedConv DwPwConv InvertedResidual
std::span<const OpSchema> fused_gemm_schemas();    // ops/fused_gemm.cpp: FusedGemm FusedMatMul
std::span<const OpSchema> quant_conv_schemas();    // ops/quant_conv.cpp: Int8Conv
std::span<const OpSchema> quant_gemm_schemas();    // ops/quant_gemm.cpp: Int8Gemm Int8MatMul
std::span<const OpSchema> quant_convert_schemas(); // ops/quant_convert.cpp: Int8Quantize Int8Dequantize

}  // namespace quench::ops
