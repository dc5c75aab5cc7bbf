#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

std::string message_of(const OpRun& r) {
  auto out = run_op(r);
  return out.ok() ? std::string("ok") : out.status().message();
}

std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return v;
}

OpRun pool(const char* op, Tensor x, std::vector<int64_t> kernel) {
  OpRun r = make_run(op, {{std::move(x)}});
  r.attrs.set("kernel_shape", attr_ints(std::move(kernel)));
  return r;
}

TEST(MaxPool, Stride2AndPaddingIsNeverAValue) {
  OpRun r = pool("MaxPool", f32({1, 1, 4, 4}, iota(16)), {2, 2});
  r.attrs.set("strides", attr_ints({2, 2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{5, 7, 13, 15}));

  // All-negative input with pads 1: padded positions must not contribute zeros.
  OpRun p = pool("MaxPool", f32({1, 1, 2, 2}, {-1, -2, -3, -4}), {2, 2});
  p.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  auto padded = run_op(p);
  ASSERT_TRUE(padded.ok()) << padded.status().to_string();
  EXPECT_EQ(values_f32((*padded)[0]), (std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -4}));
}

TEST(MaxPool, Dilation) {
  // 2x2 window dilated by 2 on 4x4: max of x[h][w], x[h][w+2], x[h+2][w], x[h+2][w+2].
  OpRun r = pool("MaxPool", f32({1, 1, 4, 4}, {9, 0, 0, 0, 0, 0, 0, 8, 0, 0, 1, 0, 0, 0, 0, 0}), {2, 2});
  r.attrs.set("dilations", attr_ints({2, 2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{9, 0, 0, 8}));
}

TEST(Pool, CeilMode) {
  // 4x4 of 0..15, 3x3 windows, stride 2: floor gives 1x1, ceil 2x2 with clipped windows.
  for (const char* op : {"MaxPool", "AveragePool"}) {
    SCOPED_TRACE(op);
    OpRun r = pool(op, f32({1, 1, 4, 4}, iota(16)), {3, 3});
    r.attrs.set("strides", attr_ints({2, 2}));
    auto floor_out = run_op(r);
    ASSERT_TRUE(floor_out.ok()) << floor_out.status().to_string();
    EXPECT_EQ((*floor_out)[0].shape(), (Shape{1, 1, 1, 1}));
    r.attrs.set("ceil_mode", attr_int(1));
    auto ceil_out = run_op(r);
    ASSERT_TRUE(ceil_out.ok()) << ceil_out.status().to_string();
    EXPECT_EQ((*ceil_out)[0].shape(), (Shape{1, 1, 2, 2}));
    if (std::string(op) == "MaxPool") {
      EXPECT_EQ(values_f32((*floor_out)[0]), (std::vector<float>{10}));
      EXPECT_EQ(values_f32((*ceil_out)[0]), (std::vector<float>{10, 11, 14, 15}));
    } else {
      EXPECT_EQ(values_f32((*floor_out)[0]), (std::vector<float>{5}));
      EXPECT_EQ(values_f32((*ceil_out)[0]), (std::vector<float>{5, 6.5f, 11, 12.5f}));
    }
  }
}

TEST(Pool, CeilModeDropsAWindowStartingInTheEndPadding) {
  // in 3, kernel 1, stride 2, end pad 1: ceil((3 + 1 - 1) / 2) + 1 = 3 windows, but the third
  // would start at 4, past the input and its start padding, so it is dropped.
  OpRun r = pool("MaxPool", f32({1, 1, 3}, {1, 2, 3}), {1});
  r.attrs.set("strides", attr_ints({2}));
  r.attrs.set("pads", attr_ints({0, 1}));
  r.attrs.set("ceil_mode", attr_int(1));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1, 3}));
}

