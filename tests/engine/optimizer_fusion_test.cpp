// Epilogue and block fusions on small graphs: each activation kind, SiLU as x*Sigmoid(x), the
// residual before and after the activation, depthwise-separable and inverted-residual blocks.
// The fused graph must compute what the unfused one does (up to float rounding: the fused op no
// longer rounds its intermediates to float), and patterns that do not match stay as they were.
#include <gtest/gtest.h>

#include "engine/execution_plan.h"
#include "engine/optimizer/launches.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

using testing::GraphBuilder;
using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;

// Optimizes a copy of `g`, checks it against `g` on random inputs at `batch`, returns it.
ir::Graph optimized_matching(const ir::Graph& g, const std::string& out, OptimizeReport* report = nullptr,
                             double tol = 1e-6) {
  ir::Graph o = g;
  Status st = optimize_graph(o, {}, report);
  EXPECT_TRUE(st.ok()) << st.to_string();
  TensorMap in;
  uint32_t seed = 100;
  for (const auto& name : g.inputs) in[name] = testing::f32_random(g.find(name)->shape, seed++);
  auto got = testing::run_graph(o, in, 1, true);
  auto want = testing::run_graph(g, in, 1, false);
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(want.ok()) << want.status().to_string();
  if (got.ok() && want.ok()) {
    EXPECT_LT(testing::max_rel_diff(got->at(out), want->at(out)), tol);
    EXPECT_GT(testing::rel_l2(Tensor::zeros(DType::kF32, want->at(out).shape()), want->at(out)), 0.99);
  }
  return o;
}

// x [1,4,6,6] -> Conv 3x3 (4 -> 6) -> `act` (a node named "act" reading "c", writing "y").
GraphBuilder conv_then(uint32_t seed = 1) {
  GraphBuilder b;
  b.input("x", {1, 4, 6, 6})
      .constant("w", testing::f32_random({6, 4, 3, 3}, seed))
      .constant("cb", testing::f32_random({6}, seed + 1))
      .node("conv", "Conv", {"x", "w", "cb"}, {"c"}, {{"pads", attr_ints({1, 1, 1, 1})}});
  return b;
}

TEST(ActivationFold, EveryKindMatchesTheUnfusedNode) {
  struct Case {
    std::string op;
    std::vector<std::pair<std::string, ops::Attribute>> attrs;
    std::string kind;
  };
  const std::vector<Case> cases = {
      {"Relu", {}, "Relu"},
      {"LeakyRelu", {{"alpha", attr_float(0.3f)}}, "LeakyRelu"},
      {"HardSigmoid", {{"alpha", attr_float(0.25f)}, {"beta", attr_float(0.4f)}}, "HardSigmoid"},
      {"HardSwish", {}, "HardSwish"},
      {"Sigmoid", {}, "Sigmoid"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    ir::Graph g = conv_then().node("act", c.op, {"c"}, {"y"}, c.attrs).output("y").build();
    OptimizeReport r;
    ir::Graph o = optimized_matching(g, "y", &r);
    ASSERT_EQ(o.nodes.size(), 1u);
    EXPECT_EQ(o.nodes[0].op_type, "FusedConv");
    EXPECT_EQ(o.nodes[0].domain, "quench");
    EXPECT_EQ(o.nodes[0].attrs.find("activation")->s, c.kind);
    EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "act"}));
  }
}

