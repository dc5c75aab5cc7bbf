// The INT8 reference ops (quench.Int8Conv, Int8Gemm, Int8MatMul, Int8Quantize,
// Int8Dequantize) through the real path (IR, schema binding in the "quench" domain, shape
// inference, CPU executor), against hand-computed cases, against the test's own integer
// loops with the quant_math epilogue (bit for bit), and against a float64 model of the
// definition (equal except within the proven bound of a rounding tie; exactly equal when
// every scale is a power of two, so that every multiplier is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "engine/cpu_executor.h"
#include "engine/shape_inference.h"
#include "kernels/quant/quant_math.h"
#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

struct QInput {
  Tensor value;           // undefined: omitted
  bool constant = false;  // an initializer, as the quantization pass makes weights, scales, bias
};

Result<Tensor> run_quant(const std::string& op, const std::vector<QInput>& inputs, const ops::Attributes& attrs) {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 17;
  g->opsets["quench"] = 1;
  ir::Node n;
  n.name = "q0";
  n.op_type = op;
  n.domain = "quench";
  n.attrs = attrs;
  TensorMap feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].value.defined()) {
      n.inputs.push_back("");
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    ir::Value& v = g->get_or_add(name);
    if (inputs[i].constant) {
      v.constant = inputs[i].value;
    } else {
      v.dtype = inputs[i].value.dtype();
      v.shape = inputs[i].value.shape();
      v.has_shape = true;
      g->inputs.push_back(name);
      feeds[name] = inputs[i].value;
    }
  }
  n.outputs.push_back("out");
  g->outputs.push_back("out");
  g->nodes.push_back(std::move(n));
  QUENCH_TRY(ir::validate(*g));
  QUENCH_TRY(ir::bind_schemas(*g));
  QUENCH_TRY(infer_shapes(*g, {}));
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(g));
  TensorMap outs;
  QUENCH_TRY(ex->run(feeds, outs));
  return outs["out"];
}

Tensor i8(Shape shape, std::vector<int8_t> v) { return Tensor::from_values(DType::kI8, std::move(shape), v); }

Tensor i8_random(Shape shape, uint32_t seed, int lo = -128, int hi = 127) {
  Tensor t = Tensor::zeros(DType::kI8, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<int8_t>()[i] = static_cast<int8_t>(d(rng));
  return t;
}

Tensor i32_random(Shape shape, uint32_t seed, int32_t lo, int32_t hi) {
  Tensor t = Tensor::zeros(DType::kI32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<int32_t>()[i] = d(rng);
  return t;
}

// Positive scales spread over two decades, one per channel.
Tensor scales_random(int64_t n, uint32_t seed, float lo, float hi) {
  Tensor t = Tensor::zeros(DType::kF32, {n});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(std::log(lo), std::log(hi));
  for (int64_t i = 0; i < n; ++i) t.mutable_data_as<float>()[i] = std::exp(d(rng));
  return t;
}

std::vector<int8_t> i8_values(const Tensor& t) {
  return std::vector<int8_t>(t.data_as<int8_t>(), t.data_as<int8_t>() + t.numel());
}
std::vector<float> f32_values(const Tensor& t) {
  return std::vector<float>(t.data_as<float>(), t.data_as<float>() + t.numel());
}

ops::Attributes scales(float x_scale, float y_scale) {
  ops::Attributes a;
  a.set("x_scale", attr_float(x_scale));
  if (y_scale > 0) a.set("y_scale", attr_float(y_scale));
  return a;
}

// ---- The test's own integer convolution (2-D, NCHW), written independently of ops/ --------

struct Geo {
  int64_t group = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
};

struct Dots {
  std::vector<int64_t> v;
  int64_t n = 0, m = 0, oh = 0, ow = 0;
  int64_t channel(int64_t i) const { return (i / (oh * ow)) % m; }
};

Dots naive_conv(const Tensor& x, const Tensor& w, const Geo& g) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], M = ws[0], Cg = ws[1], KH = ws[2], KW = ws[3];
  Dots d;
  d.n = N;
  d.m = M;
  d.oh = (H + g.pt + g.pb - g.dh * (KH - 1) - 1) / g.sh + 1;
  d.ow = (W + g.pl + g.pr - g.dw * (KW - 1) - 1) / g.sw + 1;
  d.v.assign(static_cast<size_t>(N * M * d.oh * d.ow), 0);
  const int8_t* xp = x.data_as<int8_t>();
  const int8_t* wp = w.data_as<int8_t>();
  const int64_t Mg = M / g.group;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oy = 0; oy < d.oh; ++oy)
        for (int64_t ox = 0; ox < d.ow; ++ox) {
          int64_t s = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                const int64_t iy = oy * g.sh - g.pt + ky * g.dh, ix = ox * g.sw - g.pl + kx * g.dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const int64_t ci = (m / Mg) * Cg + c;
                s += int64_t{xp[((n * C + ci) * H + iy) * W + ix]} * wp[((m * Cg + c) * KH + ky) * KW + kx];
              }
          d.v[static_cast<size_t>(((n * M + m) * d.oh + oy) * d.ow + ox)] = s;
        }
  return d;
}

