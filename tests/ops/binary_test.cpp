#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

TEST(Binary, AddBroadcastsTrailingDims) {
  auto y = ok_run(make_run("Add", {{f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {f32({3}, {10, 20, 30})}}));
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(Binary, SubBroadcastsBothWays) {
  // [2,1] - [1,3] -> [2,3]: a column against a row.
  auto y = ok_run(make_run("Sub", {{f32({2, 1}, {10, 20})}, {f32({1, 3}, {1, 2, 3})}}));
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{9, 8, 7, 19, 18, 17}));
}

TEST(Binary, MulByScalarAndRankZeroResult) {
  auto y = ok_run(make_run("Mul", {{f32({}, {3})}, {f32({2, 2}, {1, -2, 0.5f, 4})}}));
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{3, -6, 1.5f, 12}));
  auto s = ok_run(make_run("Mul", {{f32({}, {3})}, {f32({}, {-2})}}));
  EXPECT_EQ(s[0].shape(), Shape{});
  EXPECT_EQ(values_f32(s[0]), (std::vector<float>{-6}));
}

TEST(Binary, BroadcastMiddleDimsOfRank4) {
  // [2,1,2,1] * [3,1,2]: every output element is a[n,0,h,0] * b[c,0,w]... check all 2*3*2*2.
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 10, 100, 1000, 10000, 100000};
  auto y = ok_run(make_run("Mul", {{f32({2, 1, 2, 1}, a)}, {f32({3, 1, 2}, b)}}));
  ASSERT_EQ(y[0].shape(), (Shape{2, 3, 2, 2}));
  std::vector<float> got = values_f32(y[0]);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w)
          EXPECT_EQ(got[((n * 3 + c) * 2 + h) * 2 + w], a[n * 2 + h] * b[c * 2 + w]) << n << c << h << w;
}

TEST(Binary, LargeBroadcastIsSplitAcrossCoresCorrectly) {
  // Big enough that parallel_for splits the rows; every element is checked.
  const int rows = 300, cols = 701;
  std::vector<float> a(rows * cols), b(cols);
  for (int i = 0; i < rows * cols; ++i) a[i] = static_cast<float>(i % 977);
  for (int j = 0; j < cols; ++j) b[j] = static_cast<float>(j) * 0.5f;
  auto y = ok_run(make_run("Sub", {{f32({rows, cols}, a)}, {f32({cols}, b)}}));
  std::vector<float> got = values_f32(y[0]);
  ASSERT_EQ(got.size(), a.size());
  int bad = 0;
  for (int i = 0; i < rows * cols; ++i) bad += got[i] != a[i] - b[i % cols];
  EXPECT_EQ(bad, 0);
}

TEST(Binary, FloatDivisionFollowsIeee) {
  auto y = ok_run(make_run("Div", {{f32({4}, {1, -1, 0, 7})}, {f32({4}, {0, 0, 0, 2})}}));
  std::vector<float> v = values_f32(y[0]);
  EXPECT_EQ(v[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], 3.5f);
}

TEST(Binary, IntegerDivTruncatesTowardZeroAndNeverTraps) {
  const int32_t mn = std::numeric_limits<int32_t>::min();
  auto y = ok_run(make_run("Div", {{i32({6}, {7, -7, 7, -7, 5, mn})}, {i32({6}, {2, 2, -2, -2, 0, -1})}}));
  EXPECT_EQ(y[0].dtype(), DType::kI32);
  // 5 / 0 gives 0 (as numpy) and INT_MIN / -1 wraps to INT_MIN: both would trap in C.
  EXPECT_EQ(values_i64(y[0]), (std::vector<int64_t>{3, -3, -3, 3, 0, mn}));
}

TEST(Binary, IntegerArithmeticWraps) {
  auto add = ok_run(make_run("Add", {{u8({3}, {250, 1, 128})}, {u8({3}, {10, 2, 128})}}));
  EXPECT_EQ(add[0].dtype(), DType::kU8);
  EXPECT_EQ(values_i64(add[0]), (std::vector<int64_t>{4, 3, 0}));
  const int64_t big = std::numeric_limits<int64_t>::max();
  auto mul = ok_run(make_run("Mul", {{i64({2}, {big, -3})}, {i64({2}, {2, 5})}}));
  EXPECT_EQ(values_i64(mul[0]), (std::vector<int64_t>{-2, -15}));
  auto sub = ok_run(make_run("Sub", {{i64({1}, {5})}, {i64({3}, {1, 5, 9})}}));
  EXPECT_EQ(values_i64(sub[0]), (std::vector<int64_t>{4, 0, -4}));
}

