#include <gtest/gtest.h>

#include <array>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

std::vector<float> iota(int64_t n, float start = 0.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return v;
}

// The textbook convolution, written independently of ops/conv.cpp: every output visits every
// kernel tap and skips those that fall in the padding. Shapes are 5-D [N, C, D, H, W]; lower
// ranks pass 1 for the leading spatial dims (same memory layout).
struct Geometry {
  int64_t group = 1;
  std::array<int64_t, 3> stride{1, 1, 1}, dil{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};
};

std::vector<float> naive_conv(const std::vector<float>& x, std::array<int64_t, 5> xs, const std::vector<float>& w,
                              std::array<int64_t, 5> ws, const std::vector<float>& bias, const Geometry& g,
                              std::array<int64_t, 5>* out_shape) {
  const int64_t N = xs[0], C = xs[1], M = ws[0], Cg = ws[1], Mg = M / g.group;
  std::array<int64_t, 3> in{xs[2], xs[3], xs[4]}, k{ws[2], ws[3], ws[4]}, out{};
  for (int d = 0; d < 3; ++d)
    out[d] = (in[d] + g.pad_begin[d] + g.pad_end[d] - g.dil[d] * (k[d] - 1) - 1) / g.stride[d] + 1;
  *out_shape = {N, M, out[0], out[1], out[2]};
  std::vector<float> y(static_cast<size_t>(N * M * out[0] * out[1] * out[2]));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t od = 0; od < out[0]; ++od)
        for (int64_t oh = 0; oh < out[1]; ++oh)
          for (int64_t ow = 0; ow < out[2]; ++ow) {
            double s = bias.empty() ? 0.0 : bias[m];
            for (int64_t c = 0; c < Cg; ++c)
              for (int64_t kd = 0; kd < k[0]; ++kd)
                for (int64_t kh = 0; kh < k[1]; ++kh)
                  for (int64_t kw = 0; kw < k[2]; ++kw) {
                    const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dil[0];
                    const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dil[1];
                    const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dil[2];
                    if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2]) continue;
                    const int64_t ci = (m / Mg) * Cg + c;
                    s += static_cast<double>(x[(((n * C + ci) * in[0] + id) * in[1] + ih) * in[2] + iw]) *
                         w[(((m * Cg + c) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
            y[(((n * M + m) * out[0] + od) * out[1] + oh) * out[2] + ow] = static_cast<float>(s);
          }
  return y;
}

// Runs Conv with `spatial` spatial dims (1..3) against naive_conv with the same geometry.
// Attributes other than those in `g` can be added through `extra`.
void check_against_naive(int spatial, std::array<int64_t, 5> xs, std::array<int64_t, 5> ws, const Geometry& g,
                         bool with_bias, uint32_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Shape x_shape{xs[0], xs[1]}, w_shape{ws[0], ws[1]};
  for (int d = 3 - spatial; d < 3; ++d) {
    x_shape.push_back(xs[2 + d]);
    w_shape.push_back(ws[2 + d]);
  }
  Tensor x = f32_random(x_shape, seed), w = f32_random(w_shape, seed + 1), b = f32_random({ws[0]}, seed + 2);
  std::vector<int64_t> strides, dils, pads_b, pads_e;
  for (int d = 3 - spatial; d < 3; ++d) {
    strides.push_back(g.stride[d]);
    dils.push_back(g.dil[d]);
    pads_b.push_back(g.pad_begin[d]);
    pads_e.push_back(g.pad_end[d]);
  }
  std::vector<int64_t> pads = pads_b;
  pads.insert(pads.end(), pads_e.begin(), pads_e.end());
  OpRun r = make_run("Conv", {{x}, {w}});
  if (with_bias) r.inputs.push_back({b});
  r.attrs.set("group", attr_int(g.group));
  r.attrs.set("strides", attr_ints(strides));
  r.attrs.set("dilations", attr_ints(dils));
  r.attrs.set("pads", attr_ints(pads));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::array<int64_t, 5> os;
  const auto want = naive_conv(values_f32(x), xs, values_f32(w), ws, with_bias ? values_f32(b) : std::vector<float>{},
                               g, &os);
  Shape want_shape{os[0], os[1]};
  for (int d = 3 - spatial; d < 3; ++d) want_shape.push_back(os[2 + d]);
  EXPECT_EQ((*out)[0].shape(), want_shape);
  EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
}

TEST(Conv, HandComputed2x2OnesKernelWithBias) {
  // x = 0..8 as 3x3, kernel of ones: each output is the sum of a 2x2 block, plus bias 1.
  OpRun r = make_run("Conv", {{f32({1, 1, 3, 3}, iota(9))}, {f32({1, 1, 2, 2}, {1, 1, 1, 1})}, {f32({1}, {1})}});
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{9, 13, 21, 25}));
}

