#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

std::string message_of(const OpRun& r) {
  auto out = run_op(r);
  return out.ok() ? std::string("ok") : out.status().message();
}

OpRun bn(Tensor x, std::vector<float> scale, std::vector<float> bias, std::vector<float> mean, std::vector<float> var) {
  const int64_t c = static_cast<int64_t>(scale.size());
  return make_run("BatchNormalization",
                  {{x}, {f32({c}, scale)}, {f32({c}, bias)}, {f32({c}, mean)}, {f32({c}, var)}});
}

TEST(BatchNorm, HandComputedPerChannel) {
  // Channel 0: (x - 1) / sqrt(4) * 1 + 0; channel 1: (x - 2) / sqrt(1) * 2 + 1 (epsilon 0).
  OpRun r = bn(f32({1, 2, 1, 2}, {3, 5, 2, 4}), {1, 2}, {0, 1}, {1, 2}, {4, 1});
  r.attrs.set("epsilon", attr_float(0.0f));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2, 1, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1, 2, 1, 5}));
}

TEST(BatchNorm, EpsilonIsAddedToTheVariance) {
  OpRun r = bn(f32({2, 1}, {2, -2}), {1}, {0}, {0}, {0});
  r.attrs.set("epsilon", attr_float(3.0f));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_TRUE(all_near(values_f32((*out)[0]), {2 / std::sqrt(3.0f), -2 / std::sqrt(3.0f)}, 1e-6));
  // The default epsilon is 1e-5.
  auto dflt = run_op(bn(f32({1, 1}, {1}), {1}, {0}, {0}, {1}));
  ASSERT_TRUE(dflt.ok());
  EXPECT_NEAR(values_f32((*dflt)[0])[0], 1 / std::sqrt(1.00001), 1e-7);
}

TEST(BatchNorm, Rank2AndRank5) {
  // [N, C] = [2, 3]: channel c gets + c (scale 1, var 1 - eps ~ 1).
  OpRun r2 = bn(f32({2, 3}, {0, 0, 0, 1, 1, 1}), {1, 1, 1}, {0, 1, 2}, {0, 0, 0}, {1, 1, 1});
  r2.attrs.set("epsilon", attr_float(0.0f));
  auto out2 = run_op(r2);
  ASSERT_TRUE(out2.ok()) << out2.status().to_string();
  EXPECT_EQ(values_f32((*out2)[0]), (std::vector<float>{0, 1, 2, 1, 2, 3}));

  Tensor x = f32_random({2, 3, 2, 3, 4}, 5);
  OpRun r5 = bn(x, {0.5f, 2, -1}, {0.1f, 0.2f, 0.3f}, {0.01f, -0.02f, 0.03f}, {0.9f, 1.1f, 0.25f});
  auto out5 = run_op(r5);
  ASSERT_TRUE(out5.ok()) << out5.status().to_string();
  const auto xv = values_f32(x);
  const double scale[] = {0.5, 2, -1}, bias[] = {0.1f, 0.2f, 0.3f}, mean[] = {0.01f, -0.02f, 0.03f},
               var[] = {0.9f, 1.1f, 0.25f};
  std::vector<float> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 24) % 3;
    want[i] = static_cast<float>((xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * scale[c] + bias[c]);
  }
  EXPECT_TRUE(all_near(values_f32((*out5)[0]), want, 1e-6, 1e-6));
}

TEST(BatchNorm, SpatialZeroTakesPerElementParameters) {
  // Opset 7 with spatial=0: parameters [C, W] = [1, 2], one per element.
  OpRun r = make_run("BatchNormalization", {{f32({2, 1, 2}, {1, 2, 3, 4})}, {f32({1, 2}, {1, 10})}, {f32({1, 2}, {0, 1})},
                                            {f32({1, 2}, {1, 0})}, {f32({1, 2}, {1, 1})}},
                     7);
  r.attrs.set("spatial", attr_int(0));
  r.attrs.set("epsilon", attr_float(0.0f));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{0, 21, 2, 41}));
}

TEST(BatchNorm, TrainingModeIsRefused) {
  OpRun r = bn(f32({1, 1}, {1}), {1}, {0}, {0}, {1});
  r.attrs.set("training_mode", attr_int(1));
  EXPECT_NE(message_of(r).find("BatchNormalization node 'node0': training_mode=1"), std::string::npos)
      << message_of(r);
  OpRun outs = bn(f32({1, 1}, {1}), {1}, {0}, {0}, {1});
  outs.outputs = 3;  // running mean and variance asked for
  EXPECT_NE(message_of(outs).find("only in training mode"), std::string::npos) << message_of(outs);
}

TEST(BatchNorm, ShapeErrors) {
  EXPECT_NE(message_of(bn(f32({1, 2, 2}, {1, 2, 3, 4}), {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}))
                .find("scale has shape [3] but the input has 2 channels"),
            std::string::npos);
  EXPECT_NE(message_of(bn(f32({2}, {1, 2}), {1, 1}, {0, 0}, {0, 0}, {1, 1})).find("needs [N, C, ...]"),
            std::string::npos);
  OpRun r = make_run("BatchNormalization",
                     {{f32({1, 2}, {1, 2})}, {f32({2}, {1, 1})}, {f32({2}, {0, 0})}, {f32({2}, {0, 0})}, {f32({1}, {1})}});
  EXPECT_NE(message_of(r).find("input_var has shape [1]"), std::string::npos) << message_of(r);
}

TEST(BatchNorm, EmptyInput) {
  auto out = run_op(bn(f32({0, 2, 3}, {}), {1, 1}, {0, 0}, {0, 0}, {1, 1}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{0, 2, 3}));
}

}  // namespace
}  // namespace quench::testing
