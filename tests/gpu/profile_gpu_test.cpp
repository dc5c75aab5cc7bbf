// quench::profile on the CUDA backend (engine/profiler/cuda_profile.cpp, cuda_ceilings.cpp), on
// the zoo's mobilenetv2 at batch 1. Skipped without a device, and without the model unless
// QUENCH_REQUIRE_MODELS=1.
//
//   CeilingsArePlausible         the measured bandwidth and FP16 GEMM rate lie between what any
//                                Ampere/Hopper part reaches and what none does
//   LayersAddUpToTheWholeModel   every step plus the two boundary layers is listed, each timed
//                                (positive, finite), and with graphs off the typical per-layer
//                                sum is within 10% of the whole-model median (issue 8)
//   GraphedPlainRunsAreTimedToo  cuda_graph = true times the plain runs on a graph replay
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "engine/api_impl.h"
#include "quench/profile.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/models/model_cases.h"

namespace quench::testing {
namespace {

namespace fs = std::filesystem;

TEST(CudaCeilings, CeilingsArePlausible) {
  if (!gpu_test::cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  auto c = device_ceilings(Backend::kCuda);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  std::cout << "bandwidth " << c->bytes_per_s / 1e9 << " GB/s (" << c->bandwidth_method << ")\n"
            << "compute " << c->flop_per_s / 1e12 << " TFLOP/s (" << c->compute_method << ")\n"
            << "overhead " << c->overhead_s * 1e6 << " us" << std::endl;
  // An A100 copies at about 1.3 TB/s read + write, an H200 under 5; no part reaches 10.
  EXPECT_GT(c->bytes_per_s, 5e11);
  EXPECT_LT(c->bytes_per_s, 1e13);
  // FP16 tensor cores: an A100 peaks at 312 TFLOP/s, an H100 SXM under 1000.
  EXPECT_GT(c->flop_per_s, 5e13);
  EXPECT_LT(c->flop_per_s, 1.1e15);
  EXPECT_GE(c->overhead_s, 2e-6);
  EXPECT_LT(c->overhead_s, 1e-4);
  // Cached: the second call is the same measurement.
  auto again = device_ceilings(Backend::kCuda);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->bytes_per_s, c->bytes_per_s);
}

class CudaProfile : public gpu_test::GpuTest {
 protected:
  void SetUp() override {
    gpu_test::GpuTest::SetUp();
    if (IsSkipped()) return;
    const fs::path onnx = models_dir() / "zoo" / "mobilenetv2.onnx";
    if (!fs::exists(onnx)) {
      if (require_models()) FAIL() << "missing " << onnx << "; run scripts/make_models.sh";
      GTEST_SKIP() << "missing " << onnx << "; run scripts/make_models.sh";
    }
    auto m = load_onnx(onnx.string());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    BuildOptions opt;
    opt.backend = Backend::kCuda;
    opt.precision = Precision::kFP16;
    auto e = build(*m, opt);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    engine_ = std::move(e).value();
  }
  Engine engine_;
};

TEST_F(CudaProfile, LayersAddUpToTheWholeModel) {
  ProfileOptions o;
  o.iterations = 31;
  o.warmup = 5;
  o.cuda_graph = false;
  auto r = profile(engine_, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto plan = engine_.impl().plan_for_batch(1);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(r->layers.size(), (*plan)->steps.size() + 2);  // + inputs and outputs
  EXPECT_EQ(r->layers.front().op_type, "CopyIn");
  EXPECT_EQ(r->layers.back().op_type, "CopyOut");
  for (const LayerProfile& L : r->layers) {
    EXPECT_TRUE(std::isfinite(L.seconds) && L.seconds > 0) << L.name << ": " << L.seconds;
    EXPECT_LE(L.min_seconds, L.max_seconds) << L.name;
  }
  const double ratio = r->layer_sum_seconds / r->model.p50;
  std::cout << "mobilenetv2 b1: layer sum " << r->layer_sum_seconds * 1e3 << " ms, whole model p50 "
            << r->model.p50 * 1e3 << " ms, ratio " << ratio << std::endl;
  EXPECT_GT(ratio, 0.9);
  EXPECT_LT(ratio, 1.1);
  EXPECT_GT(r->total_flops, 500'000'000);  // MobileNetV2 at 224x224 is about 0.6 GFLOP
}

TEST_F(CudaProfile, GraphedPlainRunsAreTimedToo) {
  ProfileOptions o;
  o.iterations = 5;
  o.warmup = 1;
  o.cuda_graph = true;
  auto r = profile(engine_, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GT(r->model.p50, 0);
  EXPECT_TRUE(std::isfinite(r->model.max));
  std::cout << "mobilenetv2 b1: graph replay p50 " << r->model.p50 * 1e3 << " ms, step-by-step layer sum "
            << r->layer_sum_seconds * 1e3 << " ms" << std::endl;
}

}  // namespace
}  // namespace quench::testing
