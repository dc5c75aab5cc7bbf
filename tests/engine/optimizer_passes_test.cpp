// The structural passes on small hand-built graphs: copies, transpose pairs, dead nodes and (on
// inferred graphs) reshape chains. Each case checks the rewrite, the unchanged graph where it
// must not apply, and that the output is the same as the unoptimized graph's.
#include <gtest/gtest.h>

#include "engine/optimizer/passes.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

using testing::GraphBuilder;
using testing::attr_ints;

OptimizeReport optimize_ok(ir::Graph& g, const OptimizeOptions& opt = {}) {
  OptimizeReport r;
  Status st = optimize_graph(g, opt, &r);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return r;
}

int64_t rewrites_of(const OptimizeReport& r, const std::string& pass) {
  int64_t n = 0;
  for (const auto& p : r.passes)
    if (p.pass == pass) n += p.rewrites;
  return n;
}

// Output `name` of the graph run on `x`, optimized or not.
Tensor run_one(const ir::Graph& g, const Tensor& x, const std::string& out, bool optimized) {
  auto r = testing::run_graph(g, {{"x", x}}, 1, optimized);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->at(out) : Tensor();
}

TEST(OptimizerCopies, IdentityAndDropoutAreBypassed) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3})
                    .node("id", "Identity", {"x"}, {"a"})
                    .node("relu", "Relu", {"a"}, {"b"})
                    .node("drop", "Dropout", {"b"}, {"c"})
                    .node("neg", "Neg", {"c"}, {"y"})
                    .output("y")
                    .build();
  const ir::Graph before = g;
  const OptimizeReport r = optimize_ok(g);
  EXPECT_EQ(rewrites_of(r, "remove_copies"), 2);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].inputs[0], "x");
  EXPECT_EQ(g.nodes[1].inputs[0], "b");
  EXPECT_EQ(g.outputs, std::vector<std::string>{"y"});
  const Tensor x = testing::f32_random({2, 3}, 1);
  EXPECT_EQ(testing::values_f32(run_one(g, x, "y", true)), testing::values_f32(run_one(before, x, "y", false)));
}

TEST(OptimizerCopies, GraphOutputNameIsKept) {
  // The Identity writes the graph output: its producer takes over the name.
  ir::Graph g = GraphBuilder()
                    .input("x", {4})
                    .node("relu", "Relu", {"x"}, {"a"})
                    .node("id", "Identity", {"a"}, {"y"})
                    .output("y")
                    .build();
  optimize_ok(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].outputs[0], "y");
  EXPECT_EQ(g.outputs, std::vector<std::string>{"y"});
  EXPECT_EQ(g.find("a"), nullptr);
}

TEST(OptimizerCopies, InputToOutputIdentityAndUsedMaskStay) {
  // An Identity from a graph input to a graph output is the only way to produce that output;
  // a Dropout whose mask is read computes something.
  ir::Graph g = GraphBuilder()
                    .input("x", {4})
                    .node("id", "Identity", {"x"}, {"y"})
                    .node("drop", "Dropout", {"x"}, {"d", "mask"})
                    .output("y")
                    .output("d")
                    .output("mask")
                    .build();
  const std::string before = testing::fingerprint(g);
  const OptimizeReport r = optimize_ok(g);
  EXPECT_EQ(testing::fingerprint(g), before);
  EXPECT_EQ(rewrites_of(r, "remove_copies"), 0);
}

TEST(OptimizerTranspose, CancellingPairIsRemoved) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3, 4})
                    .node("t1", "Transpose", {"x"}, {"a"}, {{"perm", attr_ints({2, 0, 1})}})
                    .node("t2", "Transpose", {"a"}, {"b"}, {{"perm", attr_ints({1, 2, 0})}})
                    .node("relu", "Relu", {"b"}, {"y"})
                    .output("y")
                    .build();
  const ir::Graph before = g;
  const OptimizeReport r = optimize_ok(g);
  EXPECT_EQ(rewrites_of(r, "fold_transpose_pairs"), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].inputs[0], "x");
  const Tensor x = testing::f32_random({2, 3, 4}, 2);
  EXPECT_EQ(testing::values_f32(run_one(g, x, "y", true)), testing::values_f32(run_one(before, x, "y", false)));
}

TEST(OptimizerTranspose, NonCancellingPairMergesIntoOne) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3, 4})
                    .node("t1", "Transpose", {"x"}, {"a"}, {{"perm", attr_ints({1, 0, 2})}})
                    .node("t2", "Transpose", {"a"}, {"y"}, {{"perm", attr_ints({0, 2, 1})}})
                    .output("y")
                    .build();
  const ir::Graph before = g;
  const OptimizeReport r = optimize_ok(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "t2");
  EXPECT_EQ(g.nodes[0].attrs.find("perm")->ints, (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(r.fused.at("t2"), (std::vector<std::string>{"t2", "t1"}));
  const Tensor x = testing::f32_random({2, 3, 4}, 3);
  EXPECT_EQ(testing::values_f32(run_one(g, x, "y", true)), testing::values_f32(run_one(before, x, "y", false)));
}

TEST(OptimizerTranspose, SharedFirstTransposeIsLeftAlone) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3})
                    .node("t1", "Transpose", {"x"}, {"a"}, {{"perm", attr_ints({1, 0})}})
                    .node("t2", "Transpose", {"a"}, {"y"}, {{"perm", attr_ints({1, 0})}})
                    .node("relu", "Relu", {"a"}, {"z"})
                    .output("y")
                    .output("z")
                    .build();
  const std::string before = testing::fingerprint(g);
  optimize_ok(g);
  EXPECT_EQ(testing::fingerprint(g), before);
}

