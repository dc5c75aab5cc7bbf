#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

OpRun constant_node(std::string attr, ops::Attribute a) {
  OpRun r = make_run("Constant", {});
  r.attrs.set(std::move(attr), std::move(a));
  return r;
}

TEST(Constant, ValueTensor) {
  auto y = ok_run(constant_node("value", attr_tensor(f32({2, 2}, {1, 2, 3, 4}))));
  EXPECT_EQ(y[0].dtype(), DType::kF32);
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Constant, ScalarAndListAttributes) {
  auto f = ok_run(constant_node("value_float", attr_float(2.5f)));
  EXPECT_EQ(f[0].dtype(), DType::kF32);
  EXPECT_EQ(f[0].shape(), Shape{});
  EXPECT_EQ(values_f32(f[0]), (std::vector<float>{2.5f}));
  auto fs = ok_run(constant_node("value_floats", attr_floats({1, -1, 0.5f})));
  EXPECT_EQ(fs[0].shape(), (Shape{3}));
  EXPECT_EQ(values_f32(fs[0]), (std::vector<float>{1, -1, 0.5f}));
  auto i = ok_run(constant_node("value_int", attr_int(-7)));
  EXPECT_EQ(i[0].dtype(), DType::kI64);
  EXPECT_EQ(values_i64(i[0]), (std::vector<int64_t>{-7}));
  auto is = ok_run(constant_node("value_ints", attr_ints({4, 5})));
  EXPECT_EQ(is[0].shape(), (Shape{2}));
  EXPECT_EQ(values_i64(is[0]), (std::vector<int64_t>{4, 5}));
}

TEST(Constant, LargeConstantRunsWithoutFolding) {
  // Above the 4 MiB folding limit, so the executor runs the node.
  std::vector<int64_t> v(600000);
  for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<int64_t>(k) * 3;
  auto y = ok_run(constant_node("value", attr_tensor(i64({600000}, v))));
  EXPECT_EQ(values_i64(y[0]), v);
}

TEST(Constant, BadAttributesAreErrors) {
  OpRun two = constant_node("value_int", attr_int(1));
  two.attrs.set("value_float", attr_float(1));
  expect_error_naming_node(two, StatusCode::kInvalidArgument);
  expect_error_naming_node(make_run("Constant", {}), StatusCode::kInvalidArgument);
  expect_error_naming_node(constant_node("value_string", attr_string("hi")), StatusCode::kUnsupported);
  ops::Attribute sparse;
  sparse.kind = ops::Attribute::Kind::kSparseTensor;
  expect_error_naming_node(constant_node("sparse_value", sparse), StatusCode::kUnsupported);
  expect_error_naming_node(constant_node("value_ints", attr_int(3)), StatusCode::kInvalidArgument);
}

TEST(ConstantOfShape, DefaultIsFloatZero) {
  auto y = ok_run(make_run("ConstantOfShape", {constant(i64({2}, {2, 3}))}, 9));
  EXPECT_EQ(y[0].dtype(), DType::kF32);
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32(y[0]), std::vector<float>(6, 0.0f));
}

TEST(ConstantOfShape, ValueAttributeSetsTypeAndFill) {
  OpRun r = make_run("ConstantOfShape", {constant(i64({1}, {4}))}, 9);
  r.attrs.set("value", attr_tensor(i64({1}, {7})));
  auto y = ok_run(r);
  EXPECT_EQ(y[0].dtype(), DType::kI64);
  EXPECT_EQ(values_i64(y[0]), (std::vector<int64_t>{7, 7, 7, 7}));
  // A zero dim gives an empty tensor; an empty shape a scalar.
  OpRun z = make_run("ConstantOfShape", {constant(i64({1}, {0}))}, 9);
  EXPECT_EQ(ok_run(z)[0].shape(), (Shape{0}));
  OpRun s = make_run("ConstantOfShape", {constant(i64({0}, {}))}, 9);
  s.attrs.set("value", attr_tensor(f32({1}, {1.5f})));
  auto sc = ok_run(s);
  EXPECT_EQ(sc[0].shape(), Shape{});
  EXPECT_EQ(values_f32(sc[0]), (std::vector<float>{1.5f}));
}

TEST(ConstantOfShape, LargeOutputRunsWithoutFolding) {
  OpRun r = make_run("ConstantOfShape", {constant(i64({2}, {1100, 1000}))}, 9);
  r.attrs.set("value", attr_tensor(f32({1}, {0.25f})));
  auto y = ok_run(r);
  std::vector<float> v = values_f32(y[0]);
  ASSERT_EQ(v.size(), 1100000u);
  EXPECT_EQ(std::count(v.begin(), v.end(), 0.25f), 1100000);
}

TEST(ConstantOfShape, BadShapesAreErrors) {
  expect_error_naming_node(make_run("ConstantOfShape", {constant(i64({2}, {2, -1}))}, 9), StatusCode::kShapeError);
  // The shape decides the output's shape, so it must be known at build time.
  expect_error_naming_node(make_run("ConstantOfShape", {{i64({1}, {3})}}, 9), StatusCode::kUnsupported);
  OpRun two = make_run("ConstantOfShape", {constant(i64({1}, {2}))}, 9);
  two.attrs.set("value", attr_tensor(f32({2}, {1, 2})));
  expect_error_naming_node(two, StatusCode::kInvalidArgument);
}

OpRun range(Tensor start, Tensor limit, Tensor delta) {
  return make_run("Range", {constant(std::move(start)), constant(std::move(limit)), constant(std::move(delta))}, 11);
}

TEST(Range, IntegerAndFloat) {
  auto neg = ok_run(range(i32({}, {10}), i32({}, {4}), i32({}, {-3})));
  EXPECT_EQ(neg[0].dtype(), DType::kI32);
  EXPECT_EQ(values_i64(neg[0]), (std::vector<int64_t>{10, 7}));
  auto f = ok_run(range(f32({}, {1}), f32({}, {5}), f32({}, {1.5f})));
  EXPECT_EQ(f[0].shape(), (Shape{3}));
  EXPECT_EQ(values_f32(f[0]), (std::vector<float>{1, 2.5f, 4}));
  auto exact = ok_run(range(i64({}, {0}), i64({}, {6}), i64({}, {2})));
  EXPECT_EQ(values_i64(exact[0]), (std::vector<int64_t>{0, 2, 4}));
  auto empty = ok_run(range(i64({}, {5}), i64({}, {1}), i64({}, {1})));
  EXPECT_EQ(empty[0].shape(), (Shape{0}));
}

TEST(Range, LargeOutputRunsWithoutFolding) {
  auto y = ok_run(range(i64({}, {-5}), i64({}, {1999995}), i64({}, {2})));
  std::vector<int64_t> v = values_i64(y[0]);
  ASSERT_EQ(v.size(), 1000000u);
  EXPECT_EQ(v[0], -5);
  EXPECT_EQ(v[999999], 1999993);
}

TEST(Range, BadInputsAreErrors) {
  expect_error_naming_node(range(i64({}, {0}), i64({}, {5}), i64({}, {0})), StatusCode::kInvalidArgument);
  expect_error_naming_node(range(i64({}, {0}), f32({}, {5}), i64({}, {1})), StatusCode::kInvalidArgument);
  expect_error_naming_node(range(f32({}, {0}), f32({}, {INFINITY}), f32({}, {1})), StatusCode::kOutOfRange);
  expect_error_naming_node(make_run("Range", {{i64({}, {0})}, constant(i64({}, {5})), constant(i64({}, {1}))}, 11),
                           StatusCode::kUnsupported);
}

}  // namespace
}  // namespace quench::testing
