#include <gtest/gtest.h>

#include "engine/cpu_executor.h"
#include "engine/shape_inference.h"
#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

// ----------------------------------------------------------------------------------- Concat

TEST(Concat, AlongEachAxis) {
  Tensor a = f32({2, 1}, {1, 2});
  Tensor b = f32({2, 2}, {3, 4, 5, 6});
  OpRun r = make_run("Concat", {{a}, {b}});
  r.attrs.set("axis", attr_int(1));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1, 3, 4, 2, 5, 6}));

  OpRun r0 = make_run("Concat", {{f32({1, 2}, {1, 2})}, {f32({2, 2}, {3, 4, 5, 6})}, {f32({1, 2}, {7, 8})}});
  r0.attrs.set("axis", attr_int(-2));
  auto out0 = run_op(r0);
  ASSERT_TRUE(out0.ok()) << out0.status().to_string();
  EXPECT_EQ((*out0)[0].shape(), (Shape{4, 2}));
  EXPECT_EQ(values_f32((*out0)[0]), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Concat, EmptyInputsIntegersAndConstants) {
  OpRun r = make_run("Concat", {{i64({2, 0}, {})}, {i64({2, 2}, {1, 2, 3, 4})}, constant(i64({2, 1}, {-1, -2}))});
  r.attrs.set("axis", attr_int(1));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_i64((*out)[0]), (std::vector<int64_t>{1, 2, -1, 3, 4, -2}));
}

TEST(Concat, Errors) {
  OpRun r = make_run("Concat", {{f32({2, 1}, {1, 2})}, {f32({3, 1}, {3, 4, 5})}});
  r.attrs.set("axis", attr_int(1));
  auto a = run_op(r);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Concat node 'node0': input 1 has shape [3,1]")) << a.status().message();

  OpRun d = make_run("Concat", {{f32({1}, {1})}, {i64({1}, {2})}});
  d.attrs.set("axis", attr_int(0));
  EXPECT_FALSE(run_op(d).ok());  // mixed dtypes

  EXPECT_FALSE(run_op(make_run("Concat", {{f32({1}, {1})}, {f32({1}, {2})}})).ok());  // axis required
  OpRun s = make_run("Concat", {{f32({}, {1})}, {f32({}, {2})}});
  s.attrs.set("axis", attr_int(0));
  EXPECT_FALSE(run_op(s).ok());  // scalars
  OpRun o = make_run("Concat", {{f32({1}, {1})}, {f32({1}, {2})}});
  o.attrs.set("axis", attr_int(1));
  EXPECT_FALSE(run_op(o).ok());  // axis out of range
}

// ------------------------------------------------------------------------------------ Split

std::vector<std::vector<float>> split_values(const Result<std::vector<Tensor>>& r) {
  std::vector<std::vector<float>> v;
  if (r.ok())
    for (const Tensor& t : *r) v.push_back(values_f32(t));
  return v;
}

