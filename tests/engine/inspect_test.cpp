// The inspect report on hand-built graphs: shapes at a batch, FLOPs against hand-computed
// counts (rules in include/quench/inspect.h), parameters, histogram and folding.
#include "quench/inspect.h"

#include <gtest/gtest.h>

#include "engine/api_impl.h"
#include "tests/ops/op_test_util.h"

namespace quench {
namespace {

using testing::attr_int;
using testing::attr_ints;

// Builds graphs node by node; inputs are f32 with an unknown ("N") batch dim.
struct GraphBuilder {
  ir::Model m;
  GraphBuilder() {
    m.graph.opsets[""] = 17;
    m.source = "test.onnx";
    m.producer_name = "hand";
    m.producer_version = "1.0";
    m.ir_version = 8;
  }
  void input(const std::string& name, Shape shape) {
    ir::Value& v = m.graph.get_or_add(name);
    v.dtype = DType::kF32;
    v.shape = std::move(shape);
    v.has_shape = true;
    m.graph.inputs.push_back(name);
  }
  void weight(const std::string& name, Shape shape, DType dt = DType::kF32) {
    Tensor t = Tensor::zeros(dt, std::move(shape));
    if (dt == DType::kF32)
      for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = 0.01f * static_cast<float>(i % 7) + 0.5f;
    m.graph.get_or_add(name).constant = t;
  }
  ir::Node& node(const std::string& name, const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    ir::Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    m.graph.nodes.push_back(std::move(n));
    return m.graph.nodes.back();
  }
  Result<Model> model() { return detail::ModelImpl::make(m); }
};

// x[N,3,8,8] -> conv 3x3 (+bias) -> relu -> depthwise 3x3 s2 -> bn -> maxpool 2 -> gap -> flatten
//   -> reshape -> gemm (+C) -> matmul -> y[N,2]
Result<Model> small_cnn() {
  GraphBuilder b;
  b.input("x", {-1, 3, 8, 8});
  b.m.graph.get_or_add("x").dim_params = {"N", "", "", ""};
  b.weight("w1", {4, 3, 3, 3});
  b.weight("b1", {4});
  b.node("conv1", "Conv", {"x", "w1", "b1"}, {"c1"}).attrs.set("pads", attr_ints({1, 1, 1, 1}));
  b.node("relu", "Relu", {"c1"}, {"r1"});
  b.weight("w2", {4, 1, 3, 3});
  ir::Node& dw = b.node("dw", "Conv", {"r1", "w2"}, {"c2"});
  dw.attrs.set("group", attr_int(4));
  dw.attrs.set("strides", attr_ints({2, 2}));
  dw.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  for (const char* p : {"scale", "bias", "mean", "var"}) b.weight(p, {4});
  b.node("bn", "BatchNormalization", {"c2", "scale", "bias", "mean", "var"}, {"n2"});
  ir::Node& mp = b.node("pool", "MaxPool", {"n2"}, {"p2"});
  mp.attrs.set("kernel_shape", attr_ints({2, 2}));
  mp.attrs.set("strides", attr_ints({2, 2}));
  b.node("gap", "GlobalAveragePool", {"p2"}, {"g"});
  b.node("flat", "Flatten", {"g"}, {"f"});
  b.m.graph.get_or_add("shape").constant = Tensor::from_values(DType::kI64, {2}, std::vector<int64_t>{-1, 4});
  b.node("reshape", "Reshape", {"f", "shape"}, {"f2"});
  b.weight("w3", {5, 4});
  b.weight("c3", {5});
  b.node("fc", "Gemm", {"f2", "w3", "c3"}, {"h"}).attrs.set("transB", attr_int(1));
  b.weight("w4", {5, 2});
  b.node("mm", "MatMul", {"h", "w4"}, {"y"});
  b.m.graph.outputs = {"y"};
  return b.model();
}

const LayerInfo* find_layer(const ModelReport& r, const std::string& name) {
  for (const auto& l : r.layers)
    if (l.name == name) return &l;
  return nullptr;
}

TEST(Inspect, FlopsOfSmallCnnByHand) {
  auto model = small_cnn();
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto rep = inspect(*model);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  const ModelReport& r = *rep;
  ASSERT_EQ(r.layers.size(), 10u);
  struct Expect {
    const char* name;
    int64_t flops;
    Shape out;
  };
  const Expect expect[] = {
      {"conv1", 2 * 4 * 8 * 8 * 3 * 3 * 3 + 4 * 8 * 8, {1, 4, 8, 8}},  // 13824 MACs*2 + bias
      {"relu", 4 * 8 * 8, {1, 4, 8, 8}},
      {"dw", 2 * 4 * 4 * 4 * 1 * 3 * 3, {1, 4, 4, 4}},  // Cin/group = 1
      {"bn", 2 * 4 * 4 * 4, {1, 4, 4, 4}},
      {"pool", 4 * 2 * 2 * (2 * 2), {1, 4, 2, 2}},
      {"gap", 4 * 2 * 2, {1, 4, 1, 1}},
      {"flat", 0, {1, 4}},
      {"reshape", 0, {1, 4}},
      {"fc", 2 * 1 * 5 * 4 + 5, {1, 5}},
      {"mm", 2 * 1 * 2 * 5, {1, 2}},
  };
  int64_t total = 0;
  for (size_t i = 0; i < std::size(expect); ++i) {
    const LayerInfo& l = r.layers[i];
    EXPECT_EQ(l.name, expect[i].name);
    EXPECT_EQ(l.flops, expect[i].flops) << l.name;
    ASSERT_EQ(l.outputs.size(), 1u);
    EXPECT_EQ(l.outputs[0].shape, expect[i].out) << l.name;
    total += expect[i].flops;
  }
  EXPECT_EQ(total, 15761);
  EXPECT_EQ(r.total_flops, 15761);

  // Parameters: weights and biases, not Reshape's int64 shape.
  EXPECT_EQ(r.parameters, 108 + 4 + 36 + 16 + 20 + 5 + 10);
  EXPECT_EQ(r.parameter_bytes, 4 * r.parameters);
  EXPECT_EQ(find_layer(r, "conv1")->params, 112);
  EXPECT_EQ(find_layer(r, "reshape")->params, 0);
  EXPECT_EQ(find_layer(r, "bn")->params, 16);

  const LayerInfo& conv = *find_layer(r, "conv1");
  ASSERT_EQ(conv.inputs.size(), 3u);
  EXPECT_EQ(conv.inputs[1].name, "w1");
  EXPECT_EQ(conv.inputs[1].shape, (Shape{4, 3, 3, 3}));
  EXPECT_EQ(conv.input_is_constant, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(conv.bytes, 4 * (3 * 8 * 8 + 108 + 4 + 4 * 8 * 8));

  EXPECT_EQ(r.op_histogram.at("Conv"), 2);
  EXPECT_EQ(r.op_histogram.at("Relu"), 1);
  EXPECT_EQ(r.op_histogram.size(), 9u);
  EXPECT_EQ(r.source, "test.onnx");
  EXPECT_EQ(r.producer, "hand 1.0");
  EXPECT_EQ(r.ir_version, 8);
  EXPECT_EQ(r.opsets.at(""), 17);
  EXPECT_EQ(r.batch, 1);
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].shape, (Shape{1, 3, 8, 8}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].shape, (Shape{1, 2}));
  EXPECT_EQ(r.outputs[0].dtype, DType::kF32);
}

// Every count is linear in the batch; parameters are not.
TEST(Inspect, BatchScalesFlopsAndShapes) {
  auto model = small_cnn();
  ASSERT_TRUE(model.ok()) << model.status().message();
  BuildOptions opt;
  opt.max_batch = 3;
  auto rep = inspect(*model, opt);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->batch, 3);
  EXPECT_EQ(rep->total_flops, 3 * 15761);
  EXPECT_EQ(rep->inputs[0].shape, (Shape{3, 3, 8, 8}));
  EXPECT_EQ(rep->layers.back().outputs[0].shape, (Shape{3, 2}));
  EXPECT_EQ(rep->parameters, 199);
  // inspect ignores the backend: a CUDA engine cannot be built here, but it can be inspected.
  opt.backend = Backend::kCuda;
  EXPECT_TRUE(inspect(*model, opt).ok());
  opt.max_batch = 0;
  auto bad = inspect(*model, opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// A weight used twice counts once in the total; a node over constants only is folded away.
TEST(Inspect, SharedWeightsAndFolding) {
  GraphBuilder b;
  b.input("x", {1, 4});
  b.weight("w", {4, 4});
  b.node("fold_me", "Relu", {"w"}, {"w_relu"});  // constant input: folded at build time
  b.node("mm1", "MatMul", {"x", "w"}, {"a"});
  b.node("mm2", "MatMul", {"a", "w"}, {"b"});
  b.node("mm3", "MatMul", {"b", "w_relu"}, {"y"});
  b.m.graph.outputs = {"y"};
  auto model = b.model();
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto r = inspect(*model);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->nodes_in_file, 4);
  ASSERT_EQ(r->layers.size(), 3u);
  for (const auto& l : r->layers) {
    EXPECT_EQ(l.flops, 2 * 1 * 4 * 4) << l.name;
    EXPECT_EQ(l.params, 16) << l.name;
  }
  EXPECT_EQ(r->parameters, 32);  // w once, plus the folded relu(w)
  EXPECT_EQ(r->op_histogram.count("Relu"), 0u);
  EXPECT_EQ(r->op_histogram.at("MatMul"), 3);
}

TEST(Inspect, ConvTransposeBatchedMatMulAndAveragePool) {
  GraphBuilder b;
  b.input("x", {1, 2, 3, 3});
  b.weight("w", {2, 3, 2, 2});  // [Cin, Cout/group, kH, kW]
  b.weight("bias", {3});
  b.node("up", "ConvTranspose", {"x", "w", "bias"}, {"u"}).attrs.set("strides", attr_ints({2, 2}));
  ir::Node& ap = b.node("avg", "AveragePool", {"u"}, {"p"});
  ap.attrs.set("kernel_shape", attr_ints({3, 3}));
  b.input("a", {1, 2, 3, 4});
  b.input("c", {1, 2, 4, 5});
  b.node("bmm", "MatMul", {"a", "c"}, {"m"});
  b.m.graph.outputs = {"p", "m"};
  auto model = b.model();
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto r = inspect(*model);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const LayerInfo* up = find_layer(*r, "up");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->outputs[0].shape, (Shape{1, 3, 6, 6}));
  EXPECT_EQ(up->flops, 2 * (2 * 3 * 3) * 3 * 2 * 2 + 3 * 6 * 6);  // every input meets 3*2*2 weights
  const LayerInfo* avg = find_layer(*r, "avg");
  EXPECT_EQ(avg->outputs[0].shape, (Shape{1, 3, 4, 4}));
  EXPECT_EQ(avg->flops, 3 * 4 * 4 * 9);
  const LayerInfo* bmm = find_layer(*r, "bmm");
  EXPECT_EQ(bmm->outputs[0].shape, (Shape{1, 2, 3, 5}));
  EXPECT_EQ(bmm->flops, 2 * 2 * 3 * 5 * 4);  // 2 batches of 2*M*N*K
  EXPECT_EQ(r->total_flops, up->flops + avg->flops + bmm->flops);
}

// A dim other than the batch left unknown needs a shape; errors name the input.
TEST(Inspect, UnknownDimNeedsShape) {
  GraphBuilder b;
  b.input("x", {-1, 3, -1});
  b.node("relu", "Relu", {"x"}, {"y"});
  b.m.graph.outputs = {"y"};
  auto model = b.model();
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto r = inspect(*model);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kShapeError);
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos) << r.status().message();
  BuildOptions opt;
  opt.max_batch = 2;
  opt.input_shapes["x"] = {1, 3, 10};  // the batch dim given here is replaced by max_batch
  auto ok = inspect(*model, opt);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->layers[0].outputs[0].shape, (Shape{2, 3, 10}));
  EXPECT_EQ(ok->total_flops, 60);
}

}  // namespace
}  // namespace quench
