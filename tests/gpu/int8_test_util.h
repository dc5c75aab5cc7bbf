// Shared pieces of the INT8 kernel tests (tests/gpu/int8_*_test.cpp): random INT8 operands and
// scales that keep outputs away from both zero and saturation, the CPU INT8 reference ops'
// attributes for an epilogue, the channel table on the device, and the output comparison: bit for
// bit where the definition is exact, within one INT8 step / a few float ulps where it is not
// (docs/int8-kernels.md), never passing a NaN or an element that kept its poison.
#pragma once

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/quant/int8_epilogue.cuh"
#include "ops/attributes.h"
#include "quench/tensor.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {

using kernels::int8::Output;

// Two poison bytes: every output buffer is filled with each in turn and the kernel run twice, so an
// element the kernel did not write cannot match the reference both times (0x7F is a valid INT8
// value, 127; 0xFF is -1 and a NaN for FP16 and FP32).
inline constexpr int kInt8Poisons[2] = {0x7F, 0xFF};

// Calls f with a value of the element type the INT8 GEMM, convolution and depthwise kernels write
// for `out`: int8_t or __half (the CUDA backend runs float layers in FP16; docs/decisions.md).
template <class F>
void with_kernel_output(Output out, F&& f) {
  if (out == Output::kInt8) {
    f(int8_t{});
  } else {
    f(__half{});
  }
}

std::vector<int8_t> random_int8(size_t count, std::mt19937_64& rng, int lo = -128, int hi = 127);
std::vector<int32_t> random_int32(size_t count, std::mt19937_64& rng, int32_t lo, int32_t hi);
// Positive scales, log-uniform in [lo, hi].
std::vector<float> random_scales(size_t count, std::mt19937_64& rng, float lo, float hi);

// Scales for a layer summing `reduction` products of uniform INT8 values: x_scale, per-channel
// weight scales around 1/64, a y_scale that puts the typical output at a few dozen INT8 steps
// (some saturate, few are zero), a residual scale of the output's order.
struct LayerScales {
  float x_scale = 0, y_scale = 0, r_scale = 0;
  std::vector<float> w_scale;
  int32_t bias_range = 0;  // |bias| of the order of a typical dot product
};
LayerScales layer_scales(int64_t channels, int64_t reduction, std::mt19937_64& rng);

// The epilogue cases the INT8 tests cycle through (ReLU6 and a narrow Clip included).
std::vector<kernels::EpilogueParams> int8_activations();
// True when outputs of `act` are exact (none / ReLU / Clip); false: compared within a step.
bool exact_activation(kernels::Activation act);
std::string int8_case_label(Output out, const kernels::EpilogueParams& act, bool bias, bool residual);

// The attributes of quench.Int8Conv / Int8Gemm for this epilogue (x_scale, y_scale, r_scale,
// output_type, activation...).
ops::Attributes quant_attrs(const kernels::int8::EpilogueSpec& spec, bool has_residual);

// The channel table of `spec` on the device (make_epilogue, then uploaded), and the epilogue.
struct DeviceEpilogue {
  kernels::int8::Epilogue epi;
  DeviceBuffer<int32_t> table;
};
::testing::AssertionResult make_device_epilogue(const kernels::int8::EpilogueSpec& spec, int64_t channels,
                                                const std::vector<float>& w_scale, const std::vector<int32_t>* bias,
                                                DeviceEpilogue* out);

// Output buffers as raw bytes, whatever the type: the reference is the CPU op's output (INT8 or
// FP32) converted to the kernel's output type (FP16 by round-to-nearest-even).
size_t output_bytes(Output out);
std::vector<uint8_t> expected_bytes(const Tensor& reference, Output out, const std::vector<size_t>& order);

// Compares element i of the kernel's output (`got`, at got_index[i] in elements) with element i of
// `want` (both raw bytes of type `out`). Exact: every bit. Otherwise INT8 outputs may differ by
// one step, FP32 by 4 ulps and FP16 by 1 ulp of the larger of |want| and |residual[i]| (float
// values of the residual, empty when none). Fails on NaN/Inf outputs, on a reference that is all
// zero, and names the first bad element.
::testing::AssertionResult outputs_match(const std::vector<uint8_t>& got, const std::vector<size_t>& got_index,
                                         const std::vector<uint8_t>& want, Output out, bool exact,
                                         const std::vector<float>& residual);

// Every listed element of `got` (raw bytes of type `out`) still holds the poison byte pattern.
::testing::AssertionResult poison_kept(const std::vector<uint8_t>& got, const std::vector<size_t>& index, Output out,
                                       int poison);

}  // namespace quench::gpu_test
