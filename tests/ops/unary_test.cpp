#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

TEST(Unary, ReluHardSwishClip) {
  Tensor x = f32({5}, {-3.0f, -0.5f, 0.0f, 1.5f, 4.0f});
  auto relu = run_op({"Relu", {{x}}, {}});
  ASSERT_TRUE(relu.ok()) << relu.status().to_string();
  EXPECT_EQ(values_f32((*relu)[0]), (std::vector<float>{0, 0, 0, 1.5f, 4.0f}));

  auto hs = run_op({"HardSwish", {{x}}, {}});
  ASSERT_TRUE(hs.ok());
  // x * clamp(x/6 + 1/2, 0, 1)
  EXPECT_FLOAT_EQ(values_f32((*hs)[0])[1], -0.5f * (0.5f - 0.5f / 6.0f));
  EXPECT_FLOAT_EQ(values_f32((*hs)[0])[4], 4.0f);

  auto clip = run_op({"Clip", {{x}, {f32({}, {0.0f}), true}, {f32({}, {1.0f}), true}}, {}});
  ASSERT_TRUE(clip.ok()) << clip.status().to_string();
  EXPECT_EQ(values_f32((*clip)[0]), (std::vector<float>{0, 0, 0, 1, 1}));
}

TEST(Unary, ClipAttributesBeforeOpset11) {
  OpRun r{"Clip", {{f32({3}, {-10.0f, 0.25f, 10.0f})}}, {}};
  r.opset = 6;
  r.attrs.set("min", attr_float(-1.0f));
  r.attrs.set("max", attr_float(6.0f));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{-1.0f, 0.25f, 6.0f}));
}

TEST(Unary, NanPropagatesThroughRelu) {
  auto out = run_op({"Relu", {{f32({1}, {NAN})}}, {}});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(std::isnan(values_f32((*out)[0])[0]));
}

TEST(Unary, WrongAttributeKindIsAnError) {
  OpRun r{"LeakyRelu", {{f32({1}, {-1.0f})}}, {}};
  r.attrs.set("alpha", attr_string("big"));
  auto out = run_op(r);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("LeakyRelu node 'node0'"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace quench::testing
