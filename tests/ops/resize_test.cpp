#include <gtest/gtest.h>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// Resize-13 with scales (sizes empty) or sizes (scales empty); attrs as string pairs.
Result<Tensor> resize(Tensor x, std::vector<float> scales, std::vector<int64_t> sizes,
                      std::vector<std::pair<std::string, std::string>> attrs, int64_t opset = 13) {
  std::vector<OpInput> in = {{x}, {}};
  if (!scales.empty()) in.push_back(constant(f32({static_cast<int64_t>(scales.size())}, scales)));
  else in.push_back({});
  if (!sizes.empty()) in.push_back(constant(i64({static_cast<int64_t>(sizes.size())}, sizes)));
  OpRun r = make_run("Resize", in, opset);
  for (auto& [k, v] : attrs) r.attrs.set(k, attr_string(v));
  QUENCH_ASSIGN(auto out, run_op(r));
  return out[0];
}

TEST(Resize, NearestUpsampleByScales) {
  auto y = resize(f32({1, 1, 2, 2}, {1, 2, 3, 4}), {1, 1, 2, 3}, {}, {{"mode", "nearest"}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(values_f32(*y), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,  //
                                                3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
}

TEST(Resize, NearestModes) {
  // asymmetric: x_orig = x / 2 = 0, 0.5, 1, 1.5, ... so the modes differ at the halves.
  auto run = [](const std::string& mode) {
    auto y = resize(f32({4}, {1, 2, 3, 4}), {}, {8},
                    {{"mode", "nearest"}, {"coordinate_transformation_mode", "asymmetric"}, {"nearest_mode", mode}});
    EXPECT_TRUE(y.ok()) << y.status().to_string();
    return y.ok() ? values_f32(*y) : std::vector<float>{};
  };
  EXPECT_EQ(run("round_prefer_floor"), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(run("round_prefer_ceil"), (std::vector<float>{1, 2, 2, 3, 3, 4, 4, 4}));
  EXPECT_EQ(run("floor"), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(run("ceil"), (std::vector<float>{1, 2, 2, 3, 3, 4, 4, 4}));
  // half_pixel downsample by 2: x_orig = 2x + 0.5 -> round_prefer_floor picks 0 and 2.
  auto d = resize(f32({4}, {1, 2, 3, 4}), {0.5f}, {}, {{"mode", "nearest"}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(values_f32(*d), (std::vector<float>{1, 3}));
}

TEST(Resize, NearestMovesAnyDtype) {
  auto y = resize(i64({2}, {-9, 1LL << 45}), {2}, {}, {{"mode", "nearest"}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(values_i64(*y), (std::vector<int64_t>{-9, -9, 1LL << 45, 1LL << 45}));
}

TEST(Resize, LinearCoordinateModes) {
  Tensor x = f32({2}, {1, 2});
  auto lin = [&](const std::string& ct) {
    auto y = resize(x, {2}, {}, {{"mode", "linear"}, {"coordinate_transformation_mode", ct}});
    EXPECT_TRUE(y.ok()) << y.status().to_string();
    return y.ok() ? values_f32(*y) : std::vector<float>{};
  };
  // half_pixel: x_orig = -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
  expect_near(lin("half_pixel"), {1, 1.25f, 1.75f, 2});
  expect_near(lin("pytorch_half_pixel"), {1, 1.25f, 1.75f, 2});
  expect_near(lin("align_corners"), {1, 4.0f / 3, 5.0f / 3, 2});
  expect_near(lin("asymmetric"), {1, 1.5f, 2, 2});

  // To one element: pytorch_half_pixel samples -0.5 (the edge), half_pixel the middle.
  auto p = resize(f32({4}, {1, 2, 3, 4}), {}, {1},
                  {{"mode", "linear"}, {"coordinate_transformation_mode", "pytorch_half_pixel"}});
  ASSERT_TRUE(p.ok());
  expect_near(values_f32(*p), {1});
  auto h = resize(f32({4}, {1, 2, 3, 4}), {}, {1}, {{"mode", "linear"}});
  ASSERT_TRUE(h.ok());
  expect_near(values_f32(*h), {2.5f});
}

TEST(Resize, BilinearAlignCorners) {
  auto y = resize(f32({1, 1, 2, 2}, {0, 1, 2, 3}), {}, {1, 1, 4, 4},
                  {{"mode", "linear"}, {"coordinate_transformation_mode", "align_corners"}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  std::vector<float> want;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) want.push_back(2.0f * i / 3 + 1.0f * j / 3);
  expect_near(values_f32(*y), want);
}

TEST(Resize, Cubic) {
  Tensor x = f32({4}, {1, 2, 4, 8});
  auto y = resize(x, {2}, {}, {{"mode", "cubic"}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  // Element 0: x_orig = -0.25, taps at -2..1 (edge-clamped to 1,1,1,2) with ratio 0.75 weights
  // (-0.03515625, 0.26171875, 0.87890625, -0.10546875) give 0.89453125. The rest follow the
  // same formula (values from ONNX's reference implementation).
  expect_near(values_f32(*y), {0.89453125f, 1.15625f, 1.5625f, 2.41796875f, 3.16015625f, 5.1171875f, 7.1640625f,
                               8.421875f});

  OpRun r = make_run("Resize", {{x}, {}, constant(f32({1}, {2}))});
  r.attrs.set("mode", attr_string("cubic"));
  r.attrs.set("cubic_coeff_a", attr_float(-0.5f));
  r.attrs.set("exclude_outside", attr_int(1));
  auto ex = run_op(r);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  expect_near(values_f32((*ex)[0]), {0.91176471f, 1.1459854f, 1.64122137f, 2.3828125f, 3.3359375f, 5.02290076f,
                                     7.28467153f, 8.35294118f});

  auto ac = resize(x, {0.75f}, {}, {{"mode", "cubic"}, {"coordinate_transformation_mode", "align_corners"}});
  ASSERT_TRUE(ac.ok());
  expect_near(values_f32(*ac), {1, 2.71875f, 8});
}

TEST(Resize, TfCropAndResizeExtrapolates) {
  OpRun r = make_run("Resize", {{f32({5}, {0, 10, 20, 30, 40})}, constant(f32({2}, {-0.5f, 0.5f})), {},
                                constant(i64({1}, {3}))});
  r.attrs.set("mode", attr_string("linear"));
  r.attrs.set("coordinate_transformation_mode", attr_string("tf_crop_and_resize"));
  r.attrs.set("extrapolation_value", attr_float(7));
  auto y = run_op(r);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  // x_orig = 2x - 2: -2 is outside the input.
  expect_near(values_f32((*y)[0]), {7, 0, 20});
}

TEST(Resize, AntialiasLinearDownsample) {
  OpRun r = make_run("Resize", {{f32({4}, {0, 1, 2, 3})}, {}, constant(f32({1}, {0.5f}))}, 18);
  r.attrs.set("mode", attr_string("linear"));
  r.attrs.set("antialias", attr_int(1));
  auto y = run_op(r);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  // x_orig = 0.5 and 2.5; the triangle stretched to 4 taps weighs (1,3,3,1)/8 around it.
  expect_near(values_f32((*y)[0]), {0.625f, 2.375f});
}

TEST(Resize, AxesAndKeepAspectRatio) {
  OpRun r = make_run("Resize", {{f32({1, 1, 1, 2}, {1, 2})}, {}, constant(f32({2}, {3, 2}))}, 18);
  r.attrs.set("axes", attr_ints({-2, 3}));
  auto y = run_op(r);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ((*y)[0].shape(), (Shape{1, 1, 3, 4}));
  EXPECT_EQ(values_f32((*y)[0]), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}));

  // not_larger: sizes [4, 4] over a 2x4 input give scales 2 and 1; the smaller (1) wins.
  OpRun k = make_run("Resize", {{f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}, {}, {}, constant(i64({2}, {4, 4}))}, 18);
  k.attrs.set("keep_aspect_ratio_policy", attr_string("not_larger"));
  auto ky = run_op(k);
  ASSERT_TRUE(ky.ok()) << ky.status().to_string();
  EXPECT_EQ((*ky)[0].shape(), (Shape{2, 4}));
  k.attrs.set("keep_aspect_ratio_policy", attr_string("not_smaller"));
  auto ks = run_op(k);
  ASSERT_TRUE(ks.ok()) << ks.status().to_string();
  EXPECT_EQ((*ks)[0].shape(), (Shape{4, 8}));
}

TEST(Resize, IntegerLinearRounds) {
  OpRun r = make_run("Resize", {{u8({2}, {0, 255})}, {}, {}, constant(i64({1}, {4}))});
  r.attrs.set("mode", attr_string("linear"));
  r.attrs.set("coordinate_transformation_mode", attr_string("align_corners"));
  auto y = run_op(r);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(values_i64((*y)[0]), (std::vector<int64_t>{0, 85, 170, 255}));
}

TEST(Resize, Opset10AndUpsample) {
  // Resize-10: asymmetric, nearest floors (ceil when downsampling).
  auto down = run_op(make_run("Resize", {{f32({4}, {1, 2, 3, 4})}, constant(f32({1}, {0.6f}))}, 10));
  ASSERT_TRUE(down.ok()) << down.status().to_string();
  EXPECT_EQ(values_f32((*down)[0]), (std::vector<float>{1, 3}));  // x_orig 0 and 1.67 -> 0 and 2

  OpRun u7 = make_run("Upsample", {{f32({1, 2}, {1, 2})}}, 7);
  u7.attrs.set("scales", attr_floats({1, 3}));
  auto y7 = run_op(u7);
  ASSERT_TRUE(y7.ok()) << y7.status().to_string();
  EXPECT_EQ(values_f32((*y7)[0]), (std::vector<float>{1, 1, 1, 2, 2, 2}));

  OpRun u9 = make_run("Upsample", {{f32({2}, {1, 3})}, constant(f32({1}, {2}))}, 9);
  u9.attrs.set("mode", attr_string("linear"));
  auto y9 = run_op(u9);
  ASSERT_TRUE(y9.ok()) << y9.status().to_string();
  expect_near(values_f32((*y9)[0]), {1, 2, 3, 3});
}

TEST(Resize, Errors) {
  Tensor x = f32({2}, {1, 2});
  auto both = run_op(make_run("Resize", {{x}, {}, constant(f32({1}, {2})), constant(i64({1}, {4}))}));
  ASSERT_FALSE(both.ok());
  EXPECT_TRUE(has(both.status(), "Resize node 'node0': give scales or sizes, not both")) << both.status().message();
  EXPECT_FALSE(run_op(make_run("Resize", {{x}, {}, {}, {}})).ok());                         // neither
  EXPECT_FALSE(resize(x, {1, 2}, {}, {}).ok());                                              // wrong length
  EXPECT_FALSE(resize(x, {-2}, {}, {}).ok());                                                // negative
  EXPECT_FALSE(resize(x, {0}, {}, {}).ok());                                                 // zero
  EXPECT_FALSE(resize(x, {2}, {}, {{"mode", "area"}}).ok());
  EXPECT_FALSE(resize(x, {2}, {}, {{"coordinate_transformation_mode", "sideways"}}).ok());
  EXPECT_FALSE(resize(f32({0}, {}), {}, {3}, {}).ok());                                      // from nothing
  auto runtime = run_op(make_run("Resize", {{x}, {}, {f32({1}, {2})}}));
  ASSERT_FALSE(runtime.ok());
  EXPECT_TRUE(has(runtime.status(), "known at build time")) << runtime.status().message();
  OpRun cubic = make_run("Upsample", {{x}, constant(f32({1}, {2}))}, 9);
  cubic.attrs.set("mode", attr_string("cubic"));
  EXPECT_FALSE(run_op(cubic).ok());
  OpRun noscale = make_run("Upsample", {{x}}, 7);
  EXPECT_FALSE(run_op(noscale).ok());
}

}  // namespace
}  // namespace quench::testing

namespace quench::testing {
namespace {

TEST(Resize, HostileScalesAreErrors) {
  EXPECT_FALSE(resize(f32({2}, {1, 2}), {1e30f}, {}, {}).ok());
  EXPECT_FALSE(resize(f32({2}, {1, 2}), {}, {1LL << 50}, {{"mode", "linear"}}).ok());
  // Antialiasing a 1e-7 downscale would need a filter wider than any input: refused or tiny.
  OpRun r = make_run("Resize", {{f32({2}, {1, 2})}, {}, constant(f32({1}, {1e-7f}))}, 18);
  r.attrs.set("mode", attr_string("cubic"));
  r.attrs.set("antialias", attr_int(1));
  auto y = run_op(r);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ((*y)[0].shape(), (Shape{0}));
}

}  // namespace
}  // namespace quench::testing