ops::Attributes conv_attrs(const Geo& g, float x_scale, float y_scale) {
  ops::Attributes a = scales(x_scale, y_scale);
  a.set("group", attr_int(g.group));
  a.set("strides", attr_ints({g.sh, g.sw}));
  a.set("dilations", attr_ints({g.dh, g.dw}));
  a.set("pads", attr_ints({g.pt, g.pl, g.pb, g.pr}));
  return a;
}

// The expected INT8 output, from the test's own dot products and quant_math's epilogue.
struct Epi {
  float x_scale = 0, y_scale = 0, r_scale = 0;
  const float* w_scale = nullptr;
  const int32_t* bias = nullptr;
  const int8_t* residual = nullptr;
  float clamp_a = -INFINITY, clamp_b = INFINITY;
};

std::vector<int8_t> expected_int8(const std::vector<int64_t>& dots, const std::function<int64_t(int64_t)>& channel,
                                  const Epi& e) {
  std::vector<int8_t> y(dots.size());
  for (size_t i = 0; i < dots.size(); ++i) {
    const int64_t c = channel(static_cast<int64_t>(i));
    quant::Multiplier m, k;
    EXPECT_TRUE(quant::multiplier_from_real(quant::requant_real(e.x_scale, e.w_scale[c], e.y_scale), &m));
    if (e.residual) {
      EXPECT_TRUE(quant::multiplier_from_real(quant::residual_real(e.r_scale, e.x_scale, e.w_scale[c]), &k));
    }
    int32_t lo = 0, hi = 0;
    quant::clamp_bounds(e.clamp_a, e.clamp_b, e.y_scale, &lo, &hi);
    const int32_t total = quant::epilogue_accumulator(static_cast<int32_t>(dots[i]), e.bias ? e.bias[c] : 0,
                                                      e.residual ? e.residual[i] : 0, e.residual != nullptr, k);
    y[i] = quant::requantize_int8(total, m, lo, hi);
  }
  return y;
}

// The float64 model: real multipliers, rounding by nearbyint (ties to even).
struct ModelResult {
  double value;  // before rounding and clamping
  int32_t y;
};
ModelResult model_int8(int64_t dot, int64_t c, int64_t i, const Epi& e) {
  double acc = static_cast<double>(dot) + (e.bias ? e.bias[c] : 0);
  if (e.residual) {
    const double k = static_cast<double>(e.r_scale) / (static_cast<double>(e.x_scale) * e.w_scale[c]);
    acc += std::nearbyint(e.residual[i] * k);
  }
  const double v = acc * (static_cast<double>(e.x_scale) * e.w_scale[c] / e.y_scale);
  const double lo = std::max(-128.0, std::nearbyint(static_cast<double>(e.clamp_a / e.y_scale)));
  const double hi = std::min(127.0, std::nearbyint(static_cast<double>(e.clamp_b / e.y_scale)));
  return {v, static_cast<int32_t>(std::min(std::max(std::nearbyint(v), lo), hi))};
}

