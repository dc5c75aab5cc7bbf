// BatchNormalization folded into the preceding Conv or Gemm: the folded graph computes what the
// unfused one does (float32 and float64, with and without a bias, a non-default epsilon, Gemm
// with every C layout and transB), the new weights are the formula's values in the weight's own
// type (float16 included), and products whose output something else reads are left alone.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/op_util.h"
#include "quench/float16.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

using testing::GraphBuilder;
using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;

Tensor as_dtype(const Tensor& t, DType d) {
  Tensor out = Tensor::zeros(d, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i)
    ops::store_value_as(t.value_as_double(i), d, static_cast<std::byte*>(out.mutable_data()) + i * dtype_size(d));
  return out;
}

struct ConvBnCase {
  DType dtype;
  bool bias;
  float epsilon;
};

void PrintTo(const ConvBnCase& c, std::ostream* os) {
  *os << dtype_name(c.dtype) << (c.bias ? " with bias" : " without bias") << ", epsilon " << c.epsilon;
}

class ConvBnFold : public ::testing::TestWithParam<ConvBnCase> {};

TEST_P(ConvBnFold, MatchesUnfused) {
  const ConvBnCase c = GetParam();
  GraphBuilder b;
  b.input("x", {2, 3, 7, 6}, c.dtype)
      .constant("w", as_dtype(testing::f32_random({5, 3, 3, 3}, 11), c.dtype))
      .constant("scale", as_dtype(testing::f32_random({5}, 12), c.dtype))
      .constant("shift", as_dtype(testing::f32_random({5}, 13), c.dtype))
      .constant("mean", as_dtype(testing::f32_random({5}, 14), c.dtype))
      .constant("var", as_dtype(testing::positive_f32({5}, 15, 0.01f, 2.0f), c.dtype));
  std::vector<std::string> conv_in = {"x", "w"};
  if (c.bias) {
    b.constant("cb", as_dtype(testing::f32_random({5}, 16), c.dtype));
    conv_in.push_back("cb");
  }
  ir::Graph g = b.node("conv", "Conv", conv_in, {"c"},
                       {{"pads", attr_ints({1, 0, 1, 2})}, {"strides", attr_ints({2, 1})}})
                    .node("bn", "BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"},
                          {{"epsilon", attr_float(c.epsilon)}})
                    .output("y")
                    .build();
  const ir::Graph before = g;
  OptimizeReport r;
  ASSERT_TRUE(optimize_graph(g, {}, &r).ok());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Conv");
  EXPECT_EQ(g.nodes[0].outputs[0], "y");
  EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "bn"}));
  EXPECT_EQ(g.find("w"), nullptr);  // the old weight had no other reader
  Tensor x = testing::f32_random({2, 3, 7, 6}, 17);
  if (c.dtype == DType::kF64) x = as_dtype(x, DType::kF64);
  auto got = testing::run_graph(g, {{"x", x}}, 1, true);
  auto want = testing::run_graph(before, {{"x", x}}, 1, false);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  // float32: the folded weights are rounded once to float (a relative 6e-8 each); float64 folds
  // within double rounding.
  const double tol = c.dtype == DType::kF32 ? 1e-6 : 1e-13;
  EXPECT_LT(testing::max_rel_diff(got->at("y"), want->at("y")), tol);
  EXPECT_GT(testing::rel_l2(Tensor::zeros(c.dtype, want->at("y").shape()), want->at("y")), 0.99);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvBnFold,
                         ::testing::Values(ConvBnCase{DType::kF32, true, 1e-5f}, ConvBnCase{DType::kF32, false, 1e-3f},
                                           ConvBnCase{DType::kF64, true, 0.1f}, ConvBnCase{DType::kF64, false, 1e-5f}));

