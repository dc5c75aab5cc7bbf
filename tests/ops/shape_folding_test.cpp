// The exporter pattern x -> Shape -> Gather(0) -> Unsqueeze -> Concat(with [-1]) -> Reshape(x, .)
// must fold to a constant target shape at build time, leaving one static Reshape to run.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/cpu_executor.h"
#include "engine/shape_inference.h"
#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

void add_constant(ir::Graph& g, const std::string& name, Tensor t) { g.get_or_add(name).constant = std::move(t); }

// x [?, 3, 4] (batch left unknown, as exporters declare it) flattened to [batch, 12].
std::shared_ptr<ir::Graph> flatten_graph() {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 13;
  g->inputs = {"x"};
  ir::Value& x = g->get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {-1, 3, 4};
  x.has_shape = true;
  add_constant(*g, "zero", i64({}, {0}));
  add_constant(*g, "axes0", i64({1}, {0}));
  add_constant(*g, "minus_one", i64({1}, {-1}));
  g->nodes.push_back(node("shape", "Shape", {"x"}, {"x_shape"}));
  g->nodes.push_back(node("gather", "Gather", {"x_shape", "zero"}, {"batch"}));
  g->nodes.push_back(node("unsqueeze", "Unsqueeze", {"batch", "axes0"}, {"batch1"}));
  ir::Node cat = node("concat", "Concat", {"batch1", "minus_one"}, {"target"});
  cat.attrs.set("axis", attr_int(0));
  g->nodes.push_back(std::move(cat));
  g->nodes.push_back(node("reshape", "Reshape", {"x", "target"}, {"y"}));
  g->outputs = {"y"};
  return g;
}

TEST(ShapeFolding, ShapeGatherUnsqueezeConcatReshapeFolds) {
  auto g = flatten_graph();
  ASSERT_TRUE(ir::validate(*g).ok());
  ASSERT_TRUE(ir::bind_schemas(*g).ok());
  InferOptions opt;
  opt.batch = 5;
  Status s = infer_shapes(*g, opt);
  ASSERT_TRUE(s.ok()) << s.to_string();

  // Every value has a static shape, and the shape chain became constants.
  for (const auto& [name, v] : g->values) EXPECT_TRUE(v.shape_is_static()) << name;
  const ir::Value* target = g->find("target");
  ASSERT_NE(target, nullptr);
  ASSERT_TRUE(target->is_constant());
  EXPECT_EQ(values_i64(target->constant), (std::vector<int64_t>{5, -1}));
  EXPECT_EQ(values_i64(g->find("x_shape")->constant), (std::vector<int64_t>{5, 3, 4}));
  EXPECT_EQ(g->find("batch")->shape, (Shape{}));
  EXPECT_EQ(g->find("y")->shape, (Shape{5, 12}));
  EXPECT_FALSE(g->find("y")->is_constant());

  remove_folded_nodes(*g);
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].op_type, "Reshape");
  EXPECT_EQ(g->find("x_shape"), nullptr);  // no one reads it any more
  EXPECT_EQ(g->find("batch"), nullptr);

  // What is left runs on the CPU executor.
  auto ex = CpuExecutor::create(g);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  std::vector<float> xv(60);
  std::iota(xv.begin(), xv.end(), 0.0f);
  TensorMap outs;
  Status r = (*ex)->run({{"x", f32({5, 3, 4}, xv)}}, outs);
  ASSERT_TRUE(r.ok()) << r.to_string();
  EXPECT_EQ(outs["y"].shape(), (Shape{5, 12}));
  EXPECT_EQ(values_f32(outs["y"]), xv);
}

TEST(ShapeFolding, ChainRunsUnfoldedToo) {
  // The same ops, run as real ops (folding off), give the same answer.
  auto g = flatten_graph();
  ASSERT_TRUE(ir::validate(*g).ok());
  ASSERT_TRUE(ir::bind_schemas(*g).ok());
  InferOptions opt;
  opt.batch = 2;
  opt.fold_limit_bytes = 0;  // nothing folds...
  Status s = infer_shapes(*g, opt);
  // ...so Reshape cannot know its target at build time, and says so by name.
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Reshape node 'reshape'"), std::string::npos) << s.message();

  // Each op of the chain, one at a time through run_op, computes what the fold did.
  auto shape = run_op(make_run("Shape", {{f32({2, 3, 4}, std::vector<float>(24, 1.0f))}}, 13));
  ASSERT_TRUE(shape.ok()) << shape.status().to_string();
  auto gather = run_op(make_run("Gather", {{(*shape)[0]}, constant(i64({}, {0}))}, 13));
  ASSERT_TRUE(gather.ok()) << gather.status().to_string();
  auto unsq = run_op(make_run("Unsqueeze", {{(*gather)[0]}, constant(i64({1}, {0}))}, 13));
  ASSERT_TRUE(unsq.ok()) << unsq.status().to_string();
  OpRun cat = make_run("Concat", {{(*unsq)[0]}, {i64({1}, {-1})}}, 13);
  cat.attrs.set("axis", attr_int(0));
  auto target = run_op(cat);
  ASSERT_TRUE(target.ok()) << target.status().to_string();
  EXPECT_EQ(values_i64((*target)[0]), (std::vector<int64_t>{2, -1}));
}

}  // namespace
}  // namespace quench::testing