// Every element equals the float64 model, or lies within the representation bound of a tie
// (|v| * (2^-31 + 2^-52)) and differs by one. Without a residual only (its own rounding would
// add a second, separately bounded, tie).
::testing::AssertionResult matches_model(const std::vector<int8_t>& got, const std::vector<int64_t>& dots,
                                         const std::function<int64_t(int64_t)>& channel, const Epi& e,
                                         int64_t* near_ties) {
  for (size_t i = 0; i < got.size(); ++i) {
    const ModelResult r = model_int8(dots[i], channel(static_cast<int64_t>(i)), static_cast<int64_t>(i), e);
    if (got[i] == r.y) continue;
    const double to_tie = std::fabs(std::fabs(r.value - std::floor(r.value)) - 0.5);
    if (e.residual || to_tie > std::fabs(r.value) * (0x1p-31 + 0x1p-52) || std::abs(got[i] - r.y) != 1)
      return ::testing::AssertionFailure() << "element " << i << ": got " << int{got[i]} << ", float64 model "
                                           << r.y << " (value " << r.value << ")";
    ++*near_ties;
  }
  return ::testing::AssertionSuccess();
}

// ---- Hand-computed -------------------------------------------------------------------------

TEST(QuantOps, Int8ConvHandComputed) {
  // x = 1..9 (3x3) at 0.5, w = [1 2; 3 4] at 0.25, bias 3 (0.375 real), y at 1.0: M = 1/8.
  // dots 37 47 67 77, + 3 = 40 50 70 80, * 1/8 = 5 6.25 8.75 10 -> 5 6 9 10.
  const Tensor x = i8({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = i8({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor ws = f32({1}, {0.25f});
  const Tensor b = i32({1}, {3});
  auto y = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}}, scales(0.5f, 1.0f));
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->dtype(), DType::kI8);
  EXPECT_EQ(y->shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(i8_values(*y), (std::vector<int8_t>{5, 6, 9, 10}));
  // Float output: float(acc) * 0.125.
  ops::Attributes fa = scales(0.5f, 0);
  fa.set("output_type", attr_int(1));
  auto yf = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}}, fa);
  ASSERT_TRUE(yf.ok()) << yf.status().to_string();
  EXPECT_EQ(f32_values(*yf), (std::vector<float>{5.0f, 6.25f, 8.75f, 10.0f}));
  // Clip(0, 4) at y_scale 1 is the integer clamp [0, 4]; w = [-1 -2; 3 4] gives dots
  // 27 31 39 43 (no bias).
  const Tensor wn = i8({1, 1, 2, 2}, {-1, -2, 3, 4});
  ops::Attributes ra = scales(0.5f, 1.0f);
  ra.set("activation", attr_string("Clip"));
  ra.set("activation_alpha", attr_float(0.0f));
  ra.set("activation_beta", attr_float(4.0f));
  auto yr = run_quant("Int8Conv", {{x}, {wn, true}, {ws, true}, {}}, ra);
  ASSERT_TRUE(yr.ok()) << yr.status().to_string();
  // 27/8 = 3.375 -> 3, 31/8 = 3.875 -> 4, 39/8 = 4.875 -> 5 -> 4, 43/8 -> 5 -> 4.
  EXPECT_EQ(i8_values(*yr), (std::vector<int8_t>{3, 4, 4, 4}));
}

