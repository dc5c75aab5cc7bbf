#include "engine/execution_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/cpu_executor.h"
#include "engine/shape_inference.h"
#include "tests/ops/op_test_util.h"

namespace quench {
namespace {

using testing::node;

// x -> Relu -> a -> Sigmoid -> b ; x -> Neg -> c ; Concat(b, c, axis 1) -> d -> Tanh -> y
std::shared_ptr<ir::Graph> branchy_graph() {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 17;
  g->inputs = {"x"};
  auto& x = g->get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {1, 5, 3};
  x.has_shape = true;
  g->nodes.push_back(node("relu", "Relu", {"x"}, {"a"}));
  g->nodes.push_back(node("sigmoid", "Sigmoid", {"a"}, {"b"}));
  g->nodes.push_back(node("neg", "Neg", {"x"}, {"c"}));
  ir::Node cat = node("cat", "Concat", {"b", "c"}, {"d"});
  ops::Attribute axis;
  axis.kind = ops::Attribute::Kind::kInt;
  axis.i = 1;
  cat.attrs.set("axis", axis);
  g->nodes.push_back(cat);
  g->nodes.push_back(node("tanh", "Tanh", {"d"}, {"y"}));
  g->outputs = {"y"};
  EXPECT_TRUE(ir::validate(*g).ok());
  EXPECT_TRUE(ir::bind_schemas(*g).ok());
  EXPECT_TRUE(infer_shapes(*g, {}).ok());
  return g;
}

TEST(ExecutionPlan, InPlaceAndConcatElision) {
  auto g = branchy_graph();
  auto plan = make_execution_plan(g);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const auto& p = *plan;
  ASSERT_EQ(p.steps.size(), 5u);
  EXPECT_FALSE(p.steps[1].in_place);  // sigmoid writes into its slice of the concat instead
  EXPECT_FALSE(p.steps[0].in_place);  // relu reads the graph input, whose bytes are never reused
  EXPECT_TRUE(p.steps[3].elided);     // the concat
  EXPECT_TRUE(p.steps[4].in_place);   // tanh over the concat output, which dies there
  const int b = p.find("b"), c = p.find("c"), d = p.find("d");
  EXPECT_EQ(p.values[b].offset, p.values[d].offset);
  EXPECT_EQ(p.values[c].offset, p.values[d].offset + 5 * 3 * 4);  // right after b's 1x5x3 floats
  EXPECT_GE(p.memory.arena_bytes, p.memory.lower_bound_bytes);
}

TEST(ExecutionPlan, PlannedRunMatchesUnplannedRun) {
  auto g = branchy_graph();
  auto planned = CpuExecutor::create(g);
  auto separate = CpuExecutor::create(g, PlanOptions{false, false});
  ASSERT_TRUE(planned.ok() && separate.ok());
  EXPECT_LT((*planned)->plan().memory.arena_bytes, (*separate)->plan().memory.naive_bytes);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> xs(15);
  for (float& v : xs) v = dist(rng);
  TensorMap in{{"x", Tensor::from_values(DType::kF32, {1, 5, 3}, xs)}}, out1, out2;
  ASSERT_TRUE((*planned)->run(in, out1).ok());
  ASSERT_TRUE((*separate)->run(in, out2).ok());
  const Tensor &y1 = out1["y"], &y2 = out2["y"];
  ASSERT_EQ(y1.shape(), (Shape{1, 10, 3}));
  for (int64_t i = 0; i < 30; ++i) {
    const int64_t r = i / 3, k = i % 3;
    const double xv = xs[(r % 5) * 3 + k];
    const double want = r < 5 ? std::tanh(1 / (1 + std::exp(-std::max(0.0, xv)))) : std::tanh(-xv);
    EXPECT_NEAR(y1.value_as_double(i), want, 1e-6) << i;
    EXPECT_EQ(y1.value_as_double(i), y2.value_as_double(i)) << i;
  }
}

TEST(ExecutionPlan, RunRefusesWrongInputsByName) {
  auto ex = CpuExecutor::create(branchy_graph());
  ASSERT_TRUE(ex.ok());
  Tensor x = Tensor::zeros(DType::kF32, {1, 5, 3});
  TensorMap out;
  Status extra = (*ex)->run({{"x", x}, {"bogus", x}}, out);
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.message().find("'bogus' is not an input"), std::string::npos) << extra.message();
  Status missing = (*ex)->run({{"a", x}}, out);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("input 'x' was not given"), std::string::npos) << missing.message();
  Status shape = (*ex)->run({{"x", Tensor::zeros(DType::kF32, {1, 5, 4})}}, out);
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.message().find("'x'"), std::string::npos) << shape.message();
}

}  // namespace
}  // namespace quench
