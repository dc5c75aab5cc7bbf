// quench::profile and CpuExecutor::run_profiled on a small hand-built model: one entry per
// executed step, with the costs inspect reports, consistent statistics and a sequential
// timeline; bad options are errors, not crashes.
#include "quench/profile.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/api_impl.h"
#include "engine/cpu_executor.h"
#include "quench/inspect.h"
#include "tests/ops/op_test_util.h"

namespace quench {
namespace {

using testing::attr_int;
using testing::attr_ints;

// x[N,3,16,16] -> conv 3x3 (+bias) -> relu -> depthwise 3x3 -> maxpool 2 -> gap -> flatten
//   -> gemm -> y[N,5]
Result<Model> small_model() {
  ir::Model m;
  m.graph.opsets[""] = 17;
  m.source = "profile.onnx";
  ir::Value& x = m.graph.get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {-1, 3, 16, 16};
  x.has_shape = true;
  m.graph.inputs = {"x"};
  auto weight = [&](const std::string& name, Shape s, uint32_t seed) {
    m.graph.get_or_add(name).constant = testing::f32_random(std::move(s), seed);
  };
  weight("w1", {8, 3, 3, 3}, 1);
  weight("b1", {8}, 2);
  weight("w2", {8, 1, 3, 3}, 3);
  weight("w3", {5, 8}, 4);
  ir::Node conv = testing::node("conv", "Conv", {"x", "w1", "b1"}, {"c1"});
  conv.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  m.graph.nodes.push_back(conv);
  m.graph.nodes.push_back(testing::node("relu", "Relu", {"c1"}, {"r1"}));
  ir::Node dw = testing::node("dw", "Conv", {"r1", "w2"}, {"c2"});
  dw.attrs.set("group", attr_int(8));
  dw.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  m.graph.nodes.push_back(dw);
  ir::Node pool = testing::node("pool", "MaxPool", {"c2"}, {"p"});
  pool.attrs.set("kernel_shape", attr_ints({2, 2}));
  pool.attrs.set("strides", attr_ints({2, 2}));
  m.graph.nodes.push_back(pool);
  m.graph.nodes.push_back(testing::node("gap", "GlobalAveragePool", {"p"}, {"g"}));
  m.graph.nodes.push_back(testing::node("flat", "Flatten", {"g"}, {"f"}));
  ir::Node fc = testing::node("fc", "Gemm", {"f", "w3"}, {"y"});
  fc.attrs.set("transB", attr_int(1));
  m.graph.nodes.push_back(fc);
  m.graph.outputs = {"y"};
  return detail::ModelImpl::make(m);
}

// Unoptimized, so that the steps are the seven nodes as written.
Result<Engine> small_engine(int max_batch) {
  QUENCH_ASSIGN(auto model, small_model());
  BuildOptions opt;
  opt.max_batch = max_batch;
  opt.optimize = false;
  return build(model, opt);
}

// Every layer's profile against inspect's view of the same graph: the nodes as written, or the
// optimizer's fused ones (whose FLOPs the cost model counts as the nodes they replace).
void check_against_inspect(bool optimize) {
  SCOPED_TRACE(optimize ? "optimized" : "as written");
  auto model = small_model();
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  BuildOptions bo;
  bo.max_batch = 2;
  bo.optimize = optimize;
  auto engine = build(*model, bo);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ProfileOptions opt;
  opt.iterations = 7;
  opt.warmup = 1;
  auto r = profile(*engine, opt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  InspectOptions io;
  io.optimized = optimize;
  auto ins = inspect(*model, bo, io);
  ASSERT_TRUE(ins.ok()) << ins.status().to_string();
  if (optimize) {
    EXPECT_LT(r->layers.size(), 7u);  // something was fused
  } else {
    EXPECT_EQ(r->layers.size(), 7u);
  }

  EXPECT_EQ(r->batch, 2);  // 0 = max_batch
  EXPECT_EQ(r->iterations, 7);
  EXPECT_EQ(r->warmup, 1);
  EXPECT_EQ(r->model.count, 7);
  EXPECT_GT(r->model.p50, 0.0);
  ASSERT_EQ(r->layers.size(), ins->layers.size());
  double sum = 0, share = 0;
  int64_t flops = 0;
  for (size_t i = 0; i < r->layers.size(); ++i) {
    const LayerProfile& L = r->layers[i];
    SCOPED_TRACE(L.name);
    EXPECT_EQ(L.step, static_cast<int64_t>(i));
    EXPECT_EQ(L.name, ins->layers[i].name);
    EXPECT_EQ(L.op_type, ins->layers[i].op_type);
    EXPECT_EQ(L.impl, "cpu.reference");
    EXPECT_EQ(L.flops, ins->layers[i].flops);
    EXPECT_EQ(L.bytes, ins->layers[i].bytes);
    EXPECT_GT(L.seconds, 0.0);
    EXPECT_LE(L.min_seconds, L.seconds);
    EXPECT_GE(L.max_seconds, L.seconds);
    EXPECT_LE(L.min_seconds, L.median_seconds);
    EXPECT_GE(L.max_seconds, L.median_seconds);
    EXPECT_GE(L.trace_seconds, L.min_seconds);
    EXPECT_LE(L.trace_seconds, L.max_seconds);
    EXPECT_DOUBLE_EQ(L.flop_per_s, static_cast<double>(L.flops) / L.seconds);
    EXPECT_DOUBLE_EQ(L.bytes_per_s, static_cast<double>(L.bytes) / L.seconds);
    EXPECT_DOUBLE_EQ(L.ceiling_fraction, L.floor_seconds / L.seconds);
    const double mem = static_cast<double>(L.bytes) / r->ceilings.bytes_per_s;
    const double cmp = static_cast<double>(L.flops) / r->ceilings.flop_per_s;
    EXPECT_DOUBLE_EQ(L.floor_seconds, std::max(mem, cmp));
    if (L.bound != Bound::kOverhead) {
      EXPECT_EQ(L.bound, cmp > mem ? Bound::kCompute : Bound::kMemory);
    }
    // Steps run one after another in the representative run.
    if (i > 0) {
      const LayerProfile& prev = r->layers[i - 1];
      EXPECT_GE(L.trace_start_seconds, prev.trace_start_seconds + prev.trace_seconds);
    }
    sum += L.seconds;
    share += L.share;
    flops += L.flops;
  }
  EXPECT_DOUBLE_EQ(r->layer_sum_seconds, sum);
  EXPECT_NEAR(share, 1.0, 1e-12);
  EXPECT_EQ(r->total_flops, flops);
  EXPECT_EQ(r->total_flops, ins->total_flops);
  // The ceilings were measured.
  EXPECT_GT(r->ceilings.bytes_per_s, 0.0);
  EXPECT_GT(r->ceilings.flop_per_s, 0.0);
  EXPECT_GT(r->ceilings.overhead_s, 0.0);
  EXPECT_FALSE(r->ceilings.bandwidth_method.empty());
  EXPECT_FALSE(r->ceilings.compute_method.empty());
}

TEST(Profile, OneEntryPerStepWithInspectsCosts) { check_against_inspect(false); }
TEST(Profile, FusedLayersWithInspectsCosts) { check_against_inspect(true); }

TEST(Profile, SmallerBatchAndGivenInputs) {
  auto engine = small_engine(4);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ProfileOptions opt;
  opt.batch = 1;
  opt.iterations = 2;
  opt.warmup = 0;
  opt.inputs["x"] = testing::f32_random({1, 3, 16, 16}, 9);
  auto r = profile(*engine, opt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->batch, 1);
  // The conv at batch 1: 8*16*16 outputs x 27 multiply-adds, plus the bias.
  EXPECT_EQ(r->layers[0].flops, 2 * 2048 * 27 + 2048);

  opt.inputs["x"] = testing::f32_random({2, 3, 16, 16}, 9);  // not batch 1
  auto bad = profile(*engine, opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'x'"), std::string::npos) << bad.status().message();
}

TEST(Profile, BadOptionsAreErrors) {
  auto engine = small_engine(2);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ProfileOptions opt;
  opt.iterations = 0;
  EXPECT_EQ(profile(*engine, opt).status().code(), StatusCode::kInvalidArgument);
  opt.iterations = 1;
  opt.warmup = -1;
  EXPECT_EQ(profile(*engine, opt).status().code(), StatusCode::kInvalidArgument);
  opt.warmup = 0;
  opt.batch = 3;
  EXPECT_EQ(profile(*engine, opt).status().code(), StatusCode::kInvalidArgument);
  opt.batch = -1;
  EXPECT_EQ(profile(*engine, opt).status().code(), StatusCode::kInvalidArgument);
  // The CUDA ceilings are measured on a GPU (tests/gpu checks their values); without one they say so.
  auto cuda = device_ceilings(Backend::kCuda);
  if (!cuda.ok()) {
    EXPECT_EQ(cuda.status().code(), StatusCode::kUnavailable) << cuda.status().to_string();
  }
}

// The profiled run computes what run() computes, and insists on one slot per step.
TEST(Profile, RunProfiledMatchesRun) {
  auto engine = small_engine(1);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto plan = engine->impl().plan_for_batch(1);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  auto ex = CpuExecutor::create(*plan);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  TensorMap in, plain, timed;
  in["x"] = testing::f32_random({1, 3, 16, 16}, 5);
  ASSERT_TRUE((*ex)->run(in, plain).ok());
  ASSERT_EQ((*ex)->executed_steps(), 7u);
  std::vector<CpuExecutor::StepTime> times((*ex)->executed_steps());
  ASSERT_TRUE((*ex)->run_profiled(in, timed, times).ok());
  EXPECT_EQ(testing::values_f32(timed.at("y")), testing::values_f32(plain.at("y")));
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_GT(times[i].seconds, 0.0) << i;
    if (i > 0) {
      EXPECT_GE(times[i].start, times[i - 1].start + times[i - 1].seconds) << i;
    }
  }
  std::vector<CpuExecutor::StepTime> short_times(3);
  const Status s = (*ex)->run_profiled(in, timed, short_times);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quench