TEST(QuantOps, Int8GemmHandComputed) {
  // X [1,2] = [10, -20] at 0.1; W [2,2] = [[1, 2], [3, -4]] with column scales 0.5, 0.25;
  // dots: 10 - 60 = -50, 20 + 80 = 100; bias [7, -1]: -43, 99.
  // y_scale 2: M = 0.1*0.5/2 = 0.025, 0.1*0.25/2 = 0.0125: -1.075 -> -1, 1.2375 -> 1.
  const Tensor x = i8({1, 2}, {10, -20});
  const Tensor w = i8({2, 2}, {1, 2, 3, -4});
  const Tensor ws = f32({2}, {0.5f, 0.25f});
  const Tensor b = i32({2}, {7, -1});
  auto y = run_quant("Int8Gemm", {{x}, {w, true}, {ws, true}, {b, true}}, scales(0.1f, 2.0f));
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(i8_values(*y), (std::vector<int8_t>{-1, 1}));
  // The same product with W stored transposed ([N, K], transB = 1).
  const Tensor wt = i8({2, 2}, {1, 3, 2, -4});
  ops::Attributes ta = scales(0.1f, 2.0f);
  ta.set("transB", attr_int(1));
  auto yt = run_quant("Int8Gemm", {{x}, {wt, true}, {ws, true}, {b, true}}, ta);
  ASSERT_TRUE(yt.ok()) << yt.status().to_string();
  EXPECT_EQ(i8_values(*yt), (std::vector<int8_t>{-1, 1}));
  // Float output with a float residual added after ReLU: relu(-43 * 0.05) + 1 = 1,
  // relu(99 * 0.025) + 0.5 = 2.975.
  ops::Attributes fa = scales(0.1f, 0);
  fa.set("output_type", attr_int(1));
  fa.set("activation", attr_string("Relu"));
  fa.set("residual_after_activation", attr_int(1));
  auto yf = run_quant("Int8Gemm", {{x}, {w, true}, {ws, true}, {b, true}, {f32({1, 2}, {1.0f, 0.5f})}}, fa);
  ASSERT_TRUE(yf.ok()) << yf.status().to_string();
  const float d1 = static_cast<float>(static_cast<double>(0.1f) * 0.25);
  EXPECT_EQ(f32_values(*yf), (std::vector<float>{1.0f, 99.0f * d1 + 0.5f}));
}

TEST(QuantOps, QuantizeDequantizeHandComputed) {
  ops::Attributes a;
  a.set("scale", attr_float(0.5f));
  // x / 0.5 = 0.5, 1.5, 2.5, -1.25, -0.25, 200, -200, 127.5 -> ties to even, clamped.
  auto q = run_quant("Int8Quantize", {{f32({8}, {0.25f, 0.75f, 1.25f, -0.625f, -0.125f, 100.0f, -100.0f, 63.75f})}}, a);
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  EXPECT_EQ(q->dtype(), DType::kI8);
  EXPECT_EQ(i8_values(*q), (std::vector<int8_t>{0, 2, 2, -1, 0, 127, -128, 127}));
  auto d = run_quant("Int8Dequantize", {{i8({4}, {-128, -1, 0, 127})}}, a);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->dtype(), DType::kF32);
  EXPECT_EQ(f32_values(*d), (std::vector<float>{-64.0f, -0.5f, 0.0f, 63.5f}));
  // Round trip of every INT8 value at an awkward scale.
  std::vector<int8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<int8_t>(i - 128);
  ops::Attributes b;
  b.set("scale", attr_float(0.0371f));
  auto back = run_quant("Int8Dequantize", {{i8({256}, all)}}, b);
  ASSERT_TRUE(back.ok());
  auto again = run_quant("Int8Quantize", {{*back}}, b);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(i8_values(*again), all);
}

// ---- Against the test's own loops and the float64 model ------------------------------------

struct ConvCase {
  Shape x, w;
  Geo g;
  const char* act;  // "", "Relu" or "Clip" (0..6)
};

