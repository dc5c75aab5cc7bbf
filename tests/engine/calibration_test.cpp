// Calibration end to end: the table's text export/import, the activation collector over a
// real CPU run (every tensor captured, none overwritten), the .npy input folder, and the
// per-channel weight scales.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "engine/calibration/calibration_inputs.h"
#include "engine/calibration/calibration_table.h"
#include "engine/calibration/calibrator.h"
#include "engine/calibration/weight_scales.h"
#include "engine/shape_inference.h"
#include "kernels/quant/quant_math.h"
#include "tests/ops/op_test_util.h"

namespace quench::calib {
namespace {

using testing::f32;
using testing::node;

// ---- Table export / import -------------------------------------------------------------------

CalibrationTable sample_table() {
  CalibrationTable t;
  t.method = CalibrationMethod::kPercentile;
  t.percentile = 99.999;
  t.samples = 256;
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> log_amax(-20, 20);
  const char* names[] = {"conv1/out", "x:0", "name with  two spaces", "#not a comment", "ünïcode", "a"};
  for (const char* n : names) {
    CalibrationEntry e;
    e.amax = std::exp2(log_amax(rng));
    e.scale = scale_from_threshold(e.amax);
    t.tensors[n] = e;
  }
  t.tensors["zero"] = CalibrationEntry{0.0, 1.0f};
  return t;
}

TEST(CalibrationTable, TextRoundTripIsExact) {
  const CalibrationTable t = sample_table();
  auto text = calibration_table_to_text(t);
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  auto back = calibration_table_from_text(*text);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == t);
  ASSERT_NE(back->find("name with  two spaces"), nullptr);
  EXPECT_EQ(back->find("name with  two spaces")->amax, t.tensors.at("name with  two spaces").amax);
  EXPECT_EQ(back->find("missing"), nullptr);
  // Comments, blank lines and CRLF line ends are accepted.
  auto crlf = calibration_table_from_text("# made by hand\r\nquench-calibration 1\r\n\r\nmethod max\r\ntensor 2.5 0.5 t\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().to_string();
  EXPECT_EQ(crlf->method, CalibrationMethod::kMax);
  EXPECT_EQ(crlf->tensors.at("t").scale, 0.5f);
}

TEST(CalibrationTable, FileRoundTrip) {
  const std::string path = ::testing::TempDir() + "/quench_calibration_table.txt";
  const CalibrationTable t = sample_table();
  ASSERT_TRUE(save_calibration_table(path, t).ok());
  auto back = load_calibration_table(path);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == t);
  std::filesystem::remove(path);
  auto missing = load_calibration_table(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
}

TEST(CalibrationTable, CorruptTextIsAnErrorWithItsLine) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "empty"},
      {"quench-calibration 2\n", ":1:"},
      {"quench-calibration 1\nmethod kl\n", ":2:"},
      {"quench-calibration 1\npercentile 0\n", ":2:"},
      {"quench-calibration 1\npercentile 101\n", ":2:"},
      {"quench-calibration 1\nsamples -1\n", ":2:"},
      {"quench-calibration 1\ntensor 1 0 t\n", ":2:"},
      {"quench-calibration 1\ntensor 1 -0.5 t\n", ":2:"},
      {"quench-calibration 1\ntensor -1 0.5 t\n", ":2:"},
      {"quench-calibration 1\ntensor inf 0.5 t\n", ":2:"},
      {"quench-calibration 1\ntensor 1 nan t\n", ":2:"},
      {"quench-calibration 1\ntensor 1 0.5x t\n", ":2:"},
      {"quench-calibration 1\ntensor 1 0.5\n", ":2:"},
      {"quench-calibration 1\n\ntensor 1 0.5 t\ntensor 2 0.5 t\n", ":4:"},
      {"quench-calibration 1\nthreshold 3\n", ":2:"},
  };
  for (const auto& [text, where] : bad) {
    auto r = calibration_table_from_text(text, "calib.txt");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kParseError) << text;
    EXPECT_NE(r.status().message().find(where), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("calib.txt"), std::string::npos) << r.status().message();
  }
  // Every truncation of a valid table parses or fails cleanly.
  const std::string good = *calibration_table_to_text(sample_table());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = calibration_table_from_text(std::string_view(good).substr(0, n));
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kParseError);
    }
  }
  // Names that cannot be written.
  CalibrationTable t;
  t.tensors["two\nlines"] = CalibrationEntry{1, 1};
  EXPECT_EQ(calibration_table_to_text(t).status().code(), StatusCode::kInvalidArgument);
  CalibrationTable z;
  z.tensors["t"] = CalibrationEntry{1, 0.0f};
  EXPECT_EQ(calibration_table_to_text(z).status().code(), StatusCode::kInvalidArgument);
}

