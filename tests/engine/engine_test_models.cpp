#include "tests/engine/engine_test_models.h"

#include <cstring>

#include "tests/loaders/onnx_test_encoder.h"

namespace quench::testing {

std::vector<float> lcg_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(s >> 8) % 2001 - 1000) / 1000.0f;
  }
  return v;
}

Tensor random_input(Shape shape, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
  const auto v = lcg_floats(static_cast<size_t>(t.numel()), seed);
  std::memcpy(t.mutable_data(), v.data(), t.bytes());
  return t;
}

bool same_bits(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.dtype() != t.dtype() || it->second.shape() != t.shape()) return false;
    if (std::memcmp(t.data(), it->second.data(), t.bytes()) != 0) return false;
  }
  return true;
}

std::string branchy_model(int64_t hidden, int64_t fixed_batch) {
  const Dim batch = fixed_batch > 0 ? Dim{fixed_batch, ""} : Dim{-1, "N"};
  std::vector<Dim> x_dims{batch, {3, ""}, {8, ""}, {8, ""}};
  GraphParts p;
  p.initializers = {raw_tensor("W", kFloat, {4, 3, 3, 3}, le_bytes(lcg_floats(108, 1))),
                    raw_tensor("B", kFloat, {4}, le_bytes(lcg_floats(4, 2))),
                    raw_tensor("W2", kFloat, {112, hidden}, le_bytes(lcg_floats(static_cast<size_t>(112 * hidden), 3))),
                    raw_tensor("B2", kFloat, {hidden}, le_bytes(lcg_floats(static_cast<size_t>(hidden), 4))),
                    raw_tensor("zero", kInt64, {1}, le_bytes(std::vector<int64_t>{0})),
                    raw_tensor("one", kInt64, {1}, le_bytes(std::vector<int64_t>{1})),
                    raw_tensor("minus1", kInt64, {1}, le_bytes(std::vector<int64_t>{-1}))};
  p.nodes = {node("Conv", {"x", "W", "B"}, {"c"}, "conv", {attr_ints("pads", {1, 1, 1, 1})}),
             node("Relu", {"c"}, {"r"}, "relu"),
             node("MaxPool", {"r"}, {"m"}, "maxpool", {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})}),
             node("AveragePool", {"x"}, {"a"}, "avgpool",
                  {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})}),
             node("Concat", {"m", "a"}, {"cat"}, "concat", {attr_int("axis", 1)}),
             node("Shape", {"cat"}, {"s"}, "shape"),
             node("Slice", {"s", "zero", "one"}, {"s0"}, "slice"),
             node("Concat", {"s0", "minus1"}, {"shp"}, "shape_concat", {attr_int("axis", 0)}),
             node("Reshape", {"cat", "shp"}, {"flat"}, "reshape"),
             node("Gemm", {"flat", "W2", "B2"}, {"h"}, "gemm"),
             node("Softmax", {"h"}, {"y"}, "softmax", {attr_int("axis", 1)})};
  p.inputs = {value_info("x", kFloat, x_dims)};
  p.outputs = {value_info("y", kFloat, {batch, {hidden, ""}})};
  return model(graph(p), 17).str();
}

}  // namespace quench::testing
