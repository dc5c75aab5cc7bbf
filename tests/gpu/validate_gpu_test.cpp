// quench::validate on a CUDA engine (engine/validate.cpp with engine/cuda/debug_run.h): the zoo's
// mobilenetv2 in FP16 against its FP32 graph on the model's own input. Skipped without a device,
// and without the model unless QUENCH_REQUIRE_MODELS=1.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "quench/validate.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/models/model_cases.h"

namespace quench::testing {
namespace {

namespace fs = std::filesystem;

class CudaValidate : public gpu_test::GpuTest {};

TEST_F(CudaValidate, EveryLayerIsComparedAndTimed) {
  const fs::path dir = models_dir() / "zoo";
  const fs::path onnx = dir / "mobilenetv2.onnx", input = dir / "mobilenetv2.input.npy";
  if (!fs::exists(onnx) || !fs::exists(input)) {
    if (require_models()) FAIL() << "missing " << onnx << "; run scripts/make_models.sh";
    GTEST_SKIP() << "missing " << onnx << "; run scripts/make_models.sh";
  }
  auto m = load_onnx(onnx.string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto x = load_npy(input.string());
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  BuildOptions opt;
  opt.backend = Backend::kCuda;
  opt.precision = Precision::kFP16;
  auto e = build(*m, opt);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ValidateOptions vo;
  vo.samples.push_back({{m->inputs()[0].name, std::move(x).value()}});
  auto r = validate(*m, *e, vo);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::cout << "mobilenetv2 fp16 on cuda: output error " << r->error << ", first failing layer "
            << (r->first_failing >= 0 ? r->layers[static_cast<size_t>(r->first_failing)].node : "none") << std::endl;
  EXPECT_GT(r->error, 0) << "FP16 differs from FP32 somewhere";
  EXPECT_LT(r->error, 2e-2);
  EXPECT_EQ(r->first_failing, -1);
  int compared = 0;
  for (const LayerValidation& l : r->layers) {
    EXPECT_TRUE(l.seconds > 0 && std::isfinite(l.seconds)) << l.node;
    if (l.rel_l2 >= 0) {
      ++compared;
      EXPECT_TRUE(std::isfinite(l.rel_l2)) << l.node;
    }
  }
  // Every fused convolution writes a tensor the FP32 graph has too (its last fused node's output).
  EXPECT_GT(compared, 30);
}

}  // namespace
}  // namespace quench::testing
