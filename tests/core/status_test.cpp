#include <gtest/gtest.h>

#include "quench/float16.h"
#include "quench/status.h"
#include "quench/tensor.h"

namespace quench {
namespace {

Result<int> half_of(int x) {
  if (x % 2) return error(StatusCode::kInvalidArgument, "odd value ", x);
  return x / 2;
}

Result<int> quarter_of(int x) {
  QUENCH_ASSIGN(int h, half_of(x));
  return half_of(h);
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = quarter_of(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = quarter_of(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd value 3");
  EXPECT_EQ(bad.status().with_context("f").to_string(), "invalid argument: f: odd value 3");
}

TEST(Status, ResultFromOkStatusIsAnError) {
  Result<int> r{Status{}};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(Tensor, ZerosAreAlignedAndWritable) {
  Tensor t = Tensor::zeros(DType::kF32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.bytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  ASSERT_NE(t.mutable_data(), nullptr);
  t.mutable_data_as<float>()[5] = 2.5f;
  EXPECT_EQ(t.value_as_double(5), 2.5);
  Tensor v = Tensor::view(DType::kF32, {6}, t.data(), nullptr);
  EXPECT_EQ(v.mutable_data(), nullptr);
  EXPECT_FALSE(t.reshaped({4, 2}).ok());
}

TEST(Float16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (f != f) continue;  // nan payloads need not survive
    EXPECT_EQ(float_to_half(f), h) << std::hex << h;
  }
}

TEST(Float16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);        // ties to even overflows to inf
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);  // tie: stays even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3c02);  // tie: rounds up to even
  EXPECT_EQ(float_to_half(5.9604645e-8f), 0x0001);   // smallest subnormal
  EXPECT_EQ(float_to_half(2.9802322e-8f), 0x0000);   // exactly half of it: ties to even (zero)
}

}  // namespace
}  // namespace quench