TEST(AveragePool, CountIncludePad) {
  // 2x2 input [1 2; 3 4], 2x2 windows, pads 1, stride 1: a 3x3 output.
  OpRun r = pool("AveragePool", f32({1, 1, 2, 2}, {1, 2, 3, 4}), {2, 2});
  r.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  auto excl = run_op(r);
  ASSERT_TRUE(excl.ok()) << excl.status().to_string();
  EXPECT_EQ(values_f32((*excl)[0]), (std::vector<float>{1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}));
  r.attrs.set("count_include_pad", attr_int(1));
  auto incl = run_op(r);
  ASSERT_TRUE(incl.ok()) << incl.status().to_string();
  EXPECT_EQ(values_f32((*incl)[0]), (std::vector<float>{0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1}));
}

TEST(AveragePool, CeilWindowPastTheEndIsNotCounted) {
  // [1..5], kernel 2, stride 2, ceil: the last window holds only 5, with or without
  // count_include_pad (there is no padding to count).
  for (int cip = 0; cip < 2; ++cip) {
    OpRun r = pool("AveragePool", f32({1, 1, 5}, {1, 2, 3, 4, 5}), {2});
    r.attrs.set("strides", attr_ints({2}));
    r.attrs.set("ceil_mode", attr_int(1));
    r.attrs.set("count_include_pad", attr_int(cip));
    auto out = run_op(r);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{1.5f, 3.5f, 5})) << "count_include_pad " << cip;
  }
}

TEST(AveragePool, Dilation) {
  OpRun r = pool("AveragePool", f32({1, 1, 5}, {1, 2, 3, 4, 5}), {2});
  r.attrs.set("dilations", attr_ints({2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{2, 3, 4}));
}

TEST(Pool, AutoPadModes) {
  // [1 2 3 4], kernel 2: SAME pads one position at the end (UPPER) or the start (LOWER).
  struct Case {
    const char* op;
    const char* mode;
    int cip;
    std::vector<float> want;
  };
  const Case cases[] = {
      {"MaxPool", "SAME_UPPER", 0, {2, 3, 4, 4}},
      {"MaxPool", "SAME_LOWER", 0, {1, 2, 3, 4}},
      {"MaxPool", "VALID", 0, {2, 3, 4}},
      {"AveragePool", "SAME_UPPER", 0, {1.5f, 2.5f, 3.5f, 4}},
      {"AveragePool", "SAME_LOWER", 0, {1, 1.5f, 2.5f, 3.5f}},
      {"AveragePool", "SAME_UPPER", 1, {1.5f, 2.5f, 3.5f, 2}},
      {"AveragePool", "SAME_LOWER", 1, {0.5f, 1.5f, 2.5f, 3.5f}},
      {"AveragePool", "VALID", 0, {1.5f, 2.5f, 3.5f}},
      {"AveragePool", "NOTSET", 0, {1.5f, 2.5f, 3.5f}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.op) + " " + c.mode + " cip " + std::to_string(c.cip));
    OpRun r = pool(c.op, f32({1, 1, 4}, {1, 2, 3, 4}), {2});
    r.attrs.set("auto_pad", attr_string(c.mode));
    if (c.cip) r.attrs.set("count_include_pad", attr_int(1));
    auto out = run_op(r);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(values_f32((*out)[0]), c.want);
  }
}

TEST(Pool, Stride2PadsAgainstNaive) {
  // 2-D, stride 2, asymmetric pads, a dilation: both pools against a loop written here.
  Tensor x = f32_random({2, 3, 9, 8}, 17);
  const auto xv = values_f32(x);
  const int64_t H = 9, W = 8, KH = 3, KW = 2, SH = 2, SW = 3, DH = 1, DW = 2, PT = 1, PL = 2, PB = 0, PR = 1;
  const int64_t OH = (H + PT + PB - DH * (KH - 1) - 1) / SH + 1, OW = (W + PL + PR - DW * (KW - 1) - 1) / SW + 1;
  for (const char* op : {"MaxPool", "AveragePool"}) {
    for (int cip = 0; cip < 2; ++cip) {
      SCOPED_TRACE(std::string(op) + " cip " + std::to_string(cip));
      OpRun r = pool(op, x, {KH, KW});
      r.attrs.set("strides", attr_ints({SH, SW}));
      r.attrs.set("dilations", attr_ints({DH, DW}));
      r.attrs.set("pads", attr_ints({PT, PL, PB, PR}));
      if (cip) r.attrs.set("count_include_pad", attr_int(1));
      auto out = run_op(r);
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      ASSERT_EQ((*out)[0].shape(), (Shape{2, 3, OH, OW}));
      std::vector<float> want;
      for (int64_t p = 0; p < 6; ++p)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double sum = 0, best = -INFINITY;
            int64_t count = 0, padded_count = 0;
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t h = oh * SH - PT + kh * DH, w = ow * SW - PL + kw * DW;
                if (h >= -PT && h < H + PB && w >= -PL && w < W + PR) ++padded_count;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                const double v = xv[(p * H + h) * W + w];
                sum += v;
                best = std::max(best, v);
                ++count;
              }
            if (std::string(op) == "MaxPool") want.push_back(static_cast<float>(best));
            else want.push_back(static_cast<float>(sum / (cip ? padded_count : count)));
          }
      EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-6, 1e-6));
      if (std::string(op) == "MaxPool") break;  // count_include_pad is AveragePool's only
    }
  }
}