TEST(Conv, OnnxDocExampleWithAndWithoutPads) {
  // The example from the ONNX Conv documentation: 5x5 of 0..24, 3x3 ones.
  Tensor x = f32({1, 1, 5, 5}, iota(25)), w = f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  OpRun r = make_run("Conv", {{x}, {w}});
  r.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  auto padded = run_op(r);
  ASSERT_TRUE(padded.ok()) << padded.status().to_string();
  EXPECT_EQ(values_f32((*padded)[0]), (std::vector<float>{12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                                           93, 144, 153, 162, 111, 72, 111, 117, 123, 84}));
  auto valid = run_op(make_run("Conv", {{x}, {w}}));
  ASSERT_TRUE(valid.ok());
  EXPECT_EQ(values_f32((*valid)[0]), (std::vector<float>{54, 63, 72, 99, 108, 117, 144, 153, 162}));
}

TEST(Conv, Stride2AsymmetricPads) {
  // x[r][c] = 4r + c, 2x2 ones, stride 2, one row of padding on top and one column on the
  // right: output row 0 sees only input row 0, row 1 sees rows 1-2; columns {0,1} and {2,3}.
  OpRun r = make_run("Conv", {{f32({1, 1, 4, 4}, iota(16))}, {f32({1, 1, 2, 2}, {1, 1, 1, 1})}});
  r.attrs.set("strides", attr_ints({2, 2}));
  r.attrs.set("pads", attr_ints({1, 0, 0, 1}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1, 5, 26, 34}));
}

TEST(Conv, Dilation2) {
  // A dilated 2x2 kernel of ones reads x[h][w] + x[h][w+2] + x[h+2][w] + x[h+2][w+2].
  OpRun r = make_run("Conv", {{f32({1, 1, 4, 4}, iota(16))}, {f32({1, 1, 2, 2}, {1, 1, 1, 1})}});
  r.attrs.set("dilations", attr_ints({2, 2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{20, 24, 36, 40}));
}

TEST(Conv, GroupsKeepChannelsApart) {
  // 4 input channels in 2 groups, 1x1 kernels: out0 = 1*x0 + 2*x1, out1 = 3*x2 + 4*x3.
  Tensor x = f32({1, 4, 1, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  OpRun r = make_run("Conv", {{x}, {f32({2, 2, 1, 1}, {1, 2, 3, 4})}});
  r.attrs.set("group", attr_int(2));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2, 1, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1 + 4, 10 + 40, 9 + 16, 90 + 160}));
}

