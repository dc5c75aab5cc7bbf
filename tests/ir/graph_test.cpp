#include <gtest/gtest.h>

#include "engine/ir/graph.h"
#include "engine/shape_inference.h"
#include "tests/ops/op_test_util.h"

namespace quench {
namespace {

using testing::node;

ir::Graph relu_chain() {
  ir::Graph g;
  g.opsets[""] = 17;
  g.inputs = {"x"};
  auto& x = g.get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {-1, 3};
  x.has_shape = true;
  // Listed out of order on purpose: validate() sorts them.
  g.nodes.push_back(node("second", "Relu", {"y"}, {"z"}));
  g.nodes.push_back(node("first", "Relu", {"x"}, {"y"}));
  g.outputs = {"z"};
  return g;
}

TEST(Graph, ValidateSortsTopologically) {
  ir::Graph g = relu_chain();
  ASSERT_TRUE(ir::validate(g).ok());
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
}

TEST(Graph, CycleIsAnErrorNamingANode) {
  ir::Graph g = relu_chain();
  g.nodes[1].inputs = {"z"};  // first reads z, second writes z from y
  Status s = ir::validate(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
}

TEST(Graph, UndefinedInputIsNamed) {
  ir::Graph g = relu_chain();
  g.nodes[1].inputs = {"nowhere"};
  Status s = ir::validate(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'nowhere'"), std::string::npos) << s.message();
}

TEST(Graph, DuplicateProducerIsAnError) {
  ir::Graph g = relu_chain();
  g.nodes[0].outputs = {"y"};
  EXPECT_FALSE(ir::validate(g).ok());
}

TEST(Graph, UnsupportedOperatorMessage) {
  ir::Graph g = relu_chain();
  g.nodes[0].op_type = "FancyOp";
  ASSERT_TRUE(ir::validate(g).ok());
  Status s = ir::bind_schemas(g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message(), "unsupported operator FancyOp at node 'second'");
}

TEST(Graph, ShapeInferenceFillsBatch) {
  ir::Graph g = relu_chain();
  ASSERT_TRUE(ir::validate(g).ok());
  ASSERT_TRUE(ir::bind_schemas(g).ok());
  InferOptions opt;
  opt.batch = 5;
  Status s = infer_shapes(g, opt);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(g.find("z")->shape, (Shape{5, 3}));
  EXPECT_EQ(g.find("z")->dtype, DType::kF32);
}

TEST(Graph, UnknownNonBatchDimNeedsAShape) {
  ir::Graph g = relu_chain();
  g.find("x")->shape = {1, -1};
  ASSERT_TRUE(ir::validate(g).ok());
  ASSERT_TRUE(ir::bind_schemas(g).ok());
  Status s = infer_shapes(g, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("input 'x'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace quench