TEST(MaxPool, IndicesRowAndColumnMajor) {
  // Channel 0 = [1 5 6; 4 3 0], channel 1 its negation; 2x2 windows over the 2x3 plane.
  Tensor x = f32({1, 2, 2, 3}, {1, 5, 6, 4, 3, 0, -1, -5, -6, -4, -3, 0});
  OpRun r = pool("MaxPool", x, {2, 2});
  r.outputs = 2;
  auto rm = run_op(r);
  ASSERT_TRUE(rm.ok()) << rm.status().to_string();
  EXPECT_EQ(values_f32((*rm)[0]), (std::vector<float>{5, 6, -1, 0}));
  EXPECT_EQ((*rm)[1].dtype(), DType::kI64);
  // Flat indices over the whole [N, C, H, W] input: (0,1) -> 1, (0,2) -> 2; channel 1 adds 6.
  EXPECT_EQ(values_i64((*rm)[1]), (std::vector<int64_t>{1, 2, 6 + 0, 6 + 5}));
  r.attrs.set("storage_order", attr_int(1));  // column major: h + w * H
  auto cm = run_op(r);
  ASSERT_TRUE(cm.ok()) << cm.status().to_string();
  EXPECT_EQ(values_i64((*cm)[1]), (std::vector<int64_t>{2, 4, 6 + 0, 6 + 5}));
}

TEST(MaxPool, Uint8AndThreeD) {
  OpRun r = pool("MaxPool", u8({1, 1, 1, 4}, {3, 250, 7, 1}), {1, 2});
  r.attrs.set("strides", attr_ints({1, 2}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dtype(), DType::kU8);
  EXPECT_EQ(values_i64((*out)[0]), (std::vector<int64_t>{250, 7}));

  for (const char* op : {"MaxPool", "AveragePool"}) {
    auto three = run_op(pool(op, f32({1, 1, 2, 2, 2}, iota(8)), {2, 2, 2}));
    ASSERT_TRUE(three.ok()) << three.status().to_string();
    EXPECT_EQ((*three)[0].shape(), (Shape{1, 1, 1, 1, 1}));
    EXPECT_EQ(values_f32((*three)[0]), (std::vector<float>{std::string(op) == "MaxPool" ? 7.0f : 3.5f}));
  }
}

TEST(GlobalPool, AverageAndMax) {
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -8});
  auto avg = run_op(make_run("GlobalAveragePool", {{x}}));
  ASSERT_TRUE(avg.ok()) << avg.status().to_string();
  EXPECT_EQ((*avg)[0].shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values_f32((*avg)[0]), (std::vector<float>{2.5f, -3.5f}));
  auto mx = run_op(make_run("GlobalMaxPool", {{x}}));
  ASSERT_TRUE(mx.ok()) << mx.status().to_string();
  EXPECT_EQ(values_f32((*mx)[0]), (std::vector<float>{4, -1}));
  auto rank3 = run_op(make_run("GlobalAveragePool", {{f32({1, 1, 3}, {1, 2, 6})}}));
  ASSERT_TRUE(rank3.ok()) << rank3.status().to_string();
  EXPECT_EQ((*rank3)[0].shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(values_f32((*rank3)[0]), (std::vector<float>{3}));
}