TEST(Conv, DepthwiseHandAndNaive) {
  // Depthwise 3x3, pads 1: channel c's kernel is all (c + 1), so the centre output is
  // (c + 1) * (sum of that channel's 3x3 input).
  std::vector<float> w(27);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 9; ++i) w[c * 9 + i] = static_cast<float>(c + 1);
  OpRun r = make_run("Conv", {{f32({1, 3, 3, 3}, iota(27))}, {f32({3, 1, 3, 3}, w)}});
  r.attrs.set("group", attr_int(3));
  r.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const auto y = values_f32((*out)[0]);
  ASSERT_EQ(y.size(), 27u);
  EXPECT_FLOAT_EQ(y[4], 1 * 36.0f);           // channel 0: 0+1+...+8
  EXPECT_FLOAT_EQ(y[13], 2 * (36.0f + 81));   // channel 1: 9..17
  EXPECT_FLOAT_EQ(y[22], 3 * (36.0f + 162));  // channel 2: 18..26
  EXPECT_FLOAT_EQ(y[0], 1 * (0 + 1 + 3 + 4.0f));  // corner: 2x2 of the input

  Geometry g;
  g.group = 8;
  g.stride = {1, 2, 2};
  g.pad_begin = {0, 1, 1};
  g.pad_end = {0, 1, 1};
  check_against_naive(2, {2, 8, 1, 9, 10}, {8, 1, 1, 3, 3}, g, true, 7);
}

TEST(Conv, AutoPadModesIn1D) {
  // x = [1 2 3 4], kernel [1 10]: SAME pads one zero, at the end (UPPER) or at the start (LOWER).
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4}), w = f32({1, 1, 2}, {1, 10});
  auto conv = [&](const char* mode) {
    OpRun r = make_run("Conv", {{x}, {w}});
    r.attrs.set("auto_pad", attr_string(mode));
    return run_op(r);
  };
  auto upper = conv("SAME_UPPER"), lower = conv("SAME_LOWER"), valid = conv("VALID"), notset = conv("NOTSET");
  ASSERT_TRUE(upper.ok() && lower.ok() && valid.ok() && notset.ok()) << upper.status().to_string();
  EXPECT_EQ(values_f32((*upper)[0]), (std::vector<float>{21, 32, 43, 4}));
  EXPECT_EQ(values_f32((*lower)[0]), (std::vector<float>{10, 21, 32, 43}));
  EXPECT_EQ(values_f32((*valid)[0]), (std::vector<float>{21, 32, 43}));
  EXPECT_EQ(values_f32((*notset)[0]), (std::vector<float>{21, 32, 43}));
}

TEST(Conv, SameUpperStride2MatchesExplicitPads) {
  // 7x8 input, 3x3 kernel, stride 2: output ceil(7/2) x ceil(8/2) = 4x4; the total padding is
  // 2 rows (1 + 1) and 1 column, which SAME_UPPER puts at the end and SAME_LOWER at the start.
  Tensor x = f32_random({1, 2, 7, 8}, 3), w = f32_random({3, 2, 3, 3}, 4);
  std::array<int64_t, 5> os;
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    SCOPED_TRACE(mode);
    OpRun r = make_run("Conv", {{x}, {w}});
    r.attrs.set("auto_pad", attr_string(mode));
    r.attrs.set("strides", attr_ints({2, 2}));
    auto out = run_op(r);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    Geometry g;
    g.stride = {1, 2, 2};
    g.pad_begin = {0, 1, std::string(mode) == "SAME_UPPER" ? 0 : 1};
    g.pad_end = {0, 1, std::string(mode) == "SAME_UPPER" ? 1 : 0};
    const auto want = naive_conv(values_f32(x), {1, 2, 1, 7, 8}, values_f32(w), {3, 2, 1, 3, 3}, {}, g, &os);
    EXPECT_EQ((*out)[0].shape(), (Shape{1, 3, 4, 4}));
    EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
  }
}