TEST(ActivationFold, ClipFromInputsAndFromAttributes) {
  // ReLU6 as opset-11 Clip with constant bounds.
  ir::Graph g = conv_then()
                    .constant("lo", testing::f32({}, {0.0f}))
                    .constant("hi", testing::f32({}, {0.5f}))
                    .node("act", "Clip", {"c", "lo", "hi"}, {"y"})
                    .output("y")
                    .build();
  ir::Graph o = optimized_matching(g, "y");
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].attrs.find("activation_alpha")->f, 0.0f);
  EXPECT_EQ(o.nodes[0].attrs.find("activation_beta")->f, 0.5f);
  // Only an upper bound (the lower omitted).
  ir::Graph g2 = conv_then()
                     .constant("hi", testing::f32({}, {0.25f}))
                     .node("act", "Clip", {"c", "", "hi"}, {"y"})
                     .output("y")
                     .build();
  EXPECT_EQ(optimized_matching(g2, "y").nodes.size(), 1u);
  // Opset 6: attributes.
  GraphBuilder b = conv_then();
  ir::Graph g3 =
      b.node("act", "Clip", {"c"}, {"y"}, {{"min", attr_float(-0.5f)}, {"max", attr_float(0.75f)}}).output("y").build();
  g3.opsets[""] = 6;
  for (auto& n : g3.nodes) n.opset = 6;
  EXPECT_EQ(optimized_matching(g3, "y").nodes.size(), 1u);
}

TEST(ActivationFold, ClipWithARuntimeBoundIsLeftAlone) {
  ir::Graph g = conv_then().input("hi", {}).node("act", "Clip", {"c", "", "hi"}, {"y"}).output("y").build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(ActivationFold, SiluWrittenAsXTimesSigmoid) {
  ir::Graph g = conv_then()
                    .node("sig", "Sigmoid", {"c"}, {"s"})
                    .node("mul", "Mul", {"s", "c"}, {"y"})
                    .output("y")
                    .build();
  OptimizeReport r;
  ir::Graph o = optimized_matching(g, "y", &r);
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].attrs.find("activation")->s, "SiLU");
  EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "sig", "mul"}));
}

TEST(ActivationFold, HardSwishWrittenOut) {
  // y * Clip(y + 3, 0, 6) / 6, as PaddlePaddle exports it.
  ir::Graph g = conv_then()
                    .constant("three", testing::f32({}, {3.0f}))
                    .constant("zero", testing::f32({}, {0.0f}))
                    .constant("six", testing::f32({}, {6.0f}))
                    .node("add", "Add", {"c", "three"}, {"a"})
                    .node("clip", "Clip", {"a", "zero", "six"}, {"k"})
                    .node("mul", "Mul", {"c", "k"}, {"m"})
                    .node("div", "Div", {"m", "six"}, {"y"})
                    .output("y")
                    .build();
  OptimizeReport r;
  ir::Graph o = optimized_matching(g, "y", &r);
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].attrs.find("activation")->s, "HardSwish");
  EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "add", "clip", "mul", "div"}));
  // Another constant than 3 is some other function: left alone.
  ir::Graph g2 = conv_then()
                     .constant("three", testing::f32({}, {2.0f}))
                     .constant("zero", testing::f32({}, {0.0f}))
                     .constant("six", testing::f32({}, {6.0f}))
                     .node("add", "Add", {"c", "three"}, {"a"})
                     .node("clip", "Clip", {"a", "zero", "six"}, {"k"})
                     .node("mul", "Mul", {"c", "k"}, {"m"})
                     .node("div", "Div", {"m", "six"}, {"y"})
                     .output("y")
                     .build();
  EXPECT_EQ(optimized_matching(g2, "y").nodes.size(), 5u);
}

TEST(ActivationFold, ConvOutputWithAnotherReaderIsLeftAlone) {
  ir::Graph g = conv_then()
                    .node("act", "Relu", {"c"}, {"y"})
                    .node("other", "Neg", {"c"}, {"z"})
                    .output("y")
                    .output("z")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(ActivationFold, GemmAndMatMul) {
  ir::Graph g = GraphBuilder()
                    .input("x", {3, 8})
                    .constant("w", testing::f32_random({8, 5}, 7))
                    .constant("c", testing::f32_random({5}, 8))
                    .constant("w2", testing::f32_random({5, 4}, 9))
                    .node("gemm", "Gemm", {"x", "w", "c"}, {"g"})
                    .node("relu", "Relu", {"g"}, {"r"})
                    .node("mm", "MatMul", {"r", "w2"}, {"m"})
                    .node("hs", "HardSwish", {"m"}, {"y"})
                    .output("y")
                    .build();
  ir::Graph o = optimized_matching(g, "y");
  ASSERT_EQ(o.nodes.size(), 2u);
  EXPECT_EQ(o.nodes[0].op_type, "FusedGemm");
  EXPECT_EQ(o.nodes[1].op_type, "FusedMatMul");
}

TEST(ActivationFold, IntegerMatMulIsLeftAlone) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3}, DType::kI32)
                    .input("w", {3, 2}, DType::kI32)
                    .node("mm", "MatMul", {"x", "w"}, {"m"})
                    .node("relu", "Relu", {"m"}, {"y"})
                    .output("y")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

