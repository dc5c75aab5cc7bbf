#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

// ONNX TensorProto.DataType numbers.
constexpr int64_t kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kString = 8, kBool = 9, kFloat16 = 10,
                  kDouble = 11, kBfloat16 = 16;

Result<std::vector<Tensor>> cast(Tensor x, int64_t to, int64_t opset = 13) {
  OpRun r = make_run("Cast", {{std::move(x)}}, opset);
  r.attrs.set("to", attr_int(to));
  return run_op(r);
}

Tensor ok_cast(Tensor x, int64_t to) {
  auto out = cast(std::move(x), to);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? (*out)[0] : Tensor();
}

TEST(Cast, FloatToIntTruncatesAndSaturates) {
  Tensor y = ok_cast(f32({6}, {2.9f, -2.9f, 1e10f, -1e10f, NAN, 0.5f}), kInt32);
  EXPECT_EQ(y.dtype(), DType::kI32);
  EXPECT_EQ(values_i64(y), (std::vector<int64_t>{2, -2, std::numeric_limits<int32_t>::max(),
                                                 std::numeric_limits<int32_t>::min(), 0, 0}));
}

TEST(Cast, IntegerNarrowingWraps) {
  Tensor a = ok_cast(i64({3}, {(int64_t{1} << 32) + 5, -1, 300}), kInt32);
  EXPECT_EQ(values_i64(a), (std::vector<int64_t>{5, -1, 300}));
  Tensor b = ok_cast(i32({2}, {300, -1}), kUint8);
  EXPECT_EQ(b.dtype(), DType::kU8);
  EXPECT_EQ(values_i64(b), (std::vector<int64_t>{44, 255}));
  Tensor c = ok_cast(u8({2}, {200, 5}), kInt8);
  EXPECT_EQ(values_i64(c), (std::vector<int64_t>{-56, 5}));
}

TEST(Cast, BoolBothWays) {
  Tensor b = ok_cast(f32({4}, {0, -0.0f, 0.25f, NAN}), kBool);
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(values_i64(b), (std::vector<int64_t>{0, 0, 1, 1}));
  Tensor f = ok_cast(boolean({2}, {1, 0}), kFloat);
  EXPECT_EQ(values_f32(f), (std::vector<float>{1, 0}));
  Tensor i = ok_cast(i64({3}, {0, 7, -1}), kBool);
  EXPECT_EQ(values_i64(i), (std::vector<int64_t>{0, 1, 1}));
}

TEST(Cast, FloatToHalfRoundsToNearestEven) {
  // 1/3 -> 0x3555; 65520 overflows half; 1 + 2^-11 is a tie between 0x3C00 and 0x3C01 -> even.
  Tensor h = ok_cast(f32({3}, {1.0f / 3, 65520.0f, 1.0f + 1.0f / 2048}), kFloat16);
  EXPECT_EQ(h.dtype(), DType::kF16);
  EXPECT_EQ(values_bits16(h), (std::vector<uint16_t>{0x3555, 0x7C00, 0x3C00}));
  Tensor back = ok_cast(h, kFloat);
  EXPECT_FLOAT_EQ(values_f32(back)[0], 0.333251953125f);
}

TEST(Cast, DoubleToHalfRoundsOnce) {
  // Just above the tie: a detour through float would land exactly on the tie and round down.
  const double v = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor h = ok_cast(f64({2}, {v, -v}), kFloat16);
  EXPECT_EQ(values_bits16(h), (std::vector<uint16_t>{0x3C01, 0xBC01}));
  Tensor b = ok_cast(f64({1}, {1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)}), kBfloat16);
  EXPECT_EQ(values_bits16(b), (std::vector<uint16_t>{0x3F81}));
}

TEST(Cast, BFloat16AndDouble) {
  Tensor b = ok_cast(f32({2}, {1.5f, -2.0f}), kBfloat16);
  EXPECT_EQ(b.dtype(), DType::kBF16);
  EXPECT_EQ(values_bits16(b), (std::vector<uint16_t>{0x3FC0, 0xC000}));
  Tensor d = ok_cast(i64({1}, {(int64_t{1} << 53) + 1}), kDouble);
  EXPECT_EQ(values_f64(d), (std::vector<double>{9007199254740992.0}));
  Tensor i = ok_cast(f64({2}, {-7.99, 1e300}), kInt64);
  EXPECT_EQ(values_i64(i), (std::vector<int64_t>{-7, std::numeric_limits<int64_t>::max()}));
}

TEST(Cast, CastLikeTakesInput1sType) {
  auto out = run_op(make_run("CastLike", {{f32({2}, {3.7f, -1.2f})}, {i64({1}, {0})}}, 15));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dtype(), DType::kI64);
  EXPECT_EQ(values_i64((*out)[0]), (std::vector<int64_t>{3, -1}));
}

TEST(Cast, SameTypeIsACopy) {
  Tensor y = ok_cast(i64({3}, {1, -2, 3}), kInt64);
  EXPECT_EQ(values_i64(y), (std::vector<int64_t>{1, -2, 3}));
}

TEST(Cast, UnsupportedTargetsAndMissingToAreErrors) {
  auto s = cast(f32({1}, {1}), kString);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("Cast node 'node0'"), std::string::npos) << s.status().message();
  auto f8 = cast(f32({1}, {1}), 17, 19);  // float8e4m3fn
  ASSERT_FALSE(f8.ok());
  EXPECT_EQ(f8.status().code(), StatusCode::kUnsupported);
  auto none = run_op(make_run("Cast", {{f32({1}, {1})}}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("'to'"), std::string::npos) << none.status().message();
}

TEST(Cast, LargeTensorSplitAcrossCores) {
  std::vector<float> x(100000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) + 0.5f;
  Tensor y = ok_cast(f32({100000}, x), kInt32);
  std::vector<int64_t> v = values_i64(y);
  ASSERT_EQ(v.size(), x.size());
  int bad = 0;
  for (size_t i = 0; i < v.size(); ++i) bad += v[i] != static_cast<int64_t>(i);
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace quench::testing