// ---- The collector over a CPU run ------------------------------------------------------------

ir::Node attr_node(ir::Node n, const std::string& key, ops::Attribute a) {
  n.attrs.set(key, std::move(a));
  return n;
}

// x [1,4,8] -> Mul 2 -> a -> Mul 2 -> b -> Relu -> r -> Mul 2 -> c ;
// Concat(a, c) -> d -> Tanh -> y. With arena reuse, a/b/r/c would share bytes; with in-place
// steps Relu would write over b; with Concat elision a and c would live inside d.
std::shared_ptr<ir::Graph> chain_graph() {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 17;
  g->inputs = {"x"};
  auto& x = g->get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {1, 4, 8};
  x.has_shape = true;
  g->get_or_add("two").constant = f32({1}, {2.0f});
  g->nodes.push_back(node("m1", "Mul", {"x", "two"}, {"a"}));
  g->nodes.push_back(node("m2", "Mul", {"a", "two"}, {"b"}));
  g->nodes.push_back(node("relu", "Relu", {"b"}, {"r"}));
  g->nodes.push_back(node("m3", "Mul", {"r", "two"}, {"c"}));
  g->nodes.push_back(attr_node(node("cat", "Concat", {"a", "c"}, {"d"}), "axis", testing::attr_int(1)));
  g->nodes.push_back(node("tanh", "Tanh", {"d"}, {"y"}));
  g->outputs = {"y"};
  EXPECT_TRUE(ir::validate(*g).ok());
  EXPECT_TRUE(ir::bind_schemas(*g).ok());
  EXPECT_TRUE(infer_shapes(*g, {}).ok());
  return g;
}

std::vector<float> scaled(const std::vector<float>& v, float k, bool relu = false) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = relu ? std::max(0.0f, v[i] * k) : v[i] * k;
  return r;
}

TEST(CalibrationCollector, EveryActivationKeepsItsOwnValues) {
  auto g = chain_graph();
  auto c = ActivationCollector::create(g, 512);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ActivationCollector& col = **c;
  // Every float activation, the graph input and output included; no constant.
  std::vector<std::string> names;
  for (const auto& [name, h] : col.histograms()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "r", "x", "y"}));

  // The test's own expectation: each tensor's values computed here, fed to a histogram.
  std::map<std::string, AbsHistogram> want;
  for (const std::string& n : names) want.emplace(n, AbsHistogram(512));
  for (uint32_t s = 0; s < 3; ++s) {
    const Tensor xt = testing::f32_random({1, 4, 8}, 40 + s);
    const std::vector<float> x = testing::values_f32(xt);
    ASSERT_TRUE(col.add({{"x", xt}}).ok());
    const std::vector<float> a = scaled(x, 2), b = scaled(x, 4), r = scaled(x, 4, true), cc = scaled(x, 8, true);
    std::vector<float> d = a, y;
    d.insert(d.end(), cc.begin(), cc.end());
    for (float v : d) y.push_back(static_cast<float>(std::tanh(static_cast<double>(v))));
    for (auto& [n, vals] : std::map<std::string, std::vector<float>>{
             {"x", x}, {"a", a}, {"b", b}, {"r", r}, {"c", cc}, {"d", d}, {"y", y}})
      want.at(n).add(vals);
  }
  EXPECT_EQ(col.samples(), 3);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    const AbsHistogram& got = col.histograms().at(n);
    EXPECT_EQ(got.counts(), want.at(n).counts());
    EXPECT_EQ(got.max_abs(), want.at(n).max_abs());
    EXPECT_EQ(got.zeros(), want.at(n).zeros());
    EXPECT_GT(got.nonzero(), 0);
  }
  EXPECT_GT(col.histograms().at("r").zeros(), 0);  // Relu's zeros are counted apart
  // The table: one entry per tensor, scale = amax / 127.
  const CalibrationTable t = col.table(CalibrationMethod::kMax);
  EXPECT_EQ(t.samples, 3);
  ASSERT_EQ(t.tensors.size(), names.size());
  EXPECT_EQ(t.tensors.at("c").amax, want.at("c").max_abs());
  EXPECT_EQ(t.tensors.at("c").scale, static_cast<float>(want.at("c").max_abs() / 127.0));
}