// ---- residual ---------------------------------------------------------------------------------

TEST(ResidualFold, AddThenReluPutsTheResidualBeforeTheActivation) {
  // ResNet: relu(conv(x) + r), r computed after the conv in graph order.
  ir::Graph g = conv_then()
                    .constant("w2", testing::f32_random({6, 4, 1, 1}, 3))
                    .node("side", "Conv", {"x", "w2"}, {"r"})
                    .node("sidea", "Neg", {"r"}, {"rn"})
                    .node("add", "Add", {"c", "rn"}, {"a"})
                    .node("relu", "Relu", {"a"}, {"y"})
                    .output("y")
                    .build();
  OptimizeReport r;
  ir::Graph o = optimized_matching(g, "y", &r);
  ASSERT_EQ(o.nodes.size(), 3u);
  const ir::Node& f = o.nodes[2];
  EXPECT_EQ(f.op_type, "FusedConv");
  EXPECT_EQ(f.inputs.size(), 4u);
  EXPECT_EQ(f.inputs[3], "rn");
  EXPECT_EQ(f.attrs.find("activation")->s, "Relu");
  EXPECT_EQ(f.attrs.find("residual_after_activation"), nullptr);
  EXPECT_EQ(r.fused.at("conv"), (std::vector<std::string>{"conv", "add", "relu"}));
}

TEST(ResidualFold, ReluThenAddPutsTheResidualAfter) {
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 4, 5, 5})
                    .constant("w", testing::f32_random({4, 4, 1, 1}, 5))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("relu", "Relu", {"c"}, {"a"})
                    .node("add", "Add", {"x", "a"}, {"y"})
                    .output("y")
                    .build();
  ir::Graph o = optimized_matching(g, "y");
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].inputs, (std::vector<std::string>{"x", "w", "", "x"}));
  EXPECT_EQ(o.nodes[0].attrs.find("residual_after_activation")->i, 1);
}

TEST(ResidualFold, BroadcastingAddIsLeftAlone) {
  ir::Graph g = conv_then()
                    .constant("bias", testing::f32_random({6}, 6))  // along the width: no bias either
                    .node("add", "Add", {"c", "bias"}, {"y"})
                    .output("y")
                    .build();
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(ResidualFold, ShapesThatMatchOnlyAtBatchOneAreLeftAlone) {
  // r's batch is fixed at 1 while the conv's follows the input's: equal at batch 1, a
  // broadcast at batch 2, so an engine for batch 2 must keep the Add.
  ir::Graph g = GraphBuilder()
                    .input("x", {-1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 7))
                    .constant("r", testing::f32_random({1, 2, 3, 3}, 8))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("add", "Add", {"c", "r"}, {"y"})
                    .output("y")
                    .build();
  OptimizeOptions one;
  ir::Graph g1 = g;
  ASSERT_TRUE(optimize_graph(g1, one, nullptr).ok());
  EXPECT_EQ(g1.nodes.size(), 1u);  // at batch 1 only, the fold is right
  OptimizeOptions two;
  two.max_batch = 2;
  const std::string before = testing::fingerprint(g);
  ASSERT_TRUE(optimize_graph(g, two, nullptr).ok());
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(ResidualFold, UnknownShapesSkipThePassWithAReason) {
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, -1, -1})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 9))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("add", "Add", {"c", "x"}, {"y"})
                    .output("y")
                    .build();
  OptimizeReport r;
  ASSERT_TRUE(optimize_graph(g, {}, &r).ok());
  EXPECT_EQ(g.nodes.size(), 2u);
  bool noted = false;
  for (const auto& p : r.passes)
    if (p.pass == "fold_residual_adds") noted = !p.details.empty() && p.details[0].find("skipped") == 0;
  EXPECT_TRUE(noted);
  // Given the shape, the fold happens.
  OptimizeOptions opt;
  opt.input_shapes["x"] = {1, 2, 4, 4};
  ASSERT_TRUE(optimize_graph(g, opt, nullptr).ok());
  EXPECT_EQ(g.nodes.size(), 1u);
}

