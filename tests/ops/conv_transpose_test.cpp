#include <gtest/gtest.h>

#include <array>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

// ConvTranspose the way its definition reads, independently of ops/conv_transpose.cpp (which
// gathers): every input element scatters x * w into output i * stride - pad_begin + k * dilation.
// 5-D shapes [N, C, D, H, W]; lower ranks pass 1 for the leading spatial dims.
struct Geometry {
  int64_t group = 1;
  std::array<int64_t, 3> stride{1, 1, 1}, dil{1, 1, 1}, pad_begin{0, 0, 0}, out{};
};

std::vector<float> naive_conv_transpose(const std::vector<float>& x, std::array<int64_t, 5> xs,
                                        const std::vector<float>& w, std::array<int64_t, 5> ws,
                                        const std::vector<float>& bias, const Geometry& g) {
  const int64_t N = xs[0], C = xs[1], Cg = C / g.group, Mg = ws[1], M = Mg * g.group;
  const std::array<int64_t, 3> in{xs[2], xs[3], xs[4]}, k{ws[2], ws[3], ws[4]}, out = g.out;
  std::vector<double> y(static_cast<size_t>(N * M * out[0] * out[1] * out[2]), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < out[0] * out[1] * out[2]; ++i) y[(n * M + m) * out[0] * out[1] * out[2] + i] = bias.empty() ? 0.0 : bias[m];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ml = 0; ml < Mg; ++ml)
        for (int64_t id = 0; id < in[0]; ++id)
          for (int64_t ih = 0; ih < in[1]; ++ih)
            for (int64_t iw = 0; iw < in[2]; ++iw)
              for (int64_t kd = 0; kd < k[0]; ++kd)
                for (int64_t kh = 0; kh < k[1]; ++kh)
                  for (int64_t kw = 0; kw < k[2]; ++kw) {
                    const int64_t od = id * g.stride[0] - g.pad_begin[0] + kd * g.dil[0];
                    const int64_t oh = ih * g.stride[1] - g.pad_begin[1] + kh * g.dil[1];
                    const int64_t ow = iw * g.stride[2] - g.pad_begin[2] + kw * g.dil[2];
                    if (od < 0 || od >= out[0] || oh < 0 || oh >= out[1] || ow < 0 || ow >= out[2]) continue;
                    const int64_t m = (c / Cg) * Mg + ml;
                    y[(((n * M + m) * out[0] + od) * out[1] + oh) * out[2] + ow] +=
                        static_cast<double>(x[(((n * C + c) * in[0] + id) * in[1] + ih) * in[2] + iw]) *
                        w[(((c * Mg + ml) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
  return std::vector<float>(y.begin(), y.end());
}

Result<std::vector<Tensor>> run1d(std::vector<float> x, std::vector<float> w, ops::Attributes attrs) {
  OpRun r = make_run("ConvTranspose", {{f32({1, 1, static_cast<int64_t>(x.size())}, x)},
                                       {f32({1, 1, static_cast<int64_t>(w.size())}, w)}});
  r.attrs = std::move(attrs);
  return run_op(r);
}

TEST(ConvTranspose, HandComputed1D) {
  ops::Attributes none;
  auto plain = run1d({1, 2, 3}, {1, 1}, none);
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_EQ(values_f32((*plain)[0]), (std::vector<float>{1, 3, 5, 3}));

  ops::Attributes s2;
  s2.set("strides", attr_ints({2}));
  auto strided = run1d({1, 2, 3}, {1, 1}, s2);
  ASSERT_TRUE(strided.ok());
  EXPECT_EQ(values_f32((*strided)[0]), (std::vector<float>{1, 1, 2, 2, 3, 3}));

  ops::Attributes pads = s2;  // one output taken off the start
  pads.set("pads", attr_ints({1, 0}));
  auto padded = run1d({1, 2, 3}, {1, 1}, pads);
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(values_f32((*padded)[0]), (std::vector<float>{1, 2, 2, 3, 3}));

  ops::Attributes op = s2;  // one output added at the end, reached by no input
  op.set("output_padding", attr_ints({1}));
  auto out_padded = run1d({1, 2, 3}, {1, 1}, op);
  ASSERT_TRUE(out_padded.ok());
  EXPECT_EQ(values_f32((*out_padded)[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 0}));

  ops::Attributes os = s2;  // the same through output_shape (a negative total padding)
  os.set("output_shape", attr_ints({7}));
  auto shaped = run1d({1, 2, 3}, {1, 1}, os);
  ASSERT_TRUE(shaped.ok()) << shaped.status().to_string();
  EXPECT_EQ(values_f32((*shaped)[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 0}));

  ops::Attributes dil;  // dilation 2: x0 -> outputs 0 and 2, x1 -> 1 and 3
  dil.set("dilations", attr_ints({2}));
  auto dilated = run1d({1, 2}, {1, 1}, dil);
  ASSERT_TRUE(dilated.ok());
  EXPECT_EQ(values_f32((*dilated)[0]), (std::vector<float>{1, 2, 1, 2}));
}

TEST(ConvTranspose, AutoPadSameUpperAndLower) {
  // x = [1 2 3], w = [1 10 100], stride 2: the full output is [1 10 102 20 203 30 300]; SAME
  // keeps 3 * 2 = 6 of them, dropping the last (SAME_UPPER) or the first (SAME_LOWER).
  for (auto [mode, want] : {std::pair<const char*, std::vector<float>>{"SAME_UPPER", {1, 10, 102, 20, 203, 30}},
                            std::pair<const char*, std::vector<float>>{"SAME_LOWER", {10, 102, 20, 203, 30, 300}},
                            std::pair<const char*, std::vector<float>>{"VALID", {1, 10, 102, 20, 203, 30, 300}}}) {
    SCOPED_TRACE(mode);
    ops::Attributes a;
    a.set("strides", attr_ints({2}));
    a.set("auto_pad", attr_string(mode));
    auto out = run1d({1, 2, 3}, {1, 10, 100}, a);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(values_f32((*out)[0]), want);
  }
}

TEST(ConvTranspose, GroupsAndBiasAgainstNaive2D) {
  Tensor x = f32_random({2, 4, 3, 4}, 1), w = f32_random({4, 3, 3, 2}, 2), b = f32_random({6}, 3);
  OpRun r = make_run("ConvTranspose", {{x}, {w}, {b}});
  r.attrs.set("group", attr_int(2));
  r.attrs.set("strides", attr_ints({2, 3}));
  r.attrs.set("dilations", attr_ints({2, 1}));
  r.attrs.set("pads", attr_ints({1, 0, 2, 1}));
  r.attrs.set("output_padding", attr_ints({1, 2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // H: 2 * (3 - 1) + 1 + (2 * 2 + 1) - 1 - 2 = 7; W: 3 * 3 + 2 + 2 - 0 - 1 = 12.
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 6, 7, 12}));
  Geometry g;
  g.group = 2;
  g.stride = {1, 2, 3};
  g.dil = {1, 2, 1};
  g.pad_begin = {0, 1, 0};
  g.out = {1, 7, 12};
  const auto want = naive_conv_transpose(values_f32(x), {2, 4, 1, 3, 4}, values_f32(w), {4, 3, 1, 3, 2}, values_f32(b), g);
  EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
}

TEST(ConvTranspose, Naive3DAndOutputShape) {
  Tensor x = f32_random({1, 2, 2, 3, 3}, 4), w = f32_random({2, 2, 2, 3, 2}, 5);
  OpRun r = make_run("ConvTranspose", {{x}, {w}});
  r.attrs.set("strides", attr_ints({2, 1, 2}));
  r.attrs.set("output_shape", attr_ints({1, 2, 5, 4, 8}));  // the whole shape form
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2, 5, 4, 8}));
  // Full sizes: D 2*1+2 = 4, H 2+3 = 5, W 2*2+2 = 6; totals -1, 1, -2 -> begin pads
  // total - floor(total / 2): 0, 1, -1.
  Geometry g;
  g.stride = {2, 1, 2};
  g.pad_begin = {0, 1, -1};
  g.out = {5, 4, 8};
  const auto want = naive_conv_transpose(values_f32(x), {1, 2, 2, 3, 3}, values_f32(w), {2, 2, 2, 3, 2}, {}, g);
  EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
}

