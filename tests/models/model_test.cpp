// Whole models on the CPU reference backend against an independent framework's outputs:
//   zoo/   seeded random-weight torchvision architectures and a YOLO-style detector, against
//          PyTorch computed in float64 (scripts/model_zoo.py)
//   real/  the pretrained PP-OCR det/cls/rec models, against ONNX Runtime (scripts/real_models.py)
// Each model NAME is NAME.onnx with NAME.input.npy and its reference NAME.torch.npy or
// NAME.ort.npy; scripts/make_models.sh makes them all. The check is the relative L2 error of
// the output, ||quench - ref|| / ||ref|| <= 1e-4, and equal shapes.
//
// Environment:
//   QUENCH_MODELS_DIR       where the models are (default <source>/.models)
//   QUENCH_REQUIRE_MODELS=1 a missing model fails its test instead of skipping it (test.sh sets it)
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "quench/quench.h"
#include "quench/tensor.h"
#include "tests/models/model_cases.h"

namespace {

namespace fs = std::filesystem;
using quench::Tensor;
using quench::testing::ModelCase;
using quench::testing::models_dir;
using quench::testing::rel_l2;
using quench::testing::require_models;

constexpr double kMaxRelL2 = 1e-4;







double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}


// Rows [begin, begin + count) of the leading dim, as an owned tensor.
Tensor rows(const Tensor& t, int64_t begin, int64_t count) {
  quench::Shape s = t.shape();
  const int64_t row = t.numel() / s[0];
  s[0] = count;
  const size_t esz = quench::dtype_size(t.dtype());
  return Tensor::copy_of(t.dtype(), s, static_cast<const char*>(t.data()) + begin * row * esz);
}

class Model : public ::testing::TestWithParam<ModelCase> {};

TEST_P(Model, MatchesReference) {
  const ModelCase& c = GetParam();
  const fs::path dir = models_dir() / c.dir;
  const fs::path onnx = dir / (c.name + ".onnx");
  const fs::path input_npy = dir / (c.name + ".input.npy");
  fs::path ref_npy;
  for (const char* suffix : {".torch.npy", ".ort.npy"})
    if (fs::exists(dir / (c.name + suffix))) ref_npy = dir / (c.name + suffix);
  if (!fs::exists(onnx) || !fs::exists(input_npy) || ref_npy.empty()) {
    const std::string what = onnx.string() + " (with .input.npy and .torch.npy/.ort.npy)";
    if (require_models()) FAIL() << "missing " << what << "; run scripts/make_models.sh";
    GTEST_SKIP() << "missing " << what << "; run scripts/make_models.sh";
  }

  auto input = quench::load_npy(input_npy.string());
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  auto ref = quench::load_npy(ref_npy.string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  ASSERT_FALSE(input->shape().empty());
  // A degenerate reference (all zero) would make the comparison meaningless.
  ASSERT_GT(rel_l2(Tensor::zeros(ref->dtype(), ref->shape()), *ref), 0.99) << ref_npy << " is all zero";

  auto t0 = std::chrono::steady_clock::now();
  auto model = quench::load_onnx(onnx.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_EQ(model->inputs().size(), 1u);
  ASSERT_EQ(model->outputs().size(), 1u);
  const quench::TensorInfo& in = model->inputs()[0];
  ASSERT_EQ(in.dtype, input->dtype());

  quench::BuildOptions opt;
  opt.backend = quench::Backend::kCpu;
  opt.precision = quench::Precision::kFP32;
  opt.max_batch = static_cast<int>(input->shape()[0]);
  bool unknown = false;
  for (size_t i = 1; i < in.shape.size(); ++i) unknown = unknown || in.shape[i] < 0;
  if (unknown) opt.input_shapes[in.name] = input->shape();
  auto engine = quench::build(*model, opt);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  const double t_build = seconds_since(t0);

  quench::TensorMap outputs;
  t0 = std::chrono::steady_clock::now();
  quench::Status st = ctx->run({{in.name, *input}}, outputs);
  const double t_run = seconds_since(t0);
  ASSERT_TRUE(st.ok()) << st.to_string();
  const std::string& out_name = model->outputs()[0].name;
  ASSERT_TRUE(outputs.count(out_name)) << "no output '" << out_name << "'";
  const Tensor& out = outputs.at(out_name);
  ASSERT_EQ(out.shape(), ref->shape()) << quench::shape_str(out.shape()) << " vs reference "
                                       << quench::shape_str(ref->shape());
  const double err = rel_l2(out, *ref);
  std::cout << "model " << c.dir << "/" << c.name << ": input " << quench::shape_str(input->shape())
            << ", rel L2 " << std::scientific << std::setprecision(2) << err << std::defaultfloat
            << " vs " << ref_npy.filename().string() << ", load+build " << std::fixed << std::setprecision(2)
            << t_build << " s, run " << t_run << " s" << std::defaultfloat << std::endl;
  EXPECT_LE(err, kMaxRelL2) << c.name;
  EXPECT_TRUE(std::isfinite(err));

  // An engine built for batch N runs any smaller batch: the first sample alone must give the
  // first row of the reference.
  if (opt.max_batch > 1) {
    quench::TensorMap out1;
    st = ctx->run({{in.name, rows(*input, 0, 1)}}, out1);
    ASSERT_TRUE(st.ok()) << "batch 1 on a batch-" << opt.max_batch << " engine: " << st.to_string();
    ASSERT_TRUE(out1.count(out_name));
    const Tensor ref1 = rows(*ref, 0, 1);
    ASSERT_EQ(out1.at(out_name).shape(), ref1.shape());
    const double err1 = rel_l2(out1.at(out_name), ref1);
    std::cout << "model " << c.dir << "/" << c.name << ": batch 1 of " << opt.max_batch << ", rel L2 "
              << std::scientific << std::setprecision(2) << err1 << std::defaultfloat << std::endl;
    EXPECT_LE(err1, kMaxRelL2) << c.name << " at batch 1";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Model, ::testing::ValuesIn(quench::testing::model_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           std::string s = info.param.dir + "_" + info.param.name;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