TEST(BatchNormFold, Float16WeightsHoldTheFormulasValues) {
  // The CPU reference does not run float16 convs; the folded constants are checked directly.
  const Tensor w = as_dtype(testing::f32_random({2, 1, 1, 1}, 21), DType::kF16);
  const Tensor scale = testing::f32({2}, {1.5f, -0.25f}), shift = testing::f32({2}, {0.5f, 2.0f});
  const Tensor mean = testing::f32({2}, {0.1f, -0.3f}), var = testing::f32({2}, {4.0f, 0.09f});
  const Tensor cb = as_dtype(testing::f32({2}, {0.25f, -1.0f}), DType::kF16);
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 2, 2}, DType::kF16)
                    .constant("w", w)
                    .constant("cb", cb)
                    .constant("s", scale)
                    .constant("b", shift)
                    .constant("m", mean)
                    .constant("v", var)
                    .node("conv", "Conv", {"x", "w", "cb"}, {"c"}, {{"group", attr_int(2)}})
                    .node("bn", "BatchNormalization", {"c", "s", "b", "m", "v"}, {"y"},
                          {{"epsilon", attr_float(0.01f)}})
                    .output("y")
                    .build();
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  ASSERT_EQ(g.nodes.size(), 1u);
  const Tensor& nw = g.find(g.nodes[0].inputs[1])->constant;
  const Tensor& nb = g.find(g.nodes[0].inputs[2])->constant;
  ASSERT_EQ(nw.dtype(), DType::kF16);
  ASSERT_EQ(nb.dtype(), DType::kF16);
  for (int64_t c = 0; c < 2; ++c) {
    const double s = scale.value_as_double(c) / std::sqrt(var.value_as_double(c) + double{0.01f});
    const double want_w = w.value_as_double(c) * s;
    const double want_b = (cb.value_as_double(c) - mean.value_as_double(c)) * s + shift.value_as_double(c);
    EXPECT_EQ(nw.value_as_double(c), half_to_float(float_to_half(static_cast<float>(want_w)))) << c;
    EXPECT_EQ(nb.value_as_double(c), half_to_float(float_to_half(static_cast<float>(want_b)))) << c;
  }
}

struct GemmBnCase {
  bool trans_b;
  Shape c_shape;  // empty: no C
};

void PrintTo(const GemmBnCase& c, std::ostream* os) {
  *os << "transB " << c.trans_b << ", C " << (c.c_shape.empty() ? "none" : shape_str(c.c_shape));
}

class GemmBnFold : public ::testing::TestWithParam<GemmBnCase> {};

TEST_P(GemmBnFold, MatchesUnfused) {
  const GemmBnCase c = GetParam();
  GraphBuilder b;
  b.input("x", {3, 4})
      .constant("b", testing::f32_random(c.trans_b ? Shape{5, 4} : Shape{4, 5}, 31))
      .constant("scale", testing::f32_random({5}, 32))
      .constant("shift", testing::f32_random({5}, 33))
      .constant("mean", testing::f32_random({5}, 34))
      .constant("var", testing::positive_f32({5}, 35));
  std::vector<std::string> in = {"x", "b"};
  if (!c.c_shape.empty()) {
    b.constant("c", testing::f32_random(c.c_shape, 36));
    in.push_back("c");
  }
  ir::Graph g = b.node("gemm", "Gemm", in, {"p"},
                       {{"transB", attr_int(c.trans_b)}, {"alpha", attr_float(0.75f)}, {"beta", attr_float(-1.5f)}})
                    .node("bn", "BatchNormalization", {"p", "scale", "shift", "mean", "var"}, {"y"})
                    .output("y")
                    .build();
  const ir::Graph before = g;
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Gemm");
  const Tensor x = testing::f32_random({3, 4}, 37);
  auto got = testing::run_graph(g, {{"x", x}}, 1, true);
  auto want = testing::run_graph(before, {{"x", x}}, 1, false);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  EXPECT_LT(testing::max_rel_diff(got->at("y"), want->at("y")), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Cases, GemmBnFold,
                         ::testing::Values(GemmBnCase{false, {}}, GemmBnCase{true, {}}, GemmBnCase{false, {5}},
                                           GemmBnCase{true, {1, 5}}, GemmBnCase{false, {3, 1}},
                                           GemmBnCase{true, {3, 5}}, GemmBnCase{false, {1}}));

TEST(BatchNormFold, ConvOutputReadElsewhereIsLeftAlone) {
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 41))
                    .constant("s", testing::positive_f32({2}, 42))
                    .constant("b", testing::f32_random({2}, 43))
                    .constant("m", testing::f32_random({2}, 44))
                    .constant("v", testing::positive_f32({2}, 45))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("bn", "BatchNormalization", {"c", "s", "b", "m", "v"}, {"y"})
                    .output("y")
                    .output("c")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(BatchNormFold, SharedWeightIsKeptForItsOtherReader) {
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 51))
                    .constant("s", testing::positive_f32({2}, 52))
                    .constant("b", testing::f32_random({2}, 53))
                    .constant("m", testing::f32_random({2}, 54))
                    .constant("v", testing::positive_f32({2}, 55))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("bn", "BatchNormalization", {"c", "s", "b", "m", "v"}, {"y"})
                    .node("conv2", "Conv", {"x", "w"}, {"z"})
                    .output("y")
                    .output("z")
                    .build();
  const ir::Graph before = g;
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_NE(g.find("w"), nullptr);
  EXPECT_EQ(g.nodes[1].inputs[1], "w");
  EXPECT_NE(g.nodes[0].inputs[1], "w");
  const Tensor x = testing::f32_random({1, 2, 3, 3}, 56);
  auto got = testing::run_graph(g, {{"x", x}}, 1, true);
  auto want = testing::run_graph(before, {{"x", x}}, 1, false);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_LT(testing::max_rel_diff(got->at("y"), want->at("y")), 1e-6);
  EXPECT_EQ(testing::values_f32(got->at("z")), testing::values_f32(want->at("z")));
}

