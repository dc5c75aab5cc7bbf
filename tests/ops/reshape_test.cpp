#include <gtest/gtest.h>

#include <numeric>
#include <optional>

#include "ops/registry.h"
#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

std::vector<float> iota_f(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

Tensor x234() { return f32({2, 3, 4}, iota_f(24)); }

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

// ---------------------------------------------------------------------------------- Reshape

TEST(Reshape, InfersMinusOneAndCopiesZero) {
  auto a = run_op(make_run("Reshape", {{x234()}, constant(i64({2}, {4, -1}))}));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(values_f32((*a)[0]), iota_f(24));

  // 0 copies the input's dim at that position.
  auto b = run_op(make_run("Reshape", {{x234()}, constant(i64({3}, {0, 0, -1}))}));
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ((*b)[0].shape(), (Shape{2, 3, 4}));
  auto c = run_op(make_run("Reshape", {{x234()}, constant(i64({2}, {0, -1}))}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].shape(), (Shape{2, 12}));
}

TEST(Reshape, AllowZeroKeepsZeroAsADim) {
  OpRun r = make_run("Reshape", {{f32({0, 3}, {})}, constant(i64({2}, {3, 0}))}, 14);
  r.attrs.set("allowzero", attr_int(1));
  auto a = run_op(r);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{3, 0}));

  // Without allowzero, the 0 copies dim 1 (3), and 3x3 != 0 elements.
  auto b = run_op(make_run("Reshape", {{f32({0, 3}, {})}, constant(i64({2}, {3, 0}))}, 14));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(has(b.status(), "cannot reshape 0 elements to [3,0]")) << b.status().message();

  // allowzero with -1 next to a zero is ambiguous.
  OpRun c = make_run("Reshape", {{f32({0, 3}, {})}, constant(i64({2}, {0, -1}))}, 14);
  c.attrs.set("allowzero", attr_int(1));
  EXPECT_FALSE(run_op(c).ok());
}

TEST(Reshape, ErrorsNameTheNode) {
  auto a = run_op(make_run("Reshape", {{x234()}, constant(i64({2}, {5, -1}))}));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Reshape node 'node0': cannot reshape 24 elements to [5,-1]")) << a.status().message();

  auto b = run_op(make_run("Reshape", {{x234()}, constant(i64({3}, {-1, -1, 2}))}));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(has(b.status(), "more than one -1")) << b.status().message();

  auto c = run_op(make_run("Reshape", {{x234()}, constant(i64({2}, {-2, 12}))}));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(has(c.status(), "invalid dim -2")) << c.status().message();

  // 0 at a position the input does not have.
  auto d = run_op(make_run("Reshape", {{f32({24}, iota_f(24))}, constant(i64({2}, {4, 0}))}));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(has(d.status(), "copies dim 1")) << d.status().message();

  // The shape must be known at build time.
  auto e = run_op(make_run("Reshape", {{x234()}, {i64({2}, {4, 6})}}));
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(has(e.status(), "known at build time")) << e.status().message();
}

TEST(Reshape, ShapeAttributeBeforeOpset5) {
  OpRun r = make_run("Reshape", {{x234()}}, 4);
  r.attrs.set("shape", attr_ints({6, -1}));
  auto a = run_op(r);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{6, 4}));
  EXPECT_EQ(values_f32((*a)[0]), iota_f(24));
  EXPECT_FALSE(run_op(make_run("Reshape", {{x234()}}, 4)).ok());  // no shape at all
}