TEST(QuantOps, Int8ConvMatchesReferenceAndFloat64Model) {
  const ConvCase cases[] = {
      {{1, 3, 7, 6}, {4, 3, 3, 3}, {}, ""},
      {{2, 4, 9, 8}, {6, 2, 3, 3}, {.group = 2, .sh = 2, .sw = 2, .pt = 1, .pl = 1, .pb = 1, .pr = 1}, "Relu"},
      {{1, 8, 10, 9}, {8, 1, 3, 3}, {.group = 8, .pt = 1, .pl = 1, .pb = 1, .pr = 1}, "Clip"},  // depthwise
      {{1, 6, 11, 11}, {6, 1, 5, 5}, {.group = 6, .sh = 2, .sw = 2, .pt = 2, .pl = 2, .pb = 2, .pr = 2}, "Clip"},
      {{1, 5, 12, 10}, {3, 5, 3, 2}, {.dh = 2, .dw = 3, .pt = 0, .pl = 2, .pb = 3, .pr = 1}, "Relu"},
      {{2, 16, 5, 7}, {24, 16, 1, 1}, {}, ""},  // pointwise
      {{1, 4, 1, 300}, {5, 4, 1, 3}, {.sw = 1, .pl = 1, .pr = 1}, ""},  // beyond one accumulator tile
  };
  int64_t near_ties = 0, elements = 0;
  uint32_t seed = 100;
  for (const ConvCase& cc : cases) {
    SCOPED_TRACE("x " + shape_str(cc.x) + " w " + shape_str(cc.w));
    const Tensor x = i8_random(cc.x, ++seed), w = i8_random(cc.w, ++seed, -127, 127);
    const int64_t m = cc.w[0];
    const Tensor ws = scales_random(m, ++seed, 0.001f, 0.05f), b = i32_random({m}, ++seed, -20000, 20000);
    const float x_scale = 0.037f, y_scale = 0.61f;
    ops::Attributes a = conv_attrs(cc.g, x_scale, y_scale);
    Epi e{x_scale, y_scale, 0, ws.data_as<float>(), b.data_as<int32_t>(), nullptr};
    if (std::string(cc.act) == "Relu") {
      a.set("activation", attr_string("Relu"));
      e.clamp_a = 0;
    } else if (std::string(cc.act) == "Clip") {
      a.set("activation", attr_string("Clip"));
      a.set("activation_alpha", attr_float(0.0f));
      a.set("activation_beta", attr_float(6.0f));
      e.clamp_a = 0;
      e.clamp_b = 6;
    }
    auto y = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}}, a);
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    const Dots d = naive_conv(x, w, cc.g);
    ASSERT_EQ(y->shape(), (Shape{d.n, d.m, d.oh, d.ow}));
    auto channel = [&](int64_t i) { return d.channel(i); };
    const std::vector<int8_t> got = i8_values(*y);
    EXPECT_EQ(got, expected_int8(d.v, channel, e));
    EXPECT_TRUE(matches_model(got, d.v, channel, e, &near_ties));
    // Not a degenerate output: many distinct values.
    std::vector<bool> seen(256);
    int distinct = 0;
    for (int8_t v : got) distinct += !seen[v + 128] ? (seen[v + 128] = true, 1) : 0;
    EXPECT_GT(distinct, 10);
    elements += static_cast<int64_t>(got.size());
  }
  EXPECT_LE(near_ties, 1) << "of " << elements;
}