TEST(Split, EqualPartsByOutputCount) {
  OpRun r = make_run("Split", {{f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}}, 13);
  r.attrs.set("axis", attr_int(-1));
  r.outputs = 2;
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(split_values(out), (std::vector<std::vector<float>>{{1, 2, 5, 6}, {3, 4, 7, 8}}));

  OpRun bad = make_run("Split", {{f32({5}, {1, 2, 3, 4, 5})}}, 13);
  bad.outputs = 2;
  auto b = run_op(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(has(b.status(), "Split node 'node0': cannot split a dim of 5 into 2 equal parts")) << b.status().message();
}

TEST(Split, SizesFromInputAndAttribute) {
  Tensor x = f32({6}, {1, 2, 3, 4, 5, 6});
  OpRun r = make_run("Split", {{x}, constant(i64({3}, {1, 0, 5}))}, 13);  // a zero-size part
  r.outputs = 3;
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(split_values(out), (std::vector<std::vector<float>>{{1}, {}, {2, 3, 4, 5, 6}}));

  OpRun a = make_run("Split", {{x}}, 11);
  a.attrs.set("split", attr_ints({2, 4}));
  a.outputs = 2;
  auto outa = run_op(a);
  ASSERT_TRUE(outa.ok()) << outa.status().to_string();
  EXPECT_EQ(split_values(outa), (std::vector<std::vector<float>>{{1, 2}, {3, 4, 5, 6}}));

  OpRun s = make_run("Split", {{x}, constant(i64({2}, {2, 3}))}, 13);
  s.outputs = 2;
  auto bad = run_op(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(has(bad.status(), "add up to 5, not to dim 6")) << bad.status().message();

  OpRun n = make_run("Split", {{x}, constant(i64({2}, {-1, 7}))}, 13);
  n.outputs = 2;
  EXPECT_FALSE(run_op(n).ok());
  OpRun c = make_run("Split", {{x}, constant(i64({2}, {3, 3}))}, 13);
  c.outputs = 3;
  EXPECT_FALSE(run_op(c).ok());  // 2 sizes for 3 outputs
}

TEST(Split, NumOutputsSince18) {
  OpRun r = make_run("Split", {{f32({5, 1}, {1, 2, 3, 4, 5})}}, 18);
  r.attrs.set("num_outputs", attr_int(3));
  r.outputs = 3;
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // ceil(5/3) = 2 per part, the last gets what is left.
  EXPECT_EQ(split_values(out), (std::vector<std::vector<float>>{{1, 2}, {3, 4}, {5}}));

  OpRun m = make_run("Split", {{f32({5}, {1, 2, 3, 4, 5})}}, 18);
  m.attrs.set("num_outputs", attr_int(2));
  m.outputs = 3;
  EXPECT_FALSE(run_op(m).ok());  // num_outputs disagrees with the node
  OpRun b = make_run("Split", {{f32({5}, {1, 2, 3, 4, 5})}, constant(i64({2}, {2, 3}))}, 18);
  b.attrs.set("num_outputs", attr_int(2));
  b.outputs = 2;
  EXPECT_FALSE(run_op(b).ok());  // both given
}

TEST(Split, MiddleAxisOfIntegers) {
  std::vector<int64_t> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i;
  OpRun r = make_run("Split", {{i64({2, 3, 2}, v)}, constant(i64({2}, {2, 1}))}, 13);
  r.attrs.set("axis", attr_int(1));
  r.outputs = 2;
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values_i64((*out)[0]), (std::vector<int64_t>{0, 1, 2, 3, 6, 7, 8, 9}));
  EXPECT_EQ(values_i64((*out)[1]), (std::vector<int64_t>{4, 5, 10, 11}));
}

TEST(Split, OmittedMiddleOutputKeepsOffsets) {
  // Outputs "a", "" and "c": the omitted part still takes its share of the input.
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 13;
  g->inputs = {"x"};
  ir::Value& x = g->get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {6};
  x.has_shape = true;
  g->get_or_add("sizes").constant = i64({3}, {1, 2, 3});
  ir::Node n;
  n.name = "split";
  n.op_type = "Split";
  n.inputs = {"x", "sizes"};
  n.outputs = {"a", "", "c"};
  g->nodes.push_back(n);
  g->outputs = {"a", "c"};
  ASSERT_TRUE(ir::validate(*g).ok());
  ASSERT_TRUE(ir::bind_schemas(*g).ok());
  Status s = infer_shapes(*g, {});
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto ex = CpuExecutor::create(g);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  TensorMap outs;
  Status r = (*ex)->run({{"x", f32({6}, {1, 2, 3, 4, 5, 6})}}, outs);
  ASSERT_TRUE(r.ok()) << r.to_string();
  EXPECT_EQ(values_f32(outs["a"]), (std::vector<float>{1}));
  EXPECT_EQ(values_f32(outs["c"]), (std::vector<float>{4, 5, 6}));
}

}  // namespace
}  // namespace quench::testing