TEST(Reshape, MovesAnyDtype) {
  auto a = run_op(make_run("Reshape", {{boolean({2, 2}, {1, 0, 0, 1})}, constant(i64({1}, {4}))}));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].dtype(), DType::kBool);
  EXPECT_EQ(values_i64((*a)[0]), (std::vector<int64_t>{1, 0, 0, 1}));
  auto b = run_op(make_run("Reshape", {{i64({4}, {-5, 7, 1LL << 40, 3})}, constant(i64({2}, {2, 2}))}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(values_i64((*b)[0]), (std::vector<int64_t>{-5, 7, 1LL << 40, 3}));
}

// ---------------------------------------------------------------------------------- Flatten

TEST(Flatten, Axes) {
  auto shape_for = [](int64_t axis, int64_t opset) -> Result<Shape> {
    OpRun r = make_run("Flatten", {{x234()}}, opset);
    r.attrs.set("axis", attr_int(axis));
    QUENCH_ASSIGN(auto out, run_op(r));
    if (values_f32(out[0]) != iota_f(24)) return error(StatusCode::kInternal, "values moved");
    return out[0].shape();
  };
  auto def = run_op(make_run("Flatten", {{x234()}}));
  ASSERT_TRUE(def.ok());
  EXPECT_EQ((*def)[0].shape(), (Shape{2, 12}));
  EXPECT_EQ(*shape_for(0, 13), (Shape{1, 24}));
  EXPECT_EQ(*shape_for(2, 13), (Shape{6, 4}));
  EXPECT_EQ(*shape_for(3, 13), (Shape{24, 1}));
  EXPECT_EQ(*shape_for(-1, 13), (Shape{6, 4}));
  EXPECT_EQ(*shape_for(-3, 13), (Shape{1, 24}));
  EXPECT_FALSE(shape_for(4, 13).ok());
  EXPECT_FALSE(shape_for(-4, 13).ok());
  EXPECT_FALSE(shape_for(-1, 9).ok());  // negative axes arrived in opset 11
}

// ---------------------------------------------------------------------------------- Squeeze

TEST(Squeeze, AxesInputAttributeAndAll) {
  Tensor x = f32({1, 3, 1}, {1, 2, 3});
  auto a = run_op(make_run("Squeeze", {{x}, constant(i64({1}, {-1}))}, 13));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(values_f32((*a)[0]), (std::vector<float>{1, 2, 3}));

  auto b = run_op(make_run("Squeeze", {{x}}, 13));  // no axes: every 1 goes
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].shape(), (Shape{3}));

  OpRun c = make_run("Squeeze", {{x}}, 11);
  c.attrs.set("axes", attr_ints({0}));
  auto cr = run_op(c);
  ASSERT_TRUE(cr.ok()) << cr.status().to_string();
  EXPECT_EQ((*cr)[0].shape(), (Shape{3, 1}));

  auto d = run_op(make_run("Squeeze", {{f32({1}, {4})}}, 13));  // to a scalar
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].shape(), (Shape{}));
  EXPECT_EQ(values_f32((*d)[0]), (std::vector<float>{4}));
}

TEST(Squeeze, Errors) {
  Tensor x = f32({1, 3, 1}, {1, 2, 3});
  auto a = run_op(make_run("Squeeze", {{x}, constant(i64({1}, {1}))}, 13));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Squeeze node 'node0': cannot squeeze axis 1 of size 3")) << a.status().message();
  EXPECT_FALSE(run_op(make_run("Squeeze", {{x}, constant(i64({1}, {3}))}, 13)).ok());
  EXPECT_FALSE(run_op(make_run("Squeeze", {{x}, constant(i64({2}, {0, -3}))}, 13)).ok());  // repeated
}

// -------------------------------------------------------------------------------- Unsqueeze

TEST(Unsqueeze, AxesAgainstOutputRank) {
  Tensor x = f32({3, 4}, iota_f(12));
  auto a = run_op(make_run("Unsqueeze", {{x}, constant(i64({2}, {0, -1}))}, 13));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{1, 3, 4, 1}));
  EXPECT_EQ(values_f32((*a)[0]), iota_f(12));

  auto b = run_op(make_run("Unsqueeze", {{x}, constant(i64({2}, {2, 0}))}, 13));  // unsorted
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].shape(), (Shape{1, 3, 1, 4}));

  OpRun c = make_run("Unsqueeze", {{x}}, 11);
  c.attrs.set("axes", attr_ints({1}));
  auto cr = run_op(c);
  ASSERT_TRUE(cr.ok()) << cr.status().to_string();
  EXPECT_EQ((*cr)[0].shape(), (Shape{3, 1, 4}));

  auto d = run_op(make_run("Unsqueeze", {{i64({}, {7})}, constant(i64({1}, {0}))}, 13));  // scalar
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].shape(), (Shape{1}));
  EXPECT_EQ(values_i64((*d)[0]), (std::vector<int64_t>{7}));
}