TEST(Conv, AgainstNaiveLoop1D2D3D) {
  Geometry g1;
  g1.stride = {1, 1, 3};
  g1.dil = {1, 1, 2};
  g1.pad_begin = {0, 0, 2};
  g1.pad_end = {0, 0, 1};
  check_against_naive(1, {2, 3, 1, 1, 17}, {4, 3, 1, 1, 3}, g1, true, 11);

  Geometry g2;
  g2.group = 2;
  g2.stride = {1, 2, 1};
  g2.dil = {1, 2, 1};
  g2.pad_begin = {0, 2, 0};
  g2.pad_end = {0, 1, 3};
  check_against_naive(2, {1, 4, 1, 11, 9}, {6, 2, 1, 3, 2}, g2, true, 12);

  Geometry g3;
  g3.stride = {2, 1, 2};
  g3.pad_begin = {1, 0, 1};
  g3.pad_end = {0, 1, 1};
  check_against_naive(3, {1, 2, 5, 6, 7}, {3, 2, 2, 3, 3}, g3, false, 13);
}

TEST(Conv, PointwiseAndWideRowsAgainstNaive) {
  // 1x1 stride 1 takes the whole-plane path; a 600-wide row spans several accumulator tiles.
  check_against_naive(2, {2, 5, 1, 6, 7}, {4, 5, 1, 1, 1}, Geometry{}, true, 21);
  Geometry g;
  g.stride = {1, 1, 2};
  g.pad_begin = {0, 1, 3};
  g.pad_end = {0, 0, 2};
  check_against_naive(2, {1, 2, 1, 3, 1201}, {2, 2, 1, 2, 5}, g, true, 22);
  Geometry pw;  // 1x1 with stride 2 is not one to one: the general path
  pw.stride = {1, 2, 2};
  check_against_naive(2, {1, 3, 1, 5, 5}, {2, 3, 1, 1, 1}, pw, false, 23);
}

TEST(Conv, KernelShapeAttributeMustMatchWeight) {
  OpRun r = make_run("Conv", {{f32({1, 1, 4, 4}, iota(16))}, {f32({1, 1, 2, 2}, {1, 1, 1, 1})}});
  r.attrs.set("kernel_shape", attr_ints({2, 2}));
  ASSERT_TRUE(run_op(r).ok());
  r.attrs.set("kernel_shape", attr_ints({3, 3}));
  auto bad = run_op(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("kernel_shape [3,3] does not match the weight's kernel [2,2]"),
            std::string::npos)
      << bad.status().message();
}

TEST(Conv, ChannelMismatchNamesNode) {
  auto out = run_op(make_run("Conv", {{f32_random({1, 4, 5, 5}, 1)}, {f32_random({2, 3, 3, 3}, 2)}}));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Conv node 'node0': weight has 3 input channels but input has 4 (group 1)"),
            std::string::npos)
      << out.status().message();
}

