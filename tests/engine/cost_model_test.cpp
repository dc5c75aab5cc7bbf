// The profiler's cost model against hand-computed FLOPs and minimum bytes, and its verdicts
// against made-up ceilings.
#include "engine/profiler/cost_model.h"

#include <gtest/gtest.h>

#include <limits>

#include "engine/api_impl.h"
#include "engine/profiler/roofline.h"
#include "quench/inspect.h"
#include "tests/ops/op_test_util.h"

namespace quench {
namespace {

using profiler::LayerCost;
using profiler::Operand;
using testing::attr_int;
using testing::attr_ints;

// A layer's operands, each held here so that Operand can point at its shape.
struct Layer {
  ir::Node node;
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  std::vector<Operand> in, out;

  Layer(std::string op) {
    node.name = "n";
    node.op_type = std::move(op);
    names.reserve(16);
    shapes.reserve(16);
  }
  Layer& input(std::string name, Shape s, bool constant = false, DType dt = DType::kF32) {
    names.push_back(std::move(name));
    shapes.push_back(std::move(s));
    in.push_back({names.back(), dt, &shapes.back(), constant});
    return *this;
  }
  Layer& omitted() {
    in.emplace_back();
    return *this;
  }
  Layer& output(Shape s, DType dt = DType::kF32) {
    names.push_back("out" + std::to_string(out.size()));
    shapes.push_back(std::move(s));
    out.push_back({names.back(), dt, &shapes.back(), false});
    return *this;
  }
  LayerCost cost() const { return profiler::layer_cost(node, in, out); }
};

TEST(CostModel, ConvWithBiasAndStride) {
  // x [2,8,16,16], w [16,8,3,3], stride 2, pad 1 -> y [2,16,8,8] = 2048 outputs.
  Layer L("Conv");
  L.node.attrs.set("strides", attr_ints({2, 2}));
  L.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  L.input("x", {2, 8, 16, 16}).input("w", {16, 8, 3, 3}, true).input("b", {16}, true).output({2, 16, 8, 8});
  const LayerCost c = L.cost();
  // 2048 outputs x (8 in-channels x 9 taps) multiply-adds, 2 FLOPs each, plus one bias add each.
  EXPECT_EQ(c.flops, 2 * 2048 * 72 + 2048);
  EXPECT_EQ(c.flops, 296960);
  // x 4096, w 1152, b 16 elements read; y 2048 written; 4 bytes each.
  EXPECT_EQ(c.input_bytes, 4 * (4096 + 1152 + 16));
  EXPECT_EQ(c.weight_bytes, 4 * (1152 + 16));
  EXPECT_EQ(c.output_bytes, 4 * 2048);
  EXPECT_EQ(c.bytes(), 29248);
}

TEST(CostModel, DepthwiseConv) {
  // 32 channels, one filter each: Cin/group = 1, so 9 multiply-adds per output.
  Layer L("Conv");
  L.node.attrs.set("group", attr_int(32));
  L.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  L.input("x", {1, 32, 14, 14}).input("w", {32, 1, 3, 3}, true).output({1, 32, 14, 14});
  const LayerCost c = L.cost();
  EXPECT_EQ(c.flops, 2 * 6272 * 9);
  EXPECT_EQ(c.flops, 112896);
  EXPECT_EQ(c.input_bytes, 4 * (6272 + 288));
  EXPECT_EQ(c.weight_bytes, 4 * 288);
  EXPECT_EQ(c.output_bytes, 4 * 6272);
  EXPECT_EQ(c.bytes(), 51328);
}

TEST(CostModel, GemmTransposedOperands) {
  // A [4,256] x B^T with B [10,256], C [10] broadcast: Y [4,10], K = 256.
  Layer L("Gemm");
  L.node.attrs.set("transB", attr_int(1));
  L.input("a", {4, 256}).input("b", {10, 256}, true).input("c", {10}, true).output({4, 10});
  LayerCost c = L.cost();
  EXPECT_EQ(c.flops, 2 * 40 * 256 + 40);
  EXPECT_EQ(c.flops, 20520);
  EXPECT_EQ(c.bytes(), 4 * (1024 + 2560 + 10 + 40));
  EXPECT_EQ(c.weight_bytes, 4 * (2560 + 10));

  // A given transposed ([K, M] = [256, 4]) has the same K; no C.
  Layer T("Gemm");
  T.node.attrs.set("transA", attr_int(1));
  T.input("a", {256, 4}).input("b", {256, 10}, true).omitted().output({4, 10});
  c = T.cost();
  EXPECT_EQ(c.flops, 2 * 40 * 256);
  EXPECT_EQ(c.bytes(), 4 * (1024 + 2560 + 40));
}

TEST(CostModel, Pooling) {
  // MaxPool 3x3 stride 2 pad 1: [1,16,32,32] -> [1,16,16,16], 9 compares per output.
  Layer mp("MaxPool");
  mp.node.attrs.set("kernel_shape", attr_ints({3, 3}));
  mp.node.attrs.set("strides", attr_ints({2, 2}));
  mp.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  mp.input("x", {1, 16, 32, 32}).output({1, 16, 16, 16});
  EXPECT_EQ(mp.cost().flops, 4096 * 9);
  EXPECT_EQ(mp.cost().bytes(), 4 * (16384 + 4096));
  EXPECT_EQ(mp.cost().weight_bytes, 0);

  // AveragePool 2x2 stride 2: 4 adds per output (the divide is not counted).
  Layer ap("AveragePool");
  ap.node.attrs.set("kernel_shape", attr_ints({2, 2}));
  ap.node.attrs.set("strides", attr_ints({2, 2}));
  ap.input("x", {1, 16, 32, 32}).output({1, 16, 16, 16});
  EXPECT_EQ(ap.cost().flops, 4096 * 4);
  EXPECT_EQ(ap.cost().bytes(), 81920);

  // GlobalAveragePool: one add per input element.
  Layer gap("GlobalAveragePool");
  gap.input("x", {2, 64, 7, 7}).output({2, 64, 1, 1});
  EXPECT_EQ(gap.cost().flops, 6272);
  EXPECT_EQ(gap.cost().bytes(), 4 * (6272 + 128));
}

TEST(CostModel, ElementwiseAddWithBroadcast) {
  // [2,8,4,4] + a per-channel constant [8,1,1]: one add per output, the small operand read once.
  Layer L("Add");
  L.input("x", {2, 8, 4, 4}).input("bias", {8, 1, 1}, true).output({2, 8, 4, 4});
  EXPECT_EQ(L.cost().flops, 256);
  EXPECT_EQ(L.cost().input_bytes, 4 * (256 + 8));
  EXPECT_EQ(L.cost().weight_bytes, 32);
  EXPECT_EQ(L.cost().bytes(), 2080);

  // The same tensor twice is read once.
  Layer sq("Add");
  sq.input("x", {2, 8, 4, 4}).input("x", {2, 8, 4, 4}).output({2, 8, 4, 4});
  EXPECT_EQ(sq.cost().flops, 256);
  EXPECT_EQ(sq.cost().bytes(), 4 * (256 + 256));

  // Bytes are at the operands' dtypes: float16 moves half.
  Layer h("Add");
  h.input("x", {2, 8, 4, 4}, false, DType::kF16)
      .input("bias", {8, 1, 1}, true, DType::kF16)
      .output({2, 8, 4, 4}, DType::kF16);
  EXPECT_EQ(h.cost().flops, 256);
  EXPECT_EQ(h.cost().bytes(), 1040);
}

// The optimizer's fused ops count as the nodes they replace (BatchNormalization folded into the
// weights aside): products and biases, one FLOP per element per activation and residual add.
TEST(CostModel, FusedOpsCountAsWhatTheyReplace) {
  Layer fc("FusedConv");  // conv 3x3 pad 1 + bias, + residual, Relu: [1,8,8,8] -> [1,16,8,8]
  fc.node.domain = "quench";
  fc.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  fc.node.attrs.set("activation", testing::attr_string("Relu"));
  fc.input("x", {1, 8, 8, 8}).input("w", {16, 8, 3, 3}, true).input("b", {16}, true).input("r", {1, 16, 8, 8});
  fc.output({1, 16, 8, 8});
  EXPECT_EQ(fc.cost().flops, 2 * 1024 * 72 + 1024 + 1024 + 1024);
  EXPECT_EQ(fc.cost().bytes(), 4 * (512 + 1152 + 16 + 1024 + 1024));

  // Depthwise 3x3 stride 2 (+bias, Clip) to [1,8,8,8], then pointwise 8 -> 16, no bias.
  Layer dp("DwPwConv");
  dp.node.domain = "quench";
  dp.node.attrs.set("strides", attr_ints({2, 2}));
  dp.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  dp.node.attrs.set("group", attr_int(8));
  dp.node.attrs.set("dw_activation", testing::attr_string("Clip"));
  dp.input("x", {1, 8, 16, 16}).input("wd", {8, 1, 3, 3}, true).input("bd", {8}, true).input("wp", {16, 8, 1, 1}, true);
  dp.omitted().omitted().output({1, 16, 8, 8});
  EXPECT_EQ(dp.cost().flops, (2 * 512 * 9 + 512 + 512) + 2 * 1024 * 8);
  EXPECT_EQ(dp.cost().weight_bytes, 4 * (72 + 8 + 128));

  // MobileNetV2's block: expand 8 -> 48 (+bias, Clip), depthwise 3x3 (+bias, Clip), project
  // 48 -> 8 (+bias), + x. x is both the input and the residual: read once.
  Layer ir("InvertedResidual");
  ir.node.domain = "quench";
  ir.node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  ir.node.attrs.set("group", attr_int(48));
  ir.node.attrs.set("expand_activation", testing::attr_string("Clip"));
  ir.node.attrs.set("dw_activation", testing::attr_string("Clip"));
  ir.input("x", {1, 8, 8, 8}).input("we", {48, 8, 1, 1}, true).input("be", {48}, true);
  ir.input("wd", {48, 1, 3, 3}, true).input("bd", {48}, true).input("wp", {8, 48, 1, 1}, true).input("bp", {8}, true);
  ir.input("x", {1, 8, 8, 8}).output({1, 8, 8, 8});
  const int64_t expand = 2 * 3072 * 8 + 3072 + 3072, dw = 2 * 3072 * 9 + 3072 + 3072, project = 2 * 512 * 48 + 512;
  EXPECT_EQ(ir.cost().flops, expand + dw + project + 512);
  EXPECT_EQ(ir.cost().flops, 166912);
  EXPECT_EQ(ir.cost().bytes(), 4 * (512 + 384 + 48 + 432 + 48 + 384 + 8 + 512));

  Layer fg("FusedGemm");  // Gemm with C, + residual, Relu
  fg.node.domain = "quench";
  fg.node.attrs.set("transB", attr_int(1));
  fg.node.attrs.set("activation", testing::attr_string("Relu"));
  fg.input("a", {4, 256}).input("b", {10, 256}, true).input("c", {10}, true).input("r", {4, 10}).output({4, 10});
  EXPECT_EQ(fg.cost().flops, 2 * 40 * 256 + 40 + 40 + 40);

  Layer fm("FusedMatMul");  // batched MatMul, no activation, no residual
  fm.node.domain = "quench";
  fm.input("a", {2, 3, 4}).input("b", {4, 5}, true).output({2, 3, 5});
  EXPECT_EQ(fm.cost().flops, 2 * 30 * 4);
}

TEST(CostModel, DataMovementHasBytesButNoFlops) {
  Layer L("Transpose");
  L.input("x", {2, 3, 4}).output({4, 3, 2});
  EXPECT_EQ(L.cost().flops, 0);
  EXPECT_EQ(L.cost().bytes(), 4 * 48);
}

TEST(CostModel, HostileShapesSaturate) {
  const int64_t big = int64_t{1} << 40;
  Layer L("Conv");
  L.input("x", {big, big, 1, 1}).input("w", {big, big, 1, 1}, true).output({big, big, 1, 1});
  const LayerCost c = L.cost();
  EXPECT_EQ(c.flops, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c.bytes(), std::numeric_limits<int64_t>::max());
}

TEST(CostModel, AchievedRates) {
  LayerCost c;
  c.flops = 1'000'000'000;
  c.input_bytes = 1'500'000'000;
  c.output_bytes = 500'000'000;
  const profiler::Achieved a = profiler::achieved(c, 0.5);
  EXPECT_DOUBLE_EQ(a.flop_per_s, 2e9);
  EXPECT_DOUBLE_EQ(a.bytes_per_s, 4e9);
  EXPECT_EQ(profiler::achieved(c, 0.0).flop_per_s, 0.0);
  EXPECT_EQ(profiler::achieved(c, -1.0).bytes_per_s, 0.0);
}

TEST(Roofline, ClassifiesBySideOfTheRidgeAndDistanceFromIt) {
  DeviceCeilings dev;
  dev.bytes_per_s = 10e9;  // ridge point: 0.2 FLOP per byte
  dev.flop_per_s = 2e9;
  dev.overhead_s = 5e-6;
  dev.overhead_fraction = 0.05;
  LayerCost heavy;  // floors: 0.5 s of arithmetic, 0.0001 s of traffic
  heavy.flops = 1'000'000'000;
  heavy.input_bytes = 1'000'000;
  profiler::Verdict v = profiler::classify(heavy, 1.0, dev);
  EXPECT_EQ(v.bound, Bound::kCompute);
  EXPECT_DOUBLE_EQ(v.floor_seconds, 0.5);
  EXPECT_DOUBLE_EQ(v.ceiling_fraction, 0.5);

  LayerCost stream;  // floors: 0.1 s of traffic, 0.0005 s of arithmetic
  stream.flops = 1'000'000;
  stream.input_bytes = 600'000'000;
  stream.output_bytes = 400'000'000;
  v = profiler::classify(stream, 0.2, dev);
  EXPECT_EQ(v.bound, Bound::kMemory);
  EXPECT_DOUBLE_EQ(v.ceiling_fraction, 0.5);

  // Shorter than the overhead time: overhead, whatever the cost.
  EXPECT_EQ(profiler::classify(stream, 4e-6, dev).bound, Bound::kOverhead);
  // 200x slower than its floor (0.5% of it): neither ceiling explains the time.
  v = profiler::classify(heavy, 100.0, dev);
  EXPECT_EQ(v.bound, Bound::kOverhead);
  EXPECT_DOUBLE_EQ(v.ceiling_fraction, 0.005);
  // Just inside the 5%: still bound by its ceiling.
  EXPECT_EQ(profiler::classify(heavy, 9.0, dev).bound, Bound::kCompute);
  // No work at all (a Reshape that moved nothing) is overhead.
  EXPECT_EQ(profiler::classify(LayerCost{}, 1e-3, dev).bound, Bound::kOverhead);
  EXPECT_EQ(profiler::classify(heavy, 0.0, dev).bound, Bound::kOverhead);
  EXPECT_STREQ(bound_name(Bound::kMemory), "memory");
  EXPECT_STREQ(bound_name(Bound::kCompute), "compute");
  EXPECT_STREQ(bound_name(Bound::kOverhead), "overhead");
}

// Through a real plan: the shapes shape inference gives, the plan's dtypes, and the same
// counts inspect reports (one implementation behind both).
TEST(CostModel, PlanStepsMatchHandCountsAndInspect) {
  ir::Model m;
  m.graph.opsets[""] = 17;
  m.source = "cost.onnx";
  ir::Value& x = m.graph.get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {1, 3, 8, 8};
  x.has_shape = true;
  m.graph.inputs = {"x"};
  m.graph.get_or_add("w").constant = testing::f32_random({4, 3, 3, 3}, 1);
  m.graph.get_or_add("b").constant = testing::f32_random({4, 1, 1}, 2);
  ir::Node conv = testing::node("conv", "Conv", {"x", "w"}, {"c"});
  conv.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  m.graph.nodes.push_back(conv);
  m.graph.nodes.push_back(testing::node("add", "Add", {"c", "b"}, {"y"}));
  m.graph.outputs = {"y"};
  auto model = detail::ModelImpl::make(m);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  BuildOptions bo;
  bo.optimize = false;  // the two nodes as written (the optimizer folds the Add into the conv)
  auto engine = build(*model, bo);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto plan = engine->impl().plan_for_batch(1);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_EQ((*plan)->steps.size(), 2u);
  const LayerCost conv_cost = profiler::step_cost(**plan, (*plan)->steps[0]);
  const LayerCost add_cost = profiler::step_cost(**plan, (*plan)->steps[1]);
  EXPECT_EQ(conv_cost.flops, 2 * 256 * 27);
  EXPECT_EQ(conv_cost.bytes(), 4 * (192 + 108 + 256));
  EXPECT_EQ(conv_cost.weight_bytes, 4 * 108);
  EXPECT_EQ(add_cost.flops, 256);
  EXPECT_EQ(add_cost.bytes(), 4 * (256 + 4 + 256));

  auto report = inspect(*model);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->layers.size(), 2u);
  EXPECT_EQ(report->layers[0].flops, conv_cost.flops);
  EXPECT_EQ(report->layers[0].bytes, conv_cost.bytes());
  EXPECT_EQ(report->layers[1].flops, add_cost.flops);
  EXPECT_EQ(report->layers[1].bytes, add_cost.bytes());
}

}  // namespace
}  // namespace quench