TEST(Unsqueeze, Errors) {
  Tensor x = f32({3, 4}, iota_f(12));
  EXPECT_FALSE(run_op(make_run("Unsqueeze", {{x}, constant(i64({2}, {1, 1}))}, 13)).ok());
  EXPECT_FALSE(run_op(make_run("Unsqueeze", {{x}, constant(i64({1}, {3}))}, 13)).ok());
  auto a = run_op(make_run("Unsqueeze", {{x}}, 13));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "axes")) << a.status().message();
  EXPECT_FALSE(run_op(make_run("Unsqueeze", {{x}}, 11)).ok());
}

// ----------------------------------------------------------------------------------- Expand

TEST(Expand, BroadcastsBothWays) {
  Tensor x = f32({3, 1}, {1, 2, 3});
  auto a = run_op(make_run("Expand", {{x}, constant(i64({3}, {2, 1, 4}))}));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{2, 3, 4}));
  std::vector<float> want;
  for (int b = 0; b < 2; ++b)
    for (float v : {1.0f, 2.0f, 3.0f})
      for (int k = 0; k < 4; ++k) want.push_back(v);
  EXPECT_EQ(values_f32((*a)[0]), want);

  // A 1 in the shape keeps the input's larger dim; a shorter shape is right-aligned.
  auto b = run_op(make_run("Expand", {{x}, constant(i64({1}, {1}))}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].shape(), (Shape{3, 1}));
  auto c = run_op(make_run("Expand", {{i64({2}, {5, 6})}, constant(i64({2}, {2, 1}))}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_i64((*c)[0]), (std::vector<int64_t>{5, 6, 5, 6}));
}

TEST(Expand, Errors) {
  auto a = run_op(make_run("Expand", {{f32({3}, {1, 2, 3})}, constant(i64({1}, {2}))}));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Expand node 'node0'")) << a.status().message();
  EXPECT_FALSE(run_op(make_run("Expand", {{f32({1}, {1})}, constant(i64({1}, {-2}))})).ok());
  EXPECT_FALSE(run_op(make_run("Expand", {{f32({1}, {1})}, {i64({1}, {2})}})).ok());  // not constant
}

// ------------------------------------------------------------------------------------ Shape

TEST(Shape, StartAndEnd) {
  Tensor x = f32({2, 3, 4, 5}, std::vector<float>(120, 0.0f));
  auto shape_of = [&](std::optional<int64_t> start, std::optional<int64_t> end) -> std::vector<int64_t> {
    OpRun r = make_run("Shape", {{x}}, 15);
    if (start) r.attrs.set("start", attr_int(*start));
    if (end) r.attrs.set("end", attr_int(*end));
    auto out = run_op(r);  // Shape always folds: its output becomes a constant
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    if (!out.ok()) return {-100};
    EXPECT_EQ((*out)[0].dtype(), DType::kI64);
    return values_i64((*out)[0]);
  };
  EXPECT_EQ(shape_of({}, {}), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(shape_of(1, {}), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(shape_of({}, -1), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(shape_of(-2, {}), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(shape_of(1, 2), (std::vector<int64_t>{3}));
  EXPECT_EQ(shape_of(-10, 10), (std::vector<int64_t>{2, 3, 4, 5}));  // clamped
  EXPECT_EQ(shape_of(3, 1), (std::vector<int64_t>{}));               // empty
}

TEST(Shape, RunReadsNoData) {
  // The CPU reference must compute Shape from the shape alone: its input may have no bytes yet.
  const ops::OpSchema* s = ops::find_schema("Shape", "");
  ASSERT_NE(s, nullptr);
  ops::NodeDesc n;
  n.name = "s";
  n.op_type = "Shape";
  n.opset = 15;
  ops::TensorView in{DType::kF32, {7, 0, 9}, nullptr};
  int64_t y[3] = {-1, -1, -1};
  ops::TensorView out{DType::kI64, {3}, y};
  ASSERT_TRUE(s->run_cpu(n, std::span(&in, 1), std::span(&out, 1), nullptr).ok());
  EXPECT_EQ(y[0], 7);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 9);
}

}  // namespace
}  // namespace quench::testing

namespace quench::testing {
namespace {

TEST(Expand, HugeShapeIsAnErrorNotACrash) {
  auto a = run_op(make_run("Expand", {{f32({1}, {1})}, constant(i64({2}, {1LL << 40, 1LL << 40}))}));
  EXPECT_FALSE(a.ok());
}

}  // namespace
}  // namespace quench::testing