TEST(CalibrationCollector, BadInputIsAnError) {
  auto c = ActivationCollector::create(chain_graph(), 512);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->add({}).ok());
  EXPECT_FALSE((*c)->add({{"x", testing::f32_random({1, 4, 9}, 1)}}).ok());
  EXPECT_EQ((*c)->samples(), 0);
}

// ---- Calibration inputs on disk --------------------------------------------------------------

class CalibrationFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/quench_calib_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CalibrationFolder, SingleInputFilesGiveTheSameTableAsDirectRuns) {
  auto g = chain_graph();
  auto direct = ActivationCollector::create(g, 2048);
  ASSERT_TRUE(direct.ok());
  for (int k = 0; k < 4; ++k) {
    const Tensor x = testing::f32_random({1, 4, 8}, 70 + k);
    // Half the files without the batch axis, one as float64 (numpy's default).
    Tensor file = x;
    if (k % 2) file = *x.reshaped({4, 8});
    if (k == 2) {
      std::vector<double> d(32);
      for (int i = 0; i < 32; ++i) d[i] = x.data_as<float>()[i];
      file = testing::f64({1, 4, 8}, d);
    }
    ASSERT_TRUE(save_npy(dir_ + "/sample" + std::to_string(k) + ".npy", file).ok());
    ASSERT_TRUE((*direct)->add({{"x", x}}).ok());
  }
  CalibrationOptions opt;
  opt.method = CalibrationMethod::kEntropy;
  auto t = calibrate(g, dir_, opt);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->samples, 4);
  EXPECT_TRUE(*t == (*direct)->table(CalibrationMethod::kEntropy));
  opt.max_samples = 2;
  auto two = calibrate(g, dir_, opt);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->samples, 2);
}

TEST_F(CalibrationFolder, SeveralInputsUseOneFolderEach) {
  ir::Graph g;
  g.opsets[""] = 17;
  g.inputs = {"p", "q"};
  for (const char* n : {"p", "q"}) {
    auto& v = g.get_or_add(n);
    v.dtype = DType::kF32;
    v.shape = {2, 3};
    v.has_shape = true;
  }
  std::filesystem::create_directories(dir_ + "/p");
  std::filesystem::create_directories(dir_ + "/q");
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(save_npy(dir_ + "/p/" + std::to_string(k) + ".npy", testing::f32_random({2, 3}, k)).ok());
    ASSERT_TRUE(save_npy(dir_ + "/q/" + std::to_string(k) + ".npy", testing::f32_random({2, 3}, 10 + k)).ok());
  }
  auto samples = list_calibration_samples(dir_, g);
  ASSERT_TRUE(samples.ok()) << samples.status().to_string();
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[1].at("q"), dir_ + "/q/1.npy");
  auto feeds = load_calibration_sample((*samples)[2], g);
  ASSERT_TRUE(feeds.ok()) << feeds.status().to_string();
  EXPECT_EQ(testing::values_f32(feeds->at("q")), testing::values_f32(testing::f32_random({2, 3}, 12)));
  // One file short in one folder.
  std::filesystem::remove(dir_ + "/q/2.npy");
  auto uneven = list_calibration_samples(dir_, g);
  ASSERT_FALSE(uneven.ok());
  EXPECT_NE(uneven.status().message().find("'q'"), std::string::npos) << uneven.status().message();
  // A missing folder.
  std::filesystem::remove_all(dir_ + "/q");
  EXPECT_EQ(list_calibration_samples(dir_, g).status().code(), StatusCode::kNotFound);
}

