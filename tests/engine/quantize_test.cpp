// The INT8 quantization pass (engine/quantize/quantize_graph.h) on hand-built graphs: which
// nodes become INT8, where the graph converts between INT8 and float, what stays float and why,
// and that the quantized graph computes what the float graph does within INT8's error.
#include <gtest/gtest.h>

#include "engine/calibration/calibrator.h"
#include "engine/quantize/quantize_graph.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

using quant_pass::LayerPrecision;
using quant_pass::Reason;
using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;
using testing::f32_random;
using testing::GraphBuilder;

// x [1,4,6,6] -> conv1 (FusedConv 3x3 pad 1, Relu) = y1 ─┬─ conv2 (1x1) = y2 ─┐
//                                                         ├─ Sigmoid = s1 (out) │
//                                                         └──── residual ──── conv3 (FusedConv 1x1, R = y1) = y3
//   -> conv4 (1x1) = out
ir::Graph chain() {
  GraphBuilder b;
  b.input("x", {1, 4, 6, 6});
  b.constant("w1", f32_random({8, 4, 3, 3}, 1)).constant("b1", f32_random({8}, 2));
  b.constant("w2", f32_random({8, 8, 1, 1}, 3)).constant("w3", f32_random({8, 8, 1, 1}, 4));
  b.constant("w4", f32_random({5, 8, 1, 1}, 5)).constant("b4", f32_random({5}, 6));
  b.node("conv1", "FusedConv", {"x", "w1", "b1"}, {"y1"},
         {{"pads", attr_ints({1, 1, 1, 1})}, {"activation", attr_string("Relu")}})
      .domain("quench");
  b.node("conv2", "Conv", {"y1", "w2"}, {"y2"});
  b.node("sig", "Sigmoid", {"y1"}, {"s1"});
  b.node("conv3", "FusedConv", {"y2", "w3", "", "y1"}, {"y3"}).domain("quench");
  b.node("conv4", "Conv", {"y3", "w4", "b4"}, {"out"});
  b.output("s1").output("out");
  return b.build();
}

// A table from running the float graph on random inputs of its own shapes.
calib::CalibrationTable table_for(const ir::Graph& g) {
  BuildOptions bo;
  bo.max_batch = static_cast<int>(g.find(g.inputs[0])->shape[0]);
  auto sg = specialize_for_batch(g, bo, bo.max_batch, "test");
  EXPECT_TRUE(sg.ok()) << sg.status().to_string();
  auto c = calib::ActivationCollector::create(*sg, 2048);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  for (uint32_t k = 0; k < 8; ++k) {
    TensorMap in;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      in[g.inputs[i]] = f32_random(g.find(g.inputs[i])->shape, 100 + 10 * k + static_cast<uint32_t>(i));
    EXPECT_TRUE((*c)->add(in).ok());
  }
  return (*c)->table(calib::CalibrationMethod::kMax);
}

const ir::Node* find_node(const ir::Graph& g, std::string_view name) {
  for (const auto& n : g.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

int64_t int_attr_of(const ir::Node& n, std::string_view key) {
  const ops::Attribute* a = n.attrs.find(key);
  return a ? a->i : -1;
}

std::vector<std::string> op_types(const ir::Graph& g) {
  std::vector<std::string> v;
  for (const auto& n : g.nodes) v.push_back(n.op_type);
  return v;
}

TEST(QuantizePass, ProductsBecomeInt8WithConversionsOnlyAtFloatBoundaries) {
  const ir::Graph f = chain();
  const auto table = table_for(f);
  ir::Graph g = f;
  std::vector<LayerPrecision> layers;
  Status st = quant_pass::quantize_graph(g, table, {}, &layers);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Int8Quantize", "Int8Conv", "Int8Dequantize", "Int8Conv", "Sigmoid",
                                                   "Int8Conv", "Int8Conv"}));
  ASSERT_EQ(layers.size(), 4u);
  for (const auto& l : layers) EXPECT_TRUE(l.int8 && l.reason == Reason::kQuantized) << l.node;
  // conv1..conv3 feed quantized readers: INT8 outputs; conv4 feeds only the graph output.
  for (const char* n : {"conv1", "conv2", "conv3"}) EXPECT_EQ(int_attr_of(*find_node(g, n), "output_type"), 3) << n;
  EXPECT_EQ(int_attr_of(*find_node(g, "conv4"), "output_type"), 1);
  EXPECT_EQ(find_node(g, "conv4")->outputs[0], "out");
  // conv3 writes INT8, so its residual is y1's INT8 twin, with its scale.
  const ir::Node& c3 = *find_node(g, "conv3");
  ASSERT_EQ(c3.inputs.size(), 5u);
  EXPECT_EQ(c3.inputs[4], find_node(g, "conv1")->outputs[0]);
  EXPECT_NE(c3.attrs.find("r_scale"), nullptr);
  EXPECT_TRUE(c3.inputs[3].empty());  // no bias
  // The Sigmoid reads y1 in float, through the one Dequantize.
  EXPECT_EQ(find_node(g, "sig")->inputs[0], "y1");
  EXPECT_EQ(g.outputs, f.outputs);
  // The float weights are gone; the INT8 ones are there.
  EXPECT_EQ(g.find("w1"), nullptr);
  EXPECT_EQ(g.find(find_node(g, "conv1")->inputs[1])->constant.dtype(), DType::kI8);

  // Same results as the float graph, within INT8's error, on an input it was not calibrated on.
  const TensorMap in{{"x", f32_random({1, 4, 6, 6}, 7)}};
  auto want = testing::run_graph(f, in);
  auto got = testing::run_graph(g, in);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status().to_string();
  for (const char* name : {"s1", "out"}) {
    const double e = testing::rel_l2(got->at(name), want->at(name));
    EXPECT_LT(e, 0.05) << name;
    EXPECT_GT(e, 0.0) << name << ": INT8 cannot be exact on random data";
  }
}