// Power-of-two scales make M and K exact: the float64 model, residual included, must then
// match bit for bit, ties and all. Small operands and M, K in {1/2, 1/4, 1/8} make ties
// common, in the requantization and in the residual's rescaling alike.
TEST(QuantOps, Int8ConvWithResidualIsExactAtPowerOfTwoScales) {
  const Tensor x = i8_random({2, 6, 8, 8}, 1, -6, 6), w = i8_random({6, 3, 3, 3}, 2, -6, 6);
  const Tensor ws = f32({6}, {0x1p-1f, 0x1p-2f, 0x1p-1f, 0x1p-3f, 0x1p-2f, 0x1p-1f});
  const Tensor b = i32_random({6}, 3, -50, 50);
  const Geo g{.group = 2, .pt = 1, .pl = 1, .pb = 1, .pr = 1};
  const Dots d = naive_conv(x, w, g);
  const Tensor r = i8_random({d.n, d.m, d.oh, d.ow}, 4);
  // M = w_scale; K = 2^-6 / (2^-4 w_scale) = 2^-2 / w_scale in {1/2, 1, 2}... and r/4 in output units.
  const float x_scale = 0x1p-4f, y_scale = 0x1p-4f, r_scale = 0x1p-6f;
  ops::Attributes a = conv_attrs(g, x_scale, y_scale);
  a.set("r_scale", attr_float(r_scale));
  a.set("activation", attr_string("Relu"));
  auto y = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}, {r}}, a);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  Epi e{x_scale, y_scale, r_scale, ws.data_as<float>(), b.data_as<int32_t>(), r.data_as<int8_t>(), 0.0f};
  auto channel = [&](int64_t i) { return d.channel(i); };
  const std::vector<int8_t> got = i8_values(*y);
  EXPECT_EQ(got, expected_int8(d.v, channel, e));
  int ties = 0, positive = 0, saturated = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const ModelResult m = model_int8(d.v[i], d.channel(static_cast<int64_t>(i)), static_cast<int64_t>(i), e);
    ASSERT_EQ(int{got[i]}, m.y) << "element " << i;
    ties += m.value > 0 && m.value - std::floor(m.value) == 0.5;
    positive += got[i] > 0;
    saturated += got[i] == 127;
  }
  EXPECT_GT(ties, 50);  // the tie rule was exercised where it shows
  EXPECT_GT(positive, static_cast<int>(got.size()) / 4);
  EXPECT_LT(saturated, static_cast<int>(got.size()) / 10);
}

// Float output and non-clamping activations, bit for bit against the definition computed
// here step by step in float32 / double.
TEST(QuantOps, Int8ConvFloatOutputAndFloatActivations) {
  const Tensor x = i8_random({1, 4, 6, 6}, 11), w = i8_random({5, 4, 3, 3}, 12, -127, 127);
  const Tensor ws = scales_random(5, 13, 0.002f, 0.02f), b = i32_random({5}, 14, -5000, 5000);
  const Geo g{.pt = 1, .pl = 1, .pb = 1, .pr = 1};
  const Dots d = naive_conv(x, w, g);
  const Tensor r = f32_random({d.n, d.m, d.oh, d.ow}, 15);
  const float x_scale = 0.021f, y_scale = 0.07f;
  auto dq = [&](size_t i) {
    const int64_t c = d.channel(static_cast<int64_t>(i));
    const float unit = static_cast<float>(static_cast<double>(x_scale) * ws.data_as<float>()[c]);
    return static_cast<float>(static_cast<int32_t>(d.v[i] + b.data_as<int32_t>()[c])) * unit;
  };
  // Float output, LeakyRelu(0.1) after a float residual.
  ops::Attributes fa = conv_attrs(g, x_scale, 0);
  fa.set("output_type", attr_int(1));
  fa.set("activation", attr_string("LeakyRelu"));
  fa.set("activation_alpha", attr_float(0.1f));
  auto yf = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}, {r}}, fa);
  ASSERT_TRUE(yf.ok()) << yf.status().to_string();
  const std::vector<float> gotf = f32_values(*yf);
  int negative = 0;
  for (size_t i = 0; i < gotf.size(); ++i) {
    const float v = dq(i) + r.data_as<float>()[i];
    const double a = v >= 0 ? v : static_cast<double>(0.1f) * v;
    ASSERT_EQ(gotf[i], static_cast<float>(a)) << i;
    negative += v < 0;
  }
  EXPECT_GT(negative, 0);
  // INT8 output through a float activation (HardSwish): dequantize, activate, quantize.
  ops::Attributes ha = conv_attrs(g, x_scale, y_scale);
  ha.set("activation", attr_string("HardSwish"));
  auto yh = run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {b, true}}, ha);
  ASSERT_TRUE(yh.ok()) << yh.status().to_string();
  const std::vector<int8_t> goth = i8_values(*yh);
  int distinct_negative = 0;
  for (size_t i = 0; i < goth.size(); ++i) {
    const double v = dq(i);
    const double hs = v * std::max(0.0, std::min(1.0, v / 6.0 + 0.5));
    ASSERT_EQ(goth[i], quant::quantize(static_cast<float>(hs), y_scale)) << i;
    distinct_negative += goth[i] < 0;
  }
  EXPECT_GT(distinct_negative, 0);  // HardSwish's negative lobe survived: not a clamp
}