TEST(ConvTranspose, WideRowAgainstNaive) {
  // A 700-wide output spans several accumulator tiles.
  Tensor x = f32_random({1, 2, 2, 350}, 6), w = f32_random({2, 1, 2, 3}, 7);
  OpRun r = make_run("ConvTranspose", {{x}, {w}});
  r.attrs.set("strides", attr_ints({1, 2}));
  r.attrs.set("pads", attr_ints({0, 1, 0, 0}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 3, 700}));
  Geometry g;
  g.stride = {1, 1, 2};
  g.pad_begin = {0, 0, 1};
  g.out = {1, 3, 700};
  const auto want = naive_conv_transpose(values_f32(x), {1, 2, 1, 2, 350}, values_f32(w), {2, 1, 1, 2, 3}, {}, g);
  EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
}

TEST(ConvTranspose, Errors) {
  auto message_of = [](const OpRun& r) {
    auto out = run_op(r);
    return out.ok() ? std::string("ok") : out.status().message();
  };
  Tensor x = f32_random({1, 4, 3, 3}, 1);
  EXPECT_NE(message_of(make_run("ConvTranspose", {{x}, {f32_random({3, 2, 3, 3}, 2)}}))
                .find("ConvTranspose node 'node0': weight has 3 input channels but input has 4"),
            std::string::npos);
  {
    OpRun r = make_run("ConvTranspose", {{x}, {f32_random({4, 2, 3, 3}, 2)}});
    r.attrs.set("group", attr_int(3));
    EXPECT_NE(message_of(r).find("input has 4 channels, which group 3 does not divide"), std::string::npos)
        << message_of(r);
  }
  {
    OpRun r = make_run("ConvTranspose", {{x}, {f32_random({4, 2, 3, 3}, 2)}});
    r.attrs.set("pads", attr_ints({3, 0, 3, 0}));  // full output 5 rows, 6 removed
    EXPECT_NE(message_of(r).find("remove more than the whole output"), std::string::npos) << message_of(r);
  }
  {
    OpRun r = make_run("ConvTranspose", {{x}, {f32_random({4, 2, 3, 3}, 2)}});
    r.attrs.set("output_shape", attr_ints({5, 5, 5}));
    EXPECT_NE(message_of(r).find("output_shape has 3 values but 2"), std::string::npos) << message_of(r);
    r.attrs.set("output_shape", attr_ints({int64_t{1} << 30, int64_t{1} << 30}));
    EXPECT_NE(message_of(r).find("too large to allocate"), std::string::npos) << message_of(r);
  }
  {
    OpRun r = make_run("ConvTranspose", {{x}, {f32_random({4, 2, 3, 3}, 2)}});
    r.attrs.set("strides", attr_ints({int64_t{1} << 40, 1}));
    EXPECT_NE(message_of(r).find("too large"), std::string::npos) << message_of(r);
  }
  EXPECT_NE(message_of(make_run("ConvTranspose", {{x}, {f32_random({4, 2, 3, 3}, 2)}, {f32({3}, {1, 2, 3})}}))
                .find("bias has shape [3] but there are 2 output channels"),
            std::string::npos);
}

TEST(ConvTranspose, EmptyBatch) {
  auto out = run_op(make_run("ConvTranspose", {{f32({0, 1, 3}, {})}, {f32({1, 2, 2}, {1, 2, 3, 4})}}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{0, 2, 4}));
}

}  // namespace
}  // namespace quench::testing