TEST(QuantizePass, KeptFloatLayersGetAQuantizeAfterThem) {
  const ir::Graph f = chain();
  const auto table = table_for(f);
  ir::Graph g = f;
  std::vector<LayerPrecision> layers;
  ASSERT_TRUE(quant_pass::quantize_graph(g, table, {{"conv2"}, {}}, &layers).ok());
  EXPECT_EQ(find_node(g, "conv2")->op_type, "Conv");
  EXPECT_EQ(layers[1].node, "conv2");
  EXPECT_FALSE(layers[1].int8);
  EXPECT_EQ(layers[1].reason, Reason::kUserFloat);
  // conv3 reads the float y2 in INT8: one Int8Quantize of y2.
  int quantize_y2 = 0;
  for (const auto& n : g.nodes) quantize_y2 += n.op_type == "Int8Quantize" && n.inputs[0] == "y2";
  EXPECT_EQ(quantize_y2, 1);
  const TensorMap in{{"x", f32_random({1, 4, 6, 6}, 8)}};
  auto want = testing::run_graph(f, in);
  auto got = testing::run_graph(g, in);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status().to_string();
  EXPECT_LT(testing::rel_l2(got->at("out"), want->at("out")), 0.05);
}

TEST(QuantizePass, FormsWithoutAnInt8OpStayFloatAndSayWhy) {
  GraphBuilder b;
  b.input("x", {4, 6}).input("m", {6, 3});
  b.constant("wa", f32_random({4, 4}, 1)).constant("wc", f32_random({6, 3}, 2));
  b.constant("bad_bias", f32_random({4, 3}, 3));
  b.node("g_transa", "Gemm", {"x", "wa"}, {"a"}, {{"transA", attr_int(1)}});       // transA = 1
  b.node("mm_dynamic", "MatMul", {"x", "m"}, {"c"});                                 // weight not constant
  b.node("g_bias", "Gemm", {"x", "wc", "bad_bias"}, {"d"});                           // bias per element
  b.output("a").output("c").output("d");
  const ir::Graph f = b.build();
  auto table = table_for(f);
  ir::Graph g = f;
  std::vector<LayerPrecision> layers;
  ASSERT_TRUE(quant_pass::quantize_graph(g, table, {}, &layers).ok());
  ASSERT_EQ(layers.size(), 3u);
  for (const auto& l : layers) {
    EXPECT_FALSE(l.int8) << l.node;
    EXPECT_EQ(l.reason, Reason::kUnsupportedForm) << l.node;
  }
  EXPECT_NE(layers[0].detail.find("transA"), std::string::npos) << layers[0].detail;
  EXPECT_NE(layers[1].detail.find("not a constant"), std::string::npos) << layers[1].detail;
  EXPECT_NE(layers[2].detail.find("one value per output channel"), std::string::npos) << layers[2].detail;
  EXPECT_EQ(testing::fingerprint(g), testing::fingerprint(f));

  // Nothing calibrated: every candidate stays float, the graph unchanged.
  GraphBuilder c;
  c.input("x", {2, 6}).constant("w", f32_random({6, 3}, 4));
  c.node("mm", "MatMul", {"x", "w"}, {"y"}).output("y");
  const ir::Graph f2 = c.build();
  ir::Graph g2 = f2;
  ASSERT_TRUE(quant_pass::quantize_graph(g2, calib::CalibrationTable{}, {}, &layers).ok());
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].reason, Reason::kNotCalibrated);
  EXPECT_EQ(testing::fingerprint(g2), testing::fingerprint(f2));
}

TEST(QuantizePass, GemmAlphaAndBetaAreFoldedIntoWeightsAndBias) {
  GraphBuilder b;
  b.input("x", {3, 16});
  b.constant("w", f32_random({16, 5}, 11)).constant("c", f32_random({5}, 12));
  b.node("gemm", "Gemm", {"x", "w", "c"}, {"y"}, {{"alpha", attr_float(0.5f)}, {"beta", attr_float(2.0f)}});
  b.output("y");
  const ir::Graph f = b.build();
  ir::Graph g = f;
  ASSERT_TRUE(quant_pass::quantize_graph(g, table_for(f), {}, nullptr).ok());
  const ir::Node& q = *find_node(g, "gemm");
  EXPECT_EQ(q.op_type, "Int8Gemm");
  EXPECT_EQ(q.attrs.find("alpha"), nullptr);
  EXPECT_EQ(q.attrs.find("beta"), nullptr);
  const TensorMap in{{"x", f32_random({3, 16}, 21)}};
  auto want = testing::run_graph(f, in);
  auto got = testing::run_graph(g, in);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status().to_string();
  // A wrongly folded alpha (x2) or beta (x1/2) would be off by tens of percent.
  EXPECT_LT(testing::rel_l2(got->at("y"), want->at("y")), 0.02);
}

}  // namespace
}  // namespace quench