// ---- blocks -----------------------------------------------------------------------------------

// x [N,8,7,7] -> [expand 1x1 -> 24 (+BN) -> ReLU6] -> depthwise 3x3 stride `stride` (+BN) ->
// ReLU6 -> project 1x1 -> 8 (+BN) [-> + x when stride 1]. With `expand` false, the block starts
// at the depthwise conv (MobileNetV2's first block).
ir::Graph mobilenet_block(bool expand, int64_t stride, bool residual, int64_t batch = 1) {
  GraphBuilder b;
  const int64_t c = 8, ce = expand ? 24 : 8;
  b.input("x", {batch, c, 7, 7});
  uint32_t seed = 200;
  auto bn = [&](const std::string& name, const std::string& in, const std::string& out, int64_t ch) {
    const uint32_t s0 = seed;
    seed += 4;
    b.constant(name + "_s", testing::positive_f32({ch}, s0))
        .constant(name + "_b", testing::f32_random({ch}, s0 + 1))
        .constant(name + "_m", testing::f32_random({ch}, s0 + 2))
        .constant(name + "_v", testing::positive_f32({ch}, s0 + 3))
        .node(name, "BatchNormalization", {in, name + "_s", name + "_b", name + "_m", name + "_v"}, {out});
  };
  b.constant("lo", testing::f32({}, {0.0f})).constant("hi", testing::f32({}, {6.0f}));
  std::string cur = "x";
  if (expand) {
    b.constant("we", testing::f32_random({ce, c, 1, 1}, seed++)).node("expand", "Conv", {"x", "we"}, {"e"});
    bn("bn_e", "e", "eb", ce);
    b.node("relu_e", "Clip", {"eb", "lo", "hi"}, {"er"});
    cur = "er";
  }
  b.constant("wd", testing::f32_random({ce, 1, 3, 3}, seed++))
      .node("dw", "Conv", {cur, "wd"}, {"d"},
            {{"group", attr_int(ce)}, {"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({stride, stride})}});
  bn("bn_d", "d", "db", ce);
  b.node("relu_d", "Clip", {"db", "lo", "hi"}, {"dr"});
  b.constant("wp", testing::f32_random({c, ce, 1, 1}, seed++)).node("project", "Conv", {"dr", "wp"}, {"p"});
  bn("bn_p", "p", residual ? "pb" : "y", c);
  if (residual) b.node("add", "Add", {"x", "pb"}, {"y"});
  return b.output("y").build();
}

TEST(BlockFusion, InvertedResidualWithResidual) {
  const ir::Graph g = mobilenet_block(true, 1, true);
  OptimizeReport r;
  ir::Graph o = optimized_matching(g, "y", &r, 1e-5);
  ASSERT_EQ(o.nodes.size(), 1u);
  const ir::Node& n = o.nodes[0];
  EXPECT_EQ(n.op_type, "InvertedResidual");
  EXPECT_EQ(n.name, "expand");
  EXPECT_EQ(n.inputs.size(), 8u);
  EXPECT_EQ(n.inputs[7], "x");
  EXPECT_EQ(n.attrs.find("expand_activation")->s, "Clip");
  EXPECT_EQ(n.attrs.find("dw_activation")->s, "Clip");
  EXPECT_EQ(n.attrs.find("project_activation"), nullptr);
  EXPECT_EQ(n.attrs.find("group")->i, 24);
  EXPECT_EQ(r.fused.at("expand"), (std::vector<std::string>{"expand", "bn_e", "relu_e", "dw", "bn_d", "relu_d",
                                                             "project", "bn_p", "add"}));
}

TEST(BlockFusion, InvertedResidualStridedWithoutResidualAtBatchTwo) {
  const ir::Graph g = mobilenet_block(true, 2, false, 2);
  ir::Graph o = optimized_matching(g, "y", nullptr, 1e-5);
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].op_type, "InvertedResidual");
  EXPECT_EQ(o.nodes[0].inputs.size(), 7u);
}

TEST(BlockFusion, DepthwiseThenPointwise) {
  const ir::Graph g = mobilenet_block(false, 1, false);
  ir::Graph o = optimized_matching(g, "y", nullptr, 1e-5);
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].op_type, "DwPwConv");
  EXPECT_EQ(o.nodes[0].name, "dw");
  EXPECT_EQ(o.nodes[0].attrs.find("dw_activation")->s, "Clip");
  EXPECT_EQ(o.nodes[0].attrs.find("pw_activation"), nullptr);
}