TEST(Binary, PowWithFloatAndIntegerExponents) {
  auto ff = ok_run(make_run("Pow", {{f32({3}, {2, 4, -8})}, {f32({3}, {3, 0.5f, 1.0f / 3})}}));
  std::vector<float> v = values_f32(ff[0]);
  EXPECT_FLOAT_EQ(v[0], 8.0f);
  EXPECT_FLOAT_EQ(v[1], 2.0f);
  EXPECT_TRUE(std::isnan(v[2]));  // negative base, fractional exponent

  auto fi = ok_run(make_run("Pow", {{f32({3}, {1.5f, 2, -2})}, {i64({3}, {2, -1, 3})}}));
  EXPECT_EQ(fi[0].dtype(), DType::kF32);
  EXPECT_EQ(values_f32(fi[0]), (std::vector<float>{2.25f, 0.5f, -8}));

  // Integer base and exponent: exact, even past 2^53.
  auto ii = ok_run(make_run("Pow", {{i64({4}, {3, 2, -2, 7})}, {i64({4}, {39, 10, 3, 0})}}));
  EXPECT_EQ(ii[0].dtype(), DType::kI64);
  EXPECT_EQ(values_i64(ii[0]), (std::vector<int64_t>{4052555153018976267LL, 1024, -8, 1}));

  // Integer base, float exponent: the result keeps the base's type.
  auto if_ = ok_run(make_run("Pow", {{i32({3}, {1, 2, 3})}, {f32({3}, {4, 5, 6})}}));
  EXPECT_EQ(if_[0].dtype(), DType::kI32);
  EXPECT_EQ(values_i64(if_[0]), (std::vector<int64_t>{1, 32, 729}));
}

TEST(Binary, PReluBroadcastsSlopePerChannel) {
  // X [1,2,3] with slope [2,1]: one slope per channel.
  auto y = ok_run(make_run("PRelu", {{f32({1, 2, 3}, {-1, 0, 2, -4, 5, -6})}, {f32({2, 1}, {0.5f, 0.25f})}}));
  EXPECT_EQ(y[0].shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{-0.5f, 0, 2, -1, 5, -1.5f}));
}

TEST(Binary, PReluOpset6SlopeIsPerChannel) {
  // X [1,2,2], slope [2]: opset 6 applies slope[c] to channel c (dim 1); opset 7 broadcasts
  // the slope along the last dim instead.
  std::vector<float> x = {-1, -2, -3, -4};
  auto old = ok_run(make_run("PRelu", {{f32({1, 2, 2}, x)}, {f32({2}, {0.5f, 0.25f})}}, 6));
  EXPECT_EQ(values_f32(old[0]), (std::vector<float>{-0.5f, -1, -0.75f, -1}));
  auto now = ok_run(make_run("PRelu", {{f32({1, 2, 2}, x)}, {f32({2}, {0.5f, 0.25f})}}, 7));
  EXPECT_EQ(values_f32(now[0]), (std::vector<float>{-0.5f, -0.5f, -1.5f, -1}));
}

TEST(Binary, PReluSlopeMustBroadcastToX) {
  // The slope may not make the output larger than X.
  expect_error_naming_node(make_run("PRelu", {{f32({3}, {1, 2, 3})}, {f32({2, 1}, {1, 1})}}), StatusCode::kShapeError);
}

TEST(Binary, EqualOutputsBool) {
  auto f = ok_run(make_run("Equal", {{f32({2, 2}, {1, 2, 3, NAN})}, {f32({2}, {1, 3})}}));
  EXPECT_EQ(f[0].dtype(), DType::kBool);
  EXPECT_EQ(values_i64(f[0]), (std::vector<int64_t>{1, 0, 0, 0}));  // nan equals nothing
  auto i = ok_run(make_run("Equal", {{i64({3}, {5, 6, 7})}, {i64({}, {6})}}));
  EXPECT_EQ(values_i64(i[0]), (std::vector<int64_t>{0, 1, 0}));
  auto b = ok_run(make_run("Equal", {{boolean({4}, {0, 0, 1, 1})}, {boolean({4}, {0, 1, 0, 1})}}));
  EXPECT_EQ(b[0].dtype(), DType::kBool);
  EXPECT_EQ(values_i64(b[0]), (std::vector<int64_t>{1, 0, 0, 1}));
}