TEST(QuantOps, Int8GemmAndMatMulMatchReference) {
  struct Case {
    const char* op;
    Shape x;
    int64_t n;
    bool trans_b;
  };
  const Case cases[] = {{"Int8Gemm", {7, 33}, 19, false},
                        {"Int8Gemm", {5, 300}, 260, true},
                        {"Int8MatMul", {2, 3, 40}, 17, false},
                        {"Int8MatMul", {40}, 9, false}};
  uint32_t seed = 500;
  int64_t near_ties = 0;
  for (const Case& cs : cases) {
    SCOPED_TRACE(std::string(cs.op) + " x " + shape_str(cs.x));
    const int64_t k = cs.x.back(), rows = shape_numel(cs.x) / k;
    const Tensor x = i8_random(cs.x, ++seed);
    const Tensor w = i8_random(cs.trans_b ? Shape{cs.n, k} : Shape{k, cs.n}, ++seed, -127, 127);
    const Tensor ws = scales_random(cs.n, ++seed, 0.001f, 0.03f), b = i32_random({cs.n}, ++seed, -9000, 9000);
    Shape out_shape = cs.x;
    out_shape.back() = cs.n;
    const Tensor r = i8_random(out_shape, ++seed);
    const float x_scale = 0.05f, y_scale = 0.4f, r_scale = 0.3f;
    ops::Attributes a = scales(x_scale, y_scale);
    a.set("r_scale", attr_float(r_scale));
    a.set("activation", attr_string("Clip"));
    a.set("activation_alpha", attr_float(-2.0f));
    a.set("activation_beta", attr_float(6.0f));
    if (cs.trans_b) a.set("transB", attr_int(1));
    auto y = run_quant(cs.op, {{x}, {w, true}, {ws, true}, {b, true}, {r}}, a);
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    ASSERT_EQ(y->shape(), out_shape);
    std::vector<int64_t> dots(static_cast<size_t>(rows * cs.n));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cs.n; ++j) {
        int64_t s = 0;
        for (int64_t kk = 0; kk < k; ++kk)
          s += int64_t{x.data_as<int8_t>()[i * k + kk]} *
               w.data_as<int8_t>()[cs.trans_b ? j * k + kk : kk * cs.n + j];
        dots[static_cast<size_t>(i * cs.n + j)] = s;
      }
    Epi e{x_scale, y_scale, r_scale, ws.data_as<float>(), b.data_as<int32_t>(), r.data_as<int8_t>(), -2.0f, 6.0f};
    auto channel = [&](int64_t i) { return i % cs.n; };
    const std::vector<int8_t> got = i8_values(*y);
    EXPECT_EQ(got, expected_int8(dots, channel, e));
    // Without the residual, against the float64 model.
    ops::Attributes na = a;
    auto yn = run_quant(cs.op, {{x}, {w, true}, {ws, true}, {b, true}}, na);
    ASSERT_TRUE(yn.ok()) << yn.status().to_string();
    Epi en = e;
    en.residual = nullptr;
    EXPECT_TRUE(matches_model(i8_values(*yn), dots, channel, en, &near_ties));
  }
  EXPECT_LE(near_ties, 1);
}

// ---- Errors name the node -------------------------------------------------------------------

void expect_error(const Result<Tensor>& r, StatusCode code, const std::string& op) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(op + " node 'q0'"), std::string::npos) << r.status().message();
}

