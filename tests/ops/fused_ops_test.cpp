// The fused ops of the "quench" domain on their own: lookup by domain, hand-computed values,
// workspace sizes and the errors that name the node. Their agreement with the unfused sequences
// they replace is tested through the optimizer (tests/engine/optimizer_fusion_test.cpp).
#include <gtest/gtest.h>

#include "ops/registry.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

using testing::GraphBuilder;
using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;

Result<TensorMap> run(ir::Graph g, const TensorMap& in) { return testing::run_graph(g, in, 1, false); }

TEST(FusedOps, LiveInTheQuenchDomainOnly) {
  for (const char* op : {"FusedConv", "DwPwConv", "InvertedResidual", "FusedGemm", "FusedMatMul"}) {
    EXPECT_NE(ops::find_schema(op, "quench"), nullptr) << op;
    EXPECT_EQ(ops::find_schema(op, ""), nullptr) << op;
    EXPECT_EQ(ops::find_schema(op, "ai.onnx"), nullptr) << op;
  }
  EXPECT_EQ(ops::find_schema("Conv", "quench"), nullptr);
}

// 1x1 conv of one channel with weight 2 and bias -1, residual r, then the activation.
ir::Graph fused_1x1(const std::string& act, int64_t after) {
  return GraphBuilder()
      .input("x", {1, 1, 1, 4})
      .input("r", {1, 1, 1, 4})
      .constant("w", testing::f32({1, 1, 1, 1}, {2.0f}))
      .constant("b", testing::f32({1}, {-1.0f}))
      .node("f", "FusedConv", {"x", "w", "b", "r"}, {"y"},
            {{"activation", attr_string(act)},
             {"activation_alpha", attr_float(0.0f)},
             {"activation_beta", attr_float(3.0f)},
             {"residual_after_activation", attr_int(after)}})
      .domain("quench")
      .output("y")
      .build();
}

TEST(FusedOps, FusedConvHandComputed) {
  const TensorMap in = {{"x", testing::f32({1, 1, 1, 4}, {-1.0f, 0.5f, 1.5f, 3.0f})},
                        {"r", testing::f32({1, 1, 1, 4}, {0.5f, -1.0f, 1.0f, 2.0f})}};
  // conv: 2x - 1 = {-3, 0, 2, 5}
  auto before = run(fused_1x1("Clip", 0), in);  // clip(conv + r, 0, 3) = clip({-2.5, -1, 3, 7})
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  EXPECT_EQ(testing::values_f32(before->at("y")), (std::vector<float>{0.0f, 0.0f, 3.0f, 3.0f}));
  auto after = run(fused_1x1("Clip", 1), in);  // clip(conv, 0, 3) + r = {0, 0, 2, 3} + r
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(testing::values_f32(after->at("y")), (std::vector<float>{0.5f, -1.0f, 3.0f, 5.0f}));
  auto none = run(fused_1x1("", 0), in);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(testing::values_f32(none->at("y")), (std::vector<float>{-2.5f, -1.0f, 3.0f, 7.0f}));
}

void expect_error(const ir::Graph& g, const TensorMap& in, StatusCode code, const std::string& needle) {
  auto r = run(g, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().to_string();
}

TEST(FusedOps, ErrorsNameTheNode) {
  const TensorMap in = {{"x", testing::f32({1, 1, 1, 4}, {1, 2, 3, 4})},
                        {"r", testing::f32({1, 1, 1, 4}, {1, 2, 3, 4})}};
  expect_error(fused_1x1("Gelu", 0), in, StatusCode::kUnsupported, "FusedConv node 'f'");
  expect_error(fused_1x1("Relu", 2), in, StatusCode::kInvalidArgument, "residual_after_activation");
  ir::Graph bad_r = GraphBuilder()
                        .input("x", {1, 1, 2, 2})
                        .input("r", {1, 1, 1, 4})
                        .constant("w", testing::f32({1, 1, 1, 1}, {2.0f}))
                        .node("f", "FusedConv", {"x", "w", "", "r"}, {"y"})
                        .domain("quench")
                        .output("y")
                        .build();
  expect_error(bad_r, {{"x", testing::f32({1, 1, 2, 2}, {1, 2, 3, 4})}, {"r", in.at("r")}}, StatusCode::kShapeError,
               "must match exactly");
}

TEST(FusedOps, BlockOpsCheckTheirStages) {
  // DwPwConv's KxK stage must be depthwise.
  ir::Graph not_dw = GraphBuilder()
                         .input("x", {1, 2, 4, 4})
                         .constant("wd", testing::f32_random({2, 2, 3, 3}, 1))
                         .constant("wp", testing::f32_random({3, 2, 1, 1}, 2))
                         .node("f", "DwPwConv", {"x", "wd", "", "wp"}, {"y"})
                         .domain("quench")
                         .output("y")
                         .build();
  expect_error(not_dw, {{"x", testing::f32_random({1, 2, 4, 4}, 3)}}, StatusCode::kShapeError, "depthwise");
  // InvertedResidual's expand stage must be 1x1.
  ir::Graph not_pw = GraphBuilder()
                         .input("x", {1, 2, 4, 4})
                         .constant("we", testing::f32_random({4, 2, 3, 3}, 1))
                         .constant("wd", testing::f32_random({4, 1, 3, 3}, 2))
                         .constant("wp", testing::f32_random({2, 4, 1, 1}, 3))
                         .node("f", "InvertedResidual", {"x", "we", "", "wd", "", "wp"}, {"y"},
                               {{"group", attr_int(4)}, {"pads", attr_ints({1, 1, 1, 1})}})
                         .domain("quench")
                         .output("y")
                         .build();
  expect_error(not_pw, {{"x", testing::f32_random({1, 2, 4, 4}, 4)}}, StatusCode::kShapeError, "expand weight");
}

TEST(FusedOps, BlockWorkspaceHoldsTheIntermediates) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3, 5, 5})
                    .constant("we", testing::f32_random({7, 3, 1, 1}, 1))
                    .constant("wd", testing::f32_random({7, 1, 3, 3}, 2))
                    .constant("wp", testing::f32_random({4, 7, 1, 1}, 3))
                    .node("f", "InvertedResidual", {"x", "we", "", "wd", "", "wp"}, {"y"},
                          {{"group", attr_int(7)}, {"strides", attr_ints({2, 2})}})
                    .domain("quench")
                    .output("y")
                    .build();
  const ir::Node& n = g.nodes[0];
  std::vector<ops::ValueDesc> in(6);
  for (size_t i = 0; i < 6; ++i) {
    in[i].present = !n.inputs[i].empty();
    if (in[i].present) {
      in[i].dtype = DType::kF32;
      in[i].shape = g.find(n.inputs[i])->shape;
    }
  }
  // expanded [2,7,5,5] and depthwise output [2,7,2,2], each rounded up to 64 bytes
  const size_t expanded = (2 * 7 * 5 * 5 * 4 + 63) / 64 * 64, filtered = (2 * 7 * 2 * 2 * 4 + 63) / 64 * 64;
  EXPECT_EQ(n.schema->workspace_bytes(n, in, {}), expanded + filtered);
  auto r = run(g, {{"x", testing::f32_random({2, 3, 5, 5}, 4)}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->at("y").shape(), (Shape{2, 4, 2, 2}));
}

}  // namespace
}  // namespace quench