TEST(OptimizerDeadNodes, UnusedBranchAndInitializerAreRemoved) {
  ir::Graph g = GraphBuilder()
                    .input("x", {3})
                    .constant("unused_w", testing::f32({3}, {1, 2, 3}))
                    .node("relu", "Relu", {"x"}, {"y"})
                    .node("dead", "Neg", {"x"}, {"d"})
                    .node("dead2", "Abs", {"d"}, {"e"})
                    .output("y")
                    .build();
  const OptimizeReport r = optimize_ok(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "relu");
  EXPECT_EQ(g.find("unused_w"), nullptr);
  EXPECT_EQ(g.find("d"), nullptr);
  EXPECT_EQ(rewrites_of(r, "remove_dead_nodes"), 3);  // two nodes, one line for the values
}

TEST(OptimizerPipeline, GraphNoPassAppliesToIsUnchanged) {
  // Every kind of node the passes look at, in a configuration none of them may rewrite: a
  // Conv whose output two nodes read, a BatchNormalization with a non-constant mean, an Add
  // that broadcasts, a Relu after a Softmax.
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 4, 4})
                    .input("mean", {2})
                    .constant("w", testing::f32_random({2, 2, 3, 3}, 4))
                    .constant("s", testing::positive_f32({2}, 5))
                    .constant("b", testing::f32_random({2}, 6))
                    .constant("v", testing::positive_f32({2}, 7))
                    .constant("row", testing::f32_random({1, 2, 1, 1}, 8))
                    .node("conv", "Conv", {"x", "w"}, {"c"}, {{"pads", attr_ints({1, 1, 1, 1})}})
                    .node("bn", "BatchNormalization", {"c", "s", "b", "mean", "v"}, {"n"})
                    .node("relu", "Relu", {"c"}, {"r"})
                    .node("add", "Add", {"n", "row"}, {"a"})
                    .node("sm", "Softmax", {"a"}, {"sm_out"})
                    .node("relu2", "Relu", {"sm_out"}, {"y"})
                    .output("y")
                    .output("r")
                    .build();
  const std::string before = testing::fingerprint(g);
  const OptimizeReport r = optimize_ok(g);
  EXPECT_EQ(testing::fingerprint(g), before);
  for (const auto& p : r.passes) EXPECT_EQ(p.rewrites, 0) << p.pass;
  EXPECT_TRUE(r.fused.empty());
}

// ---- post-inference: reshape chains ---------------------------------------------------------

std::shared_ptr<ir::Graph> inferred(const ir::Graph& g) {
  BuildOptions bo;
  auto sg = specialize_for_batch(g, bo, 1, "test");
  EXPECT_TRUE(sg.ok()) << sg.status().to_string();
  return std::make_shared<ir::Graph>(**sg);
}

TEST(OptimizerReshapes, NoOpAndChainedReshapesAfterInference) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3, 4})
                    .constant("s1", testing::i64({2}, {2, 12}))
                    .constant("s2", testing::i64({3}, {2, 3, 4}))
                    .node("relu", "Relu", {"x"}, {"a"})
                    .node("noop", "Reshape", {"a", "s2"}, {"b"})
                    .node("r1", "Reshape", {"b", "s1"}, {"c"})
                    .node("flat", "Flatten", {"c"}, {"d"}, {{"axis", testing::attr_int(0)}})
                    .node("neg", "Neg", {"d"}, {"y"})
                    .output("y")
                    .build();
  auto ig = inferred(g);
  const ir::Graph before = *ig;
  OptimizeReport r;
  ASSERT_TRUE(optimize_inferred_graph(*ig, &r).ok());
  // relu -> Reshape(relu, [1, 24]) -> neg
  ASSERT_EQ(ig->nodes.size(), 3u);
  EXPECT_EQ(ig->nodes[1].op_type, "Reshape");
  EXPECT_EQ(ig->nodes[1].inputs[0], "a");
  EXPECT_EQ(testing::values_i64(ig->find(ig->nodes[1].inputs[1])->constant), (std::vector<int64_t>{1, 24}));
  const Tensor x = testing::f32_random({2, 3, 4}, 9);
  auto run = [&](const ir::Graph& graph) {
    auto ex = CpuExecutor::create(std::make_shared<const ir::Graph>(graph));
    EXPECT_TRUE(ex.ok()) << ex.status().to_string();
    TensorMap out;
    EXPECT_TRUE((*ex)->run({{"x", x}}, out).ok());
    return out.at("y");
  };
  const Tensor got = run(*ig), want = run(before);
  EXPECT_EQ(got.shape(), want.shape());
  EXPECT_EQ(testing::values_f32(got), testing::values_f32(want));
}

TEST(OptimizerReshapes, ReshapeThatChangesShapeAloneIsUnchanged) {
  ir::Graph g = GraphBuilder()
                    .input("x", {2, 3})
                    .constant("s", testing::i64({1}, {6}))
                    .node("r", "Reshape", {"x", "s"}, {"a"})
                    .node("relu", "Relu", {"a"}, {"y"})
                    .output("y")
                    .build();
  auto ig = inferred(g);
  const std::string before = testing::fingerprint(*ig);
  OptimizeReport r;
  ASSERT_TRUE(optimize_inferred_graph(*ig, &r).ok());
  EXPECT_EQ(testing::fingerprint(*ig), before);
}

}  // namespace
}  // namespace quench