TEST_F(CalibrationFolder, BadFilesAreErrorsNamingTheFile) {
  auto g = chain_graph();
  EXPECT_EQ(calibrate(g, dir_ + "/nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(calibrate(g, dir_).status().code(), StatusCode::kNotFound);  // no .npy file
  const std::string path = dir_ + "/wrong.npy";
  ASSERT_TRUE(save_npy(path, testing::f32_random({1, 4, 7}, 1)).ok());
  auto r = calibrate(g, dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos) << r.status().message();
  ASSERT_TRUE(save_npy(path, testing::i32({1, 4, 8}, std::vector<int32_t>(32, 1))).ok());
  EXPECT_EQ(calibrate(g, dir_).status().code(), StatusCode::kInvalidArgument);
}

// ---- Per-channel weight scales -----------------------------------------------------------------

TEST(CalibrationWeights, PerOutputChannelScalesAndQuantizedWeights) {
  // Conv weight [3, 2, 2, 2], channels on axis 0; channel 2 all zero.
  Tensor w = testing::f32_random({3, 2, 2, 2}, 8);
  for (int i = 16; i < 24; ++i) w.mutable_data_as<float>()[i] = 0.0f;
  w.mutable_data_as<float>()[5] = -1.5f;  // channel 0's largest magnitude
  auto s = channel_weight_scales(w, 0, "conv.w");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_EQ(s->size(), 3u);
  double amax1 = 0;
  for (int i = 8; i < 16; ++i) amax1 = std::max(amax1, std::fabs(static_cast<double>(w.data_as<float>()[i])));
  EXPECT_EQ((*s)[0], static_cast<float>(1.5 / 127.0));
  EXPECT_EQ((*s)[1], static_cast<float>(amax1 / 127.0));
  EXPECT_EQ((*s)[2], std::max((*s)[0], (*s)[1]));  // the zero channel borrows the largest scale
  auto q = quantize_weights(w, 0, *s, "conv.w");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->data_as<int8_t>()[5], -127);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float sc = (*s)[static_cast<size_t>(i / 8)];
    const int8_t v = q->data_as<int8_t>()[i];
    EXPECT_GE(v, -127);
    EXPECT_EQ(v, quench::quant::quantize(w.data_as<float>()[i], sc));
    EXPECT_LE(std::fabs(v * static_cast<double>(sc) - w.data_as<float>()[i]), sc / 2.0 * (1 + 1e-6)) << i;
  }
  // A [K, N] matrix with channels on axis 1.
  // scales 4/127, 2/127, 0.5/127: 1 -> 31.75, -2 -> -127, 0.5 -> 127, -4 -> -127, 1.2 -> 76.2,
  // 0.3 -> 76.2.
  const Tensor m = f32({2, 3}, {1, -2, 0.5f, -4, 1.2f, 0.3f});
  auto ms = channel_weight_scales(m, 1, "fc.w");
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(*ms, (std::vector<float>{static_cast<float>(4 / 127.0), static_cast<float>(2 / 127.0),
                                     static_cast<float>(0.5 / 127.0)}));
  auto mq = quantize_weights(m, 1, *ms, "fc.w");
  ASSERT_TRUE(mq.ok());
  EXPECT_EQ(std::vector<int8_t>(mq->data_as<int8_t>(), mq->data_as<int8_t>() + 6),
            (std::vector<int8_t>{32, -127, 127, -127, 76, 76}));
  // All zero: scale 1, never 0.
  auto zs = channel_weight_scales(f32({2, 2}, {0, 0, 0, 0}), 0, "z");
  ASSERT_TRUE(zs.ok());
  EXPECT_EQ(*zs, (std::vector<float>{1.0f, 1.0f}));
}

TEST(CalibrationWeights, BiasAndErrors) {
  const std::vector<float> ws{0.01f, 0.02f};
  auto b = quantize_bias(f32({2}, {0.3f, -1.0f}), 0.5f, ws, "conv.b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data_as<int32_t>()[0], quench::quant::quantize_bias(0.3f, 0.5f, 0.01f));
  EXPECT_EQ(b->data_as<int32_t>()[1], -100);  // -1 / (0.5 * 0.02)
  EXPECT_EQ(quantize_bias(f32({3}, {1, 2, 3}), 0.5f, ws, "conv.b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(quantize_bias(f32({2}, {1, 2}), 0.0f, ws, "conv.b").status().code(), StatusCode::kInvalidArgument);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto bad = channel_weight_scales(f32({2}, {1, nan}), 0, "conv.w");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("conv.w"), std::string::npos);
  EXPECT_EQ(channel_weight_scales(testing::i64({2}, {1, 2}), 0, "w").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(channel_weight_scales(f32({2}, {1, 2}), 1, "w").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(quantize_weights(f32({2}, {1, 2}), 0, {1.0f}, "w").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(quantize_weights(f32({2}, {1, 2}), 0, {1.0f, 0.0f}, "w").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quench::calib
