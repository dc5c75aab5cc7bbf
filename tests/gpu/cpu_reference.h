// The engine's own CPU reference operators (ops/) as the oracle of the GPU kernel tests: one node
// run through its schema (shape rule, then CPU run), on host tensors in ONNX's layout, plus the
// NHWC <-> NCHW and FP16 conversions the tests need around it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/attributes.h"
#include "quench/status.h"
#include "quench/tensor.h"

namespace quench::gpu_test {

struct RefInput {
  Tensor value;           // an undefined Tensor is an omitted optional input
  bool constant = false;  // known at build time (Resize's scales, Pad's pads)
};

// Runs `op_type` (of `domain`: "" for ONNX's, "quench" for quench's own ops such as Int8Conv;
// `opset`) on `inputs`; the outputs as the reference computes them. Errors (an op the reference
// refuses) come back as a Status.
Result<std::vector<Tensor>> run_reference(std::string_view op_type, const ops::Attributes& attrs,
                                          const std::vector<RefInput>& inputs, int64_t opset = 19, int outputs = 1,
                                          std::string_view domain = "");

ops::Attribute attr_int(int64_t v);
ops::Attribute attr_float(float v);
ops::Attribute attr_string(std::string v);
ops::Attribute attr_ints(std::vector<int64_t> v);

// FP16 bits -> an F32 tensor of that shape (exact), and the F32 values of a tensor as doubles.
Tensor f32_from_half(const std::vector<uint16_t>& bits, const Shape& shape);
std::vector<double> doubles_of(const Tensor& t);
// An F16 tensor holding `bits`, and a 16-bit tensor's bits.
Tensor f16_tensor(const std::vector<uint16_t>& bits, const Shape& shape);
std::vector<uint16_t> bits_of(const Tensor& t);

// NHWC FP16 bits -> NCHW F32 tensor, and an NCHW tensor's values -> NHWC doubles.
Tensor nchw_from_nhwc_half(const std::vector<uint16_t>& nhwc, int64_t n, int64_t h, int64_t w, int64_t c);
std::vector<double> nhwc_from_nchw(const Tensor& nchw);

// Passes when got[index[i]] has exactly want[i]'s bits for every i (every element when index is
// empty); otherwise counts the unwritten (poisoned) and wrong elements and names the first.
::testing::AssertionResult bits_equal(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want);
::testing::AssertionResult bits_equal(const std::vector<uint32_t>& got, const std::vector<uint32_t>& want);

// FP16 bits of doubles that are FP16 values (max pooling, nearest resize), rounded to nearest.
std::vector<uint16_t> half_bits_of(const std::vector<double>& values);

}  // namespace quench::gpu_test