TEST(Conv, ShapeAndAttributeErrors) {
  Tensor x = f32_random({1, 4, 5, 5}, 1);
  auto message_of = [](const OpRun& r) {
    auto out = run_op(r);
    return out.ok() ? std::string("ok") : out.status().message();
  };
  {  // group must divide the output channels
    OpRun r = make_run("Conv", {{x}, {f32_random({3, 2, 3, 3}, 2)}});
    r.attrs.set("group", attr_int(2));
    EXPECT_NE(message_of(r).find("3 output channels, which group 2 does not divide"), std::string::npos)
        << message_of(r);
  }
  {  // kernel larger than the (unpadded) input
    OpRun r = make_run("Conv", {{x}, {f32_random({1, 4, 6, 3}, 2)}});
    EXPECT_NE(message_of(r).find("larger than the padded input"), std::string::npos) << message_of(r);
  }
  {  // unknown auto_pad
    OpRun r = make_run("Conv", {{x}, {f32_random({1, 4, 3, 3}, 2)}});
    r.attrs.set("auto_pad", attr_string("SAME"));
    EXPECT_NE(message_of(r).find("auto_pad 'SAME' is not one of"), std::string::npos) << message_of(r);
  }
  {  // negative pads, wrong pads count, zero stride
    OpRun r = make_run("Conv", {{x}, {f32_random({1, 4, 3, 3}, 2)}});
    r.attrs.set("pads", attr_ints({-1, 0, 0, 0}));
    EXPECT_NE(message_of(r).find("pads value -1 is out of range"), std::string::npos) << message_of(r);
    r.attrs.set("pads", attr_ints({1, 1}));
    EXPECT_NE(message_of(r).find("pads has 2 values but 4 are expected"), std::string::npos) << message_of(r);
    r.attrs.set("pads", attr_ints({0, 0, 0, 0}));
    r.attrs.set("strides", attr_ints({0, 1}));
    EXPECT_NE(message_of(r).find("strides value 0 is out of range"), std::string::npos) << message_of(r);
  }
  {  // huge pads: an output too large to allocate is refused, not attempted
    OpRun r = make_run("Conv", {{x}, {f32_random({1, 4, 3, 3}, 2)}});
    r.attrs.set("pads", attr_ints({int64_t{1} << 39, int64_t{1} << 39, int64_t{1} << 39, int64_t{1} << 39}));
    EXPECT_NE(message_of(r).find("too large to allocate"), std::string::npos) << message_of(r);
    r.attrs.set("pads", attr_ints({int64_t{1} << 62, 0, 0, 0}));
    EXPECT_NE(message_of(r).find("out of range"), std::string::npos) << message_of(r);
  }
  {  // bias of the wrong length, weight of the wrong rank, input without spatial dims
    OpRun r = make_run("Conv", {{x}, {f32_random({2, 4, 3, 3}, 2)}, {f32({3}, {1, 2, 3})}});
    EXPECT_NE(message_of(r).find("bias has shape [3] but there are 2 output channels"), std::string::npos)
        << message_of(r);
    EXPECT_NE(message_of(make_run("Conv", {{x}, {f32_random({2, 4, 3}, 2)}})).find("same rank"), std::string::npos);
    EXPECT_NE(message_of(make_run("Conv", {{f32_random({2, 4}, 1)}, {f32_random({2, 4}, 2)}})).find("[N, C, spatial"),
              std::string::npos);
  }
  {  // integer input
    OpRun r = make_run("Conv", {{i64({1, 1, 2}, {1, 2})}, {i64({1, 1, 1}, {1})}});
    EXPECT_NE(message_of(r).find("needs a floating type"), std::string::npos) << message_of(r);
  }
}

TEST(Conv, EmptyBatchAndEmptySpatialDims) {
  auto empty_batch = run_op(make_run("Conv", {{f32({0, 2, 4, 4}, {})}, {f32_random({3, 2, 3, 3}, 1)}}));
  ASSERT_TRUE(empty_batch.ok()) << empty_batch.status().to_string();
  EXPECT_EQ((*empty_batch)[0].shape(), (Shape{0, 3, 2, 2}));
  // No input channels: the output is the bias.
  auto no_channels =
      run_op(make_run("Conv", {{f32({1, 0, 2, 2}, {})}, {f32({2, 0, 1, 1}, {})}, {f32({2}, {5, -1})}}));
  ASSERT_TRUE(no_channels.ok()) << no_channels.status().to_string();
  EXPECT_EQ(values_f32((*no_channels)[0]), (std::vector<float>{5, 5, 5, 5, -1, -1, -1, -1}));
  auto empty_width = run_op(make_run("Conv", {{f32({1, 1, 3, 0}, {})}, {f32_random({1, 1, 1, 3}, 1)}}));
  ASSERT_TRUE(empty_width.ok()) << empty_width.status().to_string();
  EXPECT_EQ((*empty_width)[0].shape(), (Shape{1, 1, 3, 0}));
}

TEST(Conv, Float64) {
  OpRun r = make_run("Conv", {{f64({1, 1, 3}, {1, 2, 3})}, {f64({1, 1, 2}, {0.5, 0.25})}});
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dtype(), DType::kF64);
  EXPECT_EQ(values_f64((*out)[0]), (std::vector<double>{1.0, 1.75}));
}

}  // namespace
}  // namespace quench::testing