TEST(Pool, EmptyInputs) {
  auto out = run_op(pool("MaxPool", f32({0, 3, 4, 4}, {}), {2, 2}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{0, 3, 3, 3}));
  auto empty_plane = run_op(make_run("GlobalMaxPool", {{f32({1, 2, 0}, {})}}));
  ASSERT_TRUE(empty_plane.ok()) << empty_plane.status().to_string();
  EXPECT_EQ((*empty_plane)[0].shape(), (Shape{1, 2, 1}));
}

TEST(Pool, Errors) {
  EXPECT_NE(message_of(make_run("MaxPool", {{f32({1, 1, 4, 4}, iota(16))}}))
                .find("MaxPool node 'node0': the kernel_shape attribute is required"),
            std::string::npos);
  {
    OpRun r = pool("MaxPool", f32({1, 1, 4, 4}, iota(16)), {2, 2});
    r.attrs.set("strides", attr_ints({2}));
    EXPECT_NE(message_of(r).find("strides has 1 values but 2 are expected"), std::string::npos) << message_of(r);
  }
  EXPECT_NE(message_of(pool("AveragePool", f32({1, 1, 4, 4}, iota(16)), {5, 1})).find("larger than the padded input"),
            std::string::npos);
  {
    OpRun r = pool("MaxPool", f32({1, 1, 4, 4}, iota(16)), {2, 2});
    r.attrs.set("ceil_mode", attr_int(2));
    EXPECT_NE(message_of(r).find("ceil_mode must be 0 or 1"), std::string::npos) << message_of(r);
    r.attrs.set("ceil_mode", attr_int(0));
    r.attrs.set("storage_order", attr_int(2));
    EXPECT_NE(message_of(r).find("storage_order must be 0 or 1"), std::string::npos) << message_of(r);
  }
  EXPECT_NE(message_of(pool("AveragePool", i64({1, 1, 2}, {1, 2}), {1})).find("does not support"), std::string::npos);
  EXPECT_NE(message_of(pool("MaxPool", i64({1, 1, 2}, {1, 2}), {1})).find("does not support"), std::string::npos);
  EXPECT_NE(message_of(pool("MaxPool", f32({1, 4}, {1, 2, 3, 4}), {1})).find("[N, C, spatial"), std::string::npos);
  {
    OpRun r = pool("AveragePool", f32({1, 1, 4, 4}, iota(16)), {2, 2});
    r.attrs.set("pads", attr_ints({int64_t{1} << 35, int64_t{1} << 35, int64_t{1} << 35, int64_t{1} << 35}));
    EXPECT_NE(message_of(r).find("too large to allocate"), std::string::npos) << message_of(r);
  }
}

TEST(Pool, WindowsEntirelyInThePadding) {
  // Pads larger than the kernel leave windows that see no input: MaxPool gives the lowest
  // value, AveragePool 0/0 without count_include_pad and 0 with it.
  OpRun m = pool("MaxPool", f32({1, 1, 1}, {5}), {1});
  m.attrs.set("pads", attr_ints({1, 0}));
  auto mx = run_op(m);
  ASSERT_TRUE(mx.ok()) << mx.status().to_string();
  EXPECT_EQ(values_f32((*mx)[0]), (std::vector<float>{std::numeric_limits<float>::lowest(), 5}));
  OpRun a = pool("AveragePool", f32({1, 1, 1}, {5}), {1});
  a.attrs.set("pads", attr_ints({1, 0}));
  auto avg = run_op(a);
  ASSERT_TRUE(avg.ok()) << avg.status().to_string();
  EXPECT_TRUE(std::isnan(values_f32((*avg)[0])[0]));
  EXPECT_EQ(values_f32((*avg)[0])[1], 5.0f);
  a.attrs.set("count_include_pad", attr_int(1));
  auto incl = run_op(a);
  ASSERT_TRUE(incl.ok());
  EXPECT_EQ(values_f32((*incl)[0]), (std::vector<float>{0, 5}));
}

}  // namespace
}  // namespace quench::testing