TEST(QuantOps, ErrorsNameTheNode) {
  const Tensor x = i8_random({1, 2, 4, 4}, 1), w = i8_random({3, 2, 3, 3}, 2);
  const Tensor ws = f32({3}, {0.1f, 0.2f, 0.3f});
  const ops::Attributes ok = scales(0.1f, 0.2f);
  ASSERT_TRUE(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}}, ok).ok());
  // Float input.
  expect_error(run_quant("Int8Conv", {{f32_random({1, 2, 4, 4}, 3)}, {w, true}, {ws, true}}, ok),
               StatusCode::kInvalidArgument, "Int8Conv");
  // Scales: wrong count, non-positive weight scale, missing / zero activation scales.
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {f32({2}, {0.1f, 0.2f}), true}}, ok), StatusCode::kShapeError,
               "Int8Conv");
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {f32({3}, {0.1f, 0.0f, 0.3f}), true}}, ok),
               StatusCode::kInvalidArgument, "Int8Conv");
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {f32({3}, {0.1f, -1.0f, 0.3f})}}, ok),
               StatusCode::kInvalidArgument, "Int8Conv");  // found at run time
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}}, scales(0.1f, 0)), StatusCode::kInvalidArgument,
               "Int8Conv");
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}}, scales(0.0f, 0.2f)), StatusCode::kInvalidArgument,
               "Int8Conv");
  // Bias of the wrong type; residual of the wrong type; residual without r_scale.
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {f32({3}, {1, 2, 3}), true}}, ok),
               StatusCode::kInvalidArgument, "Int8Conv");
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {}, {f32_random({1, 3, 2, 2}, 4)}}, ok),
               StatusCode::kShapeError, "Int8Conv");
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {}, {i8_random({1, 3, 2, 2}, 4)}}, ok),
               StatusCode::kInvalidArgument, "Int8Conv");
  // Unsupported: an output type, an INT8 residual after an activation, a reduction that could
  // overflow INT32, transA.
  ops::Attributes bad_type = ok;
  bad_type.set("output_type", attr_int(10));
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}}, bad_type), StatusCode::kUnsupported, "Int8Conv");
  ops::Attributes after = ok;
  after.set("r_scale", attr_float(0.1f));
  after.set("activation", attr_string("Relu"));
  after.set("residual_after_activation", attr_int(1));
  expect_error(run_quant("Int8Conv", {{x}, {w, true}, {ws, true}, {}, {i8_random({1, 3, 2, 2}, 4)}}, after),
               StatusCode::kUnsupported, "Int8Conv");
  const int64_t k = quant::kMaxReduction + 1;
  expect_error(run_quant("Int8Gemm", {{i8_random({1, k}, 5)}, {i8_random({k, 1}, 6), true}, {f32({1}, {1}), true}},
                         ok),
               StatusCode::kUnsupported, "Int8Gemm");
  ops::Attributes ta = ok;
  ta.set("transA", attr_int(1));
  expect_error(run_quant("Int8Gemm", {{i8_random({2, 2}, 5)}, {i8_random({2, 2}, 6), true}, {f32({2}, {1, 1}), true}},
                         ta),
               StatusCode::kUnsupported, "Int8Gemm");
  expect_error(run_quant("Int8MatMul", {{i8_random({2, 3}, 5)}, {i8_random({2, 2}, 6), true}, {f32({2}, {1, 1}), true}},
                         ok),
               StatusCode::kShapeError, "Int8MatMul");
  ops::Attributes no_scale;
  expect_error(run_quant("Int8Quantize", {{f32({1}, {1})}}, no_scale), StatusCode::kInvalidArgument, "Int8Quantize");
  ops::Attributes s;
  s.set("scale", attr_float(1.0f));
  expect_error(run_quant("Int8Dequantize", {{f32({1}, {1})}}, s), StatusCode::kInvalidArgument, "Int8Dequantize");
}

}  // namespace
}  // namespace quench::testing