TEST(Binary, MinMaxAreVariadicAndBroadcast) {
  auto mx = ok_run(make_run("Max", {{f32({2, 2}, {1, 8, 3, 4})}, {f32({2}, {5, 0})}, {f32({}, {2})}}));
  EXPECT_EQ(mx[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32(mx[0]), (std::vector<float>{5, 8, 5, 4}));
  auto mn = ok_run(make_run("Min", {{f32({2, 2}, {1, 8, 3, 4})}, {f32({2}, {5, 0})}, {f32({}, {2})}}));
  EXPECT_EQ(values_f32(mn[0]), (std::vector<float>{1, 0, 2, 0}));
  // The third input can make the output larger than the first two.
  auto grow = ok_run(make_run("Max", {{f32({1}, {1})}, {f32({1}, {2})}, {f32({3}, {0, 5, 1})}}));
  EXPECT_EQ(values_f32(grow[0]), (std::vector<float>{2, 5, 2}));
  auto one = ok_run(make_run("Min", {{f32({3}, {3, 1, 2})}}));
  EXPECT_EQ(values_f32(one[0]), (std::vector<float>{3, 1, 2}));
  auto ints = ok_run(make_run("Max", {{i32({3}, {-5, 7, 0})}, {i32({3}, {-6, 9, -1})}}));
  EXPECT_EQ(ints[0].dtype(), DType::kI32);
  EXPECT_EQ(values_i64(ints[0]), (std::vector<int64_t>{-5, 9, 0}));
}

TEST(Binary, MinMaxPropagateNan) {
  auto y = ok_run(make_run("Max", {{f32({2}, {NAN, 1})}, {f32({2}, {1, NAN})}}));
  EXPECT_TRUE(std::isnan(values_f32(y[0])[0]));
  EXPECT_TRUE(std::isnan(values_f32(y[0])[1]));
}

TEST(Binary, WhereBroadcastsAllThreeInputs) {
  auto y = ok_run(make_run("Where", {{boolean({2, 1}, {1, 0})}, {f32({1, 3}, {1, 2, 3})}, {f32({}, {-1})}}));
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{1, 2, 3, -1, -1, -1}));
  auto i = ok_run(make_run("Where", {{boolean({3}, {0, 1, 0})}, {i64({3}, {1, 2, 3})}, {i64({3}, {7, 8, 9})}}));
  EXPECT_EQ(i[0].dtype(), DType::kI64);
  EXPECT_EQ(values_i64(i[0]), (std::vector<int64_t>{7, 2, 9}));
}

TEST(Binary, WhereConditionMustBeBool) {
  expect_error_naming_node(make_run("Where", {{f32({1}, {1})}, {f32({1}, {1})}, {f32({1}, {2})}}),
                           StatusCode::kInvalidArgument);
}

TEST(Binary, IncompatibleShapesAreAShapeErrorNamingTheNode) {
  expect_error_naming_node(make_run("Add", {{f32({2, 3}, {})}, {f32({4}, {})}}), StatusCode::kShapeError);
  expect_error_naming_node(make_run("Max", {{f32({2}, {})}, {f32({2}, {})}, {f32({3}, {})}}), StatusCode::kShapeError);
}

TEST(Binary, MismatchedOrUnsupportedElementTypesAreErrors) {
  expect_error_naming_node(make_run("Add", {{f32({2}, {})}, {i64({2}, {})}}), StatusCode::kInvalidArgument);
  expect_error_naming_node(make_run("Add", {{boolean({2}, {})}, {boolean({2}, {})}}), StatusCode::kUnsupported);
}

TEST(Binary, RankAboveTheLimitIsRefused) {
  const Shape nine(9, 1);
  expect_error_naming_node(make_run("Add", {{f32(nine, {1})}, {f32({1}, {1})}}), StatusCode::kUnsupported);
}

TEST(Binary, EmptyTensorsGiveEmptyOutputs) {
  auto y = ok_run(make_run("Add", {{f32({0, 3}, {})}, {f32({3}, {1, 2, 3})}}));
  EXPECT_EQ(y[0].shape(), (Shape{0, 3}));
}

TEST(Binary, Float16ComputesThroughFloat) {
  // 1.5 + 0.25 = 1.75 (0x3F00), 2 * 3 = 6 (0x4600) in half.
  auto add = ok_run(make_run("Add", {{bits16(DType::kF16, {1}, {0x3E00})}, {bits16(DType::kF16, {1}, {0x3400})}}));
  EXPECT_EQ(add[0].dtype(), DType::kF16);
  EXPECT_EQ(values_bits16(add[0]), (std::vector<uint16_t>{0x3F00}));
  auto mx = ok_run(make_run("Max", {{typed(DType::kF16, {2}, {1, -3})}, {typed(DType::kF16, {2}, {0.5, -2})}}));
  EXPECT_EQ(values_f32(mx[0]), (std::vector<float>{1, -2}));
}

TEST(Binary, Opset6BroadcastAlignsBAtAxis) {
  // A [2,3,2] + B [3] aligned at axis 1: B[c] is added along dim 1.
  OpRun r = make_run("Add", {{f32({2, 3, 2}, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1})}, {f32({3}, {10, 20, 30})}}, 6);
  r.attrs.set("broadcast", attr_int(1));
  r.attrs.set("axis", attr_int(1));
  auto y = ok_run(r);
  EXPECT_EQ(y[0].shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values_f32(y[0]), (std::vector<float>{10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31}));
  // Without broadcast=1, opset 6 wants equal shapes.
  expect_error_naming_node(make_run("Add", {{f32({2, 3}, {})}, {f32({3}, {})}}, 6), StatusCode::kShapeError);
}

}  // namespace
}  // namespace quench::testing
