// Per-tensor INT8 conversions at precision boundaries, elementwise on any layout:
//
//   quantize    F -> INT8    y = quant::quantize(x, scale)    (x / scale in IEEE float32, ties to
//                                                             even, clamped to [-128, 127], NaN -> 0)
//   dequantize  INT8 -> F    y = quant::dequantize(q, scale)  (one float32 product; FP16 outputs
//                                                             round that product once)
//
// F is float or __half (an FP16 input is widened exactly first). Bit-exact against the CPU
// reference ops quench.Int8Quantize / Int8Dequantize (ops/quant_convert.cpp). Memory-bound: 8
// elements per thread as vector accesses when the pointers allow, else one.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::int8 {

template <class F>
struct QuantizeArgs {
  int64_t count = 0;
  const F* x = nullptr;
  int8_t* y = nullptr;
  float scale = 0;  // positive and finite
  int max_vector = 8;  // 8 or 1 (tests pin the scalar path)
};

template <class F>
struct DequantizeArgs {
  int64_t count = 0;
  const int8_t* x = nullptr;
  F* y = nullptr;
  float scale = 0;
  int max_vector = 8;
};

template <class F>
Status can_implement(const QuantizeArgs<F>& args);
template <class F>
Status can_implement(const DequantizeArgs<F>& args);

// Launch on `stream`; check the arguments and the launch; do not synchronize.
template <class F>
Status quantize(const QuantizeArgs<F>& args, cudaStream_t stream);
template <class F>
Status dequantize(const DequantizeArgs<F>& args, cudaStream_t stream);

}  // namespace quench::kernels::int8
