#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

// x = [[1, 2, 3], [4, 5, 6]]
Tensor x23() { return f32({2, 3}, {1, 2, 3, 4, 5, 6}); }

// A reduction with axes given the way `opset` wants them (attribute or constant input 1).
OpRun reduce(std::string op, Tensor x, std::vector<int64_t> axes, int64_t opset, int64_t keepdims = 1) {
  const bool as_input = opset >= (op == "ReduceSum" ? 13 : 18);
  OpRun r = make_run(std::move(op), {{std::move(x)}}, opset);
  if (as_input) r.inputs.push_back(constant(i64({static_cast<int64_t>(axes.size())}, axes)));
  else r.attrs.set("axes", attr_ints(axes));
  r.attrs.set("keepdims", attr_int(keepdims));
  return r;
}

TEST(Reduce, SumAxesAsInputSinceOpset13) {
  auto k = ok_run(reduce("ReduceSum", x23(), {1}, 13));
  EXPECT_EQ(k[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values_f32(k[0]), (std::vector<float>{6, 15}));
  auto d = ok_run(reduce("ReduceSum", x23(), {0}, 13, 0));
  EXPECT_EQ(d[0].shape(), (Shape{3}));
  EXPECT_EQ(values_f32(d[0]), (std::vector<float>{5, 7, 9}));
}

TEST(Reduce, SumAxesAsAttributeBeforeOpset13) {
  auto y = ok_run(reduce("ReduceSum", x23(), {-1}, 11, 0));
  EXPECT_EQ(y[0].shape(), (Shape{2}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{6, 15}));
}

TEST(Reduce, MeanAxesAttributeUntilOpset18ThenInput) {
  auto a = ok_run(reduce("ReduceMean", x23(), {-1}, 17));
  EXPECT_EQ(a[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values_f32(a[0]), (std::vector<float>{2, 5}));
  auto b = ok_run(reduce("ReduceMean", x23(), {0}, 18));
  EXPECT_EQ(b[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(values_f32(b[0]), (std::vector<float>{2.5f, 3.5f, 4.5f}));
  // At opset 13 ReduceMean reads the attribute.
  OpRun r = make_run("ReduceMean", {{x23()}}, 13);
  r.attrs.set("axes", attr_ints({0}));
  EXPECT_EQ(values_f32(ok_run(r)[0]), (std::vector<float>{2.5f, 3.5f, 4.5f}));
}

TEST(Reduce, NoAxesReducesEverything) {
  OpRun r = make_run("ReduceMax", {{x23()}}, 13);
  auto k = ok_run(r);
  EXPECT_EQ(k[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(values_f32(k[0]), (std::vector<float>{6}));
  r.attrs.set("keepdims", attr_int(0));
  auto s = ok_run(r);
  EXPECT_EQ(s[0].shape(), Shape{});
  EXPECT_EQ(values_f32(s[0]), (std::vector<float>{6}));
}

TEST(Reduce, NoopWithEmptyAxes) {
  // Empty axes input: reduce all, unless noop_with_empty_axes=1 makes it an identity.
  OpRun r = make_run("ReduceSum", {{x23()}, constant(i64({0}, {}))}, 13);
  auto all = ok_run(r);
  EXPECT_EQ(all[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(values_f32(all[0]), (std::vector<float>{21}));
  r.attrs.set("noop_with_empty_axes", attr_int(1));
  auto same = ok_run(r);
  EXPECT_EQ(same[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32(same[0]), values_f32(x23()));
  // For composite reductions the "reduction" of one element still applies its element-wise part.
  OpRun sq = make_run("ReduceSumSquare", {{x23()}}, 18);
  sq.attrs.set("noop_with_empty_axes", attr_int(1));
  EXPECT_EQ(values_f32(ok_run(sq)[0]), (std::vector<float>{1, 4, 9, 16, 25, 36}));
}

TEST(Reduce, OuterAndInnerAxesOfRank3) {
  // x[i,j,k] = i*6 + j*2 + k over [2,3,2]; reduce axes 0 and 2.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  auto y = ok_run(reduce("ReduceSum", f32({2, 3, 2}, v), {0, -1}, 13, 0));
  EXPECT_EQ(y[0].shape(), (Shape{3}));
  // j=0: 0+1+6+7 = 14; j=1: 2+3+8+9 = 22; j=2: 4+5+10+11 = 30
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{14, 22, 30}));
}

TEST(Reduce, OtherKinds) {
  std::vector<float> x = {1, -2, 3, -4};
  auto mn = ok_run(reduce("ReduceMin", f32({2, 2}, x), {1}, 13, 0));
  EXPECT_EQ(values_f32(mn[0]), (std::vector<float>{-2, -4}));
  auto pr = ok_run(reduce("ReduceProd", f32({2, 2}, x), {0}, 13, 0));
  EXPECT_EQ(values_f32(pr[0]), (std::vector<float>{3, 8}));
  auto l1 = ok_run(reduce("ReduceL1", f32({2, 2}, x), {1}, 13, 0));
  EXPECT_EQ(values_f32(l1[0]), (std::vector<float>{3, 7}));
  auto l2 = ok_run(reduce("ReduceL2", f32({2, 2}, {3, 4, 6, 8}), {1}, 13, 0));
  EXPECT_EQ(values_f32(l2[0]), (std::vector<float>{5, 10}));
  auto ss = ok_run(reduce("ReduceSumSquare", f32({2, 2}, x), {1}, 13, 0));
  EXPECT_EQ(values_f32(ss[0]), (std::vector<float>{5, 25}));
  auto ls = ok_run(reduce("ReduceLogSum", f32({2, 2}, {1, 2, 3, 4}), {1}, 13, 0));
  EXPECT_FLOAT_EQ(values_f32(ls[0])[0], std::log(3.0f));
  EXPECT_FLOAT_EQ(values_f32(ls[0])[1], std::log(7.0f));
}

TEST(Reduce, LogSumExpIsStableForLargeInputs) {
  auto y = ok_run(reduce("ReduceLogSumExp", f32({1, 3}, {1000, 1000, 1000}), {1}, 13, 0));
  EXPECT_FLOAT_EQ(values_f32(y[0])[0], 1000.0f + std::log(3.0f));
  auto small = ok_run(reduce("ReduceLogSumExp", f32({2}, {0, std::log(3.0f)}), {0}, 13, 0));
  EXPECT_NEAR(values_f32(small[0])[0], std::log(4.0f), 1e-6);
}

TEST(Reduce, AccumulatesInDouble) {
  // In float, 2^24 + 1 + 1 + 1 + 1 stays 2^24; in double it is 2^24 + 4, which float holds.
  auto y = ok_run(reduce("ReduceSum", f32({5}, {16777216.0f, 1, 1, 1, 1}), {0}, 13, 0));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{16777220.0f}));
}

TEST(Reduce, IntegerTypes) {
  auto s = ok_run(reduce("ReduceSum", i32({2, 2}, {1, 2, 3, -4}), {1}, 13, 0));
  EXPECT_EQ(s[0].dtype(), DType::kI32);
  EXPECT_EQ(values_i64(s[0]), (std::vector<int64_t>{3, -1}));
  auto m = ok_run(reduce("ReduceMean", i64({2, 2}, {1, 2, -7, 0}), {1}, 13, 0));
  EXPECT_EQ(values_i64(m[0]), (std::vector<int64_t>{1, -3}));  // truncates, as C
  auto mx = ok_run(reduce("ReduceMax", u8({3}, {7, 200, 3}), {0}, 13, 0));
  EXPECT_EQ(values_i64(mx[0]), (std::vector<int64_t>{200}));
}

TEST(Reduce, EmptyReductionGivesTheIdentity) {
  auto s = ok_run(reduce("ReduceSum", f32({2, 0}, {}), {1}, 13, 0));
  EXPECT_EQ(s[0].shape(), (Shape{2}));
  EXPECT_EQ(values_f32(s[0]), (std::vector<float>{0, 0}));
  auto p = ok_run(reduce("ReduceProd", f32({2, 0}, {}), {1}, 13, 0));
  EXPECT_EQ(values_f32(p[0]), (std::vector<float>{1, 1}));
  auto mx = ok_run(reduce("ReduceMax", f32({2, 0}, {}), {1}, 13, 0));
  EXPECT_EQ(values_f32(mx[0])[0], -std::numeric_limits<float>::infinity());
  auto e = ok_run(reduce("ReduceSum", f32({0, 3}, {}), {1}, 13, 1));  // nothing to write
  EXPECT_EQ(e[0].shape(), (Shape{0, 1}));
}

TEST(Reduce, MaxPropagatesNan) {
  auto y = ok_run(reduce("ReduceMax", f32({3}, {1, NAN, 2}), {0}, 13, 0));
  EXPECT_TRUE(std::isnan(values_f32(y[0])[0]));
}

TEST(Reduce, BadAxesAreErrorsNamingTheNode) {
  expect_error_naming_node(reduce("ReduceSum", x23(), {2}, 13), StatusCode::kInvalidArgument);
  expect_error_naming_node(reduce("ReduceMean", x23(), {-3}, 11), StatusCode::kInvalidArgument);
  expect_error_naming_node(reduce("ReduceMax", x23(), {1, -1}, 13), StatusCode::kInvalidArgument);
  // Axes decide the output shape, so a run-time axes input is refused clearly.
  expect_error_naming_node(make_run("ReduceSum", {{x23()}, {i64({1}, {0})}}, 13), StatusCode::kUnsupported);
  expect_error_naming_node(make_run("ReduceSum", {{boolean({2}, {1, 0})}}, 13), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace quench::testing
