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

std::string int8_chain_model() {
  std::vector<Dim> x_dims{{-1, "N"}, {3, ""}, {8, ""}, {8, ""}};
  GraphParts p;
  p.initializers = {raw_tensor("W1", kFloat, {16, 3, 3, 3}, le_bytes(lcg_floats(16 * 27, 11))),
                    raw_tensor("B1", kFloat, {16}, le_bytes(lcg_floats(16, 12))),
                    raw_tensor("W2", kFloat, {16, 16, 1, 1}, le_bytes(lcg_floats(256, 13))),
                    raw_tensor("B2", kFloat, {16}, le_bytes(lcg_floats(16, 14))),
                    raw_tensor("W3", kFloat, {16, 1, 3, 3}, le_bytes(lcg_floats(144, 15))),
                    raw_tensor("B3", kFloat, {16}, le_bytes(lcg_floats(16, 16))),
                    raw_tensor("W4", kFloat, {8, 16, 3, 3}, le_bytes(lcg_floats(8 * 144, 17))),
                    raw_tensor("B4", kFloat, {8}, le_bytes(lcg_floats(8, 18))),
                    raw_tensor("lo", kFloat, {}, le_bytes(std::vector<float>{0.0f})),
                    raw_tensor("hi", kFloat, {}, le_bytes(std::vector<float>{6.0f}))};
  p.nodes = {node("Conv", {"x", "W1", "B1"}, {"c1"}, "conv1", {attr_ints("pads", {1, 1, 1, 1})}),
             node("Relu", {"c1"}, {"a"}, "relu1"),
             node("Conv", {"a", "W2", "B2"}, {"c2"}, "conv2"),
             node("Add", {"c2", "a"}, {"s2"}, "add2"),
             node("Relu", {"s2"}, {"b"}, "relu2"),
             node("Conv", {"b", "W3", "B3"}, {"c3"}, "dw3", {attr_ints("pads", {1, 1, 1, 1}), attr_int("group", 16)}),
             node("Clip", {"c3", "lo", "hi"}, {"d"}, "clip3"),
             node("Conv", {"d", "W4", "B4"}, {"y"}, "conv4",
                  {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {2, 2})})};
  p.inputs = {value_info("x", kFloat, x_dims)};
  p.outputs = {value_info("y", kFloat, {{-1, "N"}, {8, ""}, {4, ""}, {4, ""}})};
  return model(graph(p), 17).str();
}

}  // namespace quench::testing
