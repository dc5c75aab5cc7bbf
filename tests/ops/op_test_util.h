// Runs one operator through the real path (IR, validation, shape inference, CPU executor),
// for op unit tests that check hand-computed values.
#pragma once

#include <string>
#include <vector>

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

}  // namespace quench::testing