TEST(BlockFusion, BlocksCanBeTurnedOff) {
  OptimizeOptions opt;
  opt.fuse_blocks = false;
  ir::Graph g = mobilenet_block(true, 1, true);
  ASSERT_TRUE(optimize_graph(g, opt, nullptr).ok());
  EXPECT_EQ(testing::count_ops(g, "FusedConv"), 3);
  EXPECT_EQ(g.nodes.size(), 3u);
}

TEST(BlockFusion, ExpandedTensorReadTwiceStopsTheBlock) {
  // A squeeze-excite-like second reader of the depthwise output: only the convs' own epilogues
  // fuse; the block stays three FusedConvs and the extra reader.
  GraphBuilder b;
  b.input("x", {1, 4, 5, 5})
      .constant("we", testing::f32_random({8, 4, 1, 1}, 1))
      .constant("wd", testing::f32_random({8, 1, 3, 3}, 2))
      .constant("wp", testing::f32_random({4, 8, 1, 1}, 3))
      .node("expand", "Conv", {"x", "we"}, {"e"})
      .node("relu_e", "Relu", {"e"}, {"er"})
      .node("dw", "Conv", {"er", "wd"}, {"d"}, {{"group", attr_int(8)}, {"pads", attr_ints({1, 1, 1, 1})}})
      .node("relu_d", "Relu", {"d"}, {"dr"})
      .node("gap", "GlobalAveragePool", {"dr"}, {"s"})
      .node("mul", "Mul", {"dr", "s"}, {"se"})
      .node("project", "Conv", {"se", "wp"}, {"y"});
  ir::Graph g = b.output("y").build();
  ir::Graph o = optimized_matching(g, "y");
  EXPECT_EQ(testing::count_ops(o, "InvertedResidual"), 0);
  EXPECT_EQ(testing::count_ops(o, "DwPwConv"), 0);
  EXPECT_EQ(testing::count_ops(o, "FusedConv"), 2);
}

TEST(Launches, CountedPerStepWithoutAliasesOrElidedSteps) {
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 3, 3})
                    .constant("w", testing::f32_random({2, 2, 1, 1}, 4))
                    .node("conv", "Conv", {"x", "w"}, {"c"})
                    .node("relu", "Relu", {"c"}, {"r"})
                    .node("flat", "Flatten", {"r"}, {"f"})
                    .node("neg", "Neg", {"f"}, {"y"})
                    .output("y")
                    .build();
  auto count = [](const ir::Graph& graph) {
    auto sg = specialize_for_batch(graph, BuildOptions{}, 1, "test");
    EXPECT_TRUE(sg.ok());
    auto plan = make_execution_plan(*sg);
    EXPECT_TRUE(plan.ok());
    return count_launches(*plan);
  };
  EXPECT_EQ(count(g), 3);  // conv, relu, neg; the Flatten is a view
  ASSERT_TRUE(optimize_graph(g, {}, nullptr).ok());
  EXPECT_EQ(count(g), 2);
}

}  // namespace
}  // namespace quench