TEST(BatchNormFold, ParametersOfTheWrongShapeAreLeftAlone) {
  // Per-element parameters (spatial=0 in old opsets) are no per-channel map.
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 61))
                    .constant("s", testing::positive_f32({2, 3, 3}, 62))
                    .constant("b", testing::f32_random({2, 3, 3}, 63))
                    .constant("m", testing::f32_random({2, 3, 3}, 64))
                    .constant("v", testing::positive_f32({2, 3, 3}, 65))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("bn", "BatchNormalization", {"c", "s", "b", "m", "v"}, {"y"}, {{"spatial", attr_int(0)}})
                    .output("y")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

}  // namespace
}  // namespace quench

namespace quench {
namespace {

using testing::GraphBuilder;

// Conv -> Mul(per-channel) -> Add(per-channel or scalar), as some exporters write a BatchNorm.
TEST(AffineFold, MulAndAddAfterAConvFoldIntoItsWeights) {
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "with bias" : "without bias");
    GraphBuilder b;
    b.input("x", {2, 3, 5, 5})
        .constant("w", testing::f32_random({4, 3, 3, 3}, 71))
        .constant("scale", testing::f32_random({1, 4, 1, 1}, 72))
        .constant("shift", testing::f32_random({4, 1, 1}, 73))
        .constant("lift", testing::f32({}, {0.25f}));
    std::vector<std::string> in = {"x", "w"};
    if (bias) {
      b.constant("cb", testing::f32_random({4}, 74));
      in.push_back("cb");
    }
    ir::Graph g = b.node("conv", "Conv", in, {"c"})
                      .node("mul", "Mul", {"scale", "c"}, {"m"})
                      .node("add", "Add", {"m", "shift"}, {"a"})
                      .node("add2", "Add", {"a", "lift"}, {"y"})
                      .output("y")
                      .build();
    const ir::Graph before = g;
    OptimizeReport r;
    ASSERT_TRUE(optimize_graph(g, {}, &r).ok());
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].op_type, "Conv");
    EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "mul", "add", "add2"}));
    const Tensor x = testing::f32_random({2, 3, 5, 5}, 75);
    auto got = testing::run_graph(g, {{"x", x}}, 1, true);
    auto want = testing::run_graph(before, {{"x", x}}, 1, false);
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_LT(testing::max_rel_diff(got->at("y"), want->at("y")), 1e-6);
  }
}

TEST(AffineFold, ConstantThatBroadcastsBeyondTheChannelsIsLeftAlone) {
  // Varies along the width: not a per-channel map.
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 81))
                    .constant("row", testing::f32_random({3}, 82))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("mul", "Mul", {"c", "row"}, {"y"})
                    .output("y")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

}  // namespace
}  // namespace quench
