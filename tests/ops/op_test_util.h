// Runs one operator through the real path (IR, validation, shape inference, CPU executor),
// for op unit tests that check hand-computed values.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "ops/attributes.h"
#include "quench/tensor.h"

namespace quench::testing {

struct OpInput {
  Tensor value;           // undefined Tensor = omitted optional input
  bool constant = false;  // an initializer (needed where the op requires build-time values)
};

struct OpRun {
  std::string op_type;
  std::vector<OpInput> inputs;
  ops::Attributes attrs;
  int outputs = 1;
  int64_t opset = 17;
};

Result<std::vector<Tensor>> run_op(const OpRun& r);
// run_op that must succeed (a failure is reported; one undefined tensor comes back).
std::vector<Tensor> ok_run(const OpRun& r);
// run_op that must fail with `code`, naming the node ("<op> node 'node0'").
void expect_error_naming_node(const OpRun& r, StatusCode code);

// A node for hand-built graphs.
ir::Node node(std::string name, std::string op, std::vector<std::string> in, std::vector<std::string> out);

// Attribute builders.
ops::Attribute attr_int(int64_t v);
ops::Attribute attr_float(float v);
ops::Attribute attr_string(std::string v);
ops::Attribute attr_ints(std::vector<int64_t> v);
ops::Attribute attr_floats(std::vector<float> v);
ops::Attribute attr_tensor(Tensor t);

// Tensor builders.
Tensor f32(Shape shape, std::vector<float> values);
Tensor i64(Shape shape, std::vector<int64_t> values);
std::vector<float> values_f32(const Tensor& t);
std::vector<int64_t> values_i64(const Tensor& t);

// --- Added for the shape-op tests. ---

// An OpRun built without aggregate initialization (which warns about the fields left out).
OpRun make_run(std::string op_type, std::vector<OpInput> inputs, int64_t opset = 17);
// A build-time constant input (an initializer).
OpInput constant(Tensor t);

Tensor i32(Shape shape, std::vector<int32_t> values);
Tensor u8(Shape shape, std::vector<uint8_t> values);
Tensor boolean(Shape shape, std::vector<uint8_t> values);  // DType::kBool, 0 or 1 per element
Tensor f64(Shape shape, std::vector<double> values);
std::vector<double> values_f64(const Tensor& t);

// --- Added for the conv/gemm/pool tests. ---

// Deterministic pseudo-random values in [-1, 1) (a fixed LCG), for comparing an op with a
// naive loop written in the test.
Tensor f32_random(Shape shape, uint32_t seed);
// Every element of `got` within atol + rtol * |want| of `want`, sizes equal; names the first
// element that is not.
::testing::AssertionResult all_near(const std::vector<float>& got, const std::vector<float>& want, double atol,
                                    double rtol = 0.0);

// --- Added for the arithmetic-op tests (binary, reduce, softmax, cast, constant). ---

// A tensor of any numeric dtype (float16, bfloat16 and bool included) from doubles, each
// converted as ops::store_value_as does (integers saturate).
Tensor typed(DType dtype, Shape shape, std::vector<double> values);
// 16-bit tensors (float16, bfloat16) from raw bits, and any 16-bit tensor's raw bits.
Tensor bits16(DType dtype, Shape shape, std::vector<uint16_t> bits);
std::vector<uint16_t> values_bits16(const Tensor& t);


}  // namespace quench::testing
