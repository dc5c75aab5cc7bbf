// INT8 engines through the public API on the CPU INT8 reference: calibration from a folder,
// mixed precision under a budget, plan files that keep the calibration table, and
// quench::validate's per-output and per-layer report.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "quench/quench.h"
#include "quench/validate.h"
#include "tests/engine/engine_test_models.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

class Int8Engine : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::path(::testing::TempDir()) /
            ("quench_int8_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/calib");
    fs::create_directories(dir_ + "/eval");
    // Calibration and evaluation samples from disjoint seeds, saved without their batch axis.
    for (uint32_t k = 0; k < 16; ++k) {
      ASSERT_TRUE(save_npy(dir_ + "/calib/" + std::to_string(100 + k) + ".npy", testing::random_input({3, 8, 8}, 500 + k)).ok());
      ASSERT_TRUE(save_npy(dir_ + "/eval/" + std::to_string(100 + k) + ".npy", testing::random_input({3, 8, 8}, 900 + k)).ok());
    }
    const std::string bytes = testing::branchy_model(10);
    auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = *m;
  }
  void TearDown() override { fs::remove_all(dir_); }

  BuildOptions int8_options(int max_batch = 1) const {
    BuildOptions o;
    o.precision = Precision::kINT8;
    o.max_batch = max_batch;
    o.int8.calibration_dir = dir_ + "/calib";
    o.int8.method = "max";
    return o;
  }

  std::string dir_;
  Model model_;
};

TEST_F(Int8Engine, RunsCloseToFp32AndReportsEveryProduct) {
  auto e = build(model_, int8_options(2));
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  const Int8Report& r = e->int8_report();
  EXPECT_EQ(r.samples, 16);
  ASSERT_EQ(r.layers.size(), 2u);  // the Conv (with its Relu) and the Gemm
  for (const auto& l : r.layers) EXPECT_EQ(l.precision, Precision::kINT8) << l.node << ": " << l.reason;
  BuildOptions fp32;
  fp32.max_batch = 2;
  auto f = build(model_, fp32);
  ASSERT_TRUE(f.ok());
  auto ci = e->create_context();
  auto cf = f->create_context();
  ASSERT_TRUE(ci.ok() && cf.ok());
  for (int64_t batch : {1, 2}) {
    const TensorMap in{{"x", testing::random_input({batch, 3, 8, 8}, 77)}};
    TensorMap got, want;
    ASSERT_TRUE(ci->run(in, got).ok());
    ASSERT_TRUE(cf->run(in, want).ok());
    const Tensor& a = got.begin()->second;
    const Tensor& b = want.begin()->second;
    ASSERT_EQ(a.shape(), b.shape());
    const double e = testing::rel_l2(a, b);
    EXPECT_LT(e, 0.05) << "batch " << batch;
    EXPECT_GT(e, 0.0) << "an INT8 engine identical to FP32 did not quantize anything";
  }
}

TEST_F(Int8Engine, PlanFileKeepsTheCalibrationTableAndTheBits) {
  auto e = build(model_, int8_options(2));
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  const std::string plan = dir_ + "/int8.qplan", t1 = dir_ + "/t1.txt", t2 = dir_ + "/t2.txt";
  ASSERT_TRUE(e->save(plan).ok());
  auto l = Engine::load(plan);
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  ASSERT_TRUE(e->save_calibration(t1).ok());
  ASSERT_TRUE(l->save_calibration(t2).ok());
  auto read = [](const std::string& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(read(t1), read(t2));
  EXPECT_NE(read(t1).find("tensor "), std::string::npos);
  auto c1 = e->create_context();
  auto c2 = l->create_context();
  const TensorMap in{{"x", testing::random_input({2, 3, 8, 8}, 5)}};
  TensorMap a, b;
  ASSERT_TRUE(c1->run(in, a).ok());
  ASSERT_TRUE(c2->run(in, b).ok());
  EXPECT_TRUE(testing::same_bits(a, b));
  // The exported table builds the same engine without calibrating again.
  BuildOptions o = int8_options(2);
  o.int8.calibration_dir.clear();
  o.int8.calibration_table = t1;
  auto again = build(model_, o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto c3 = again->create_context();
  TensorMap c;
  ASSERT_TRUE(c3->run(in, c).ok());
  EXPECT_TRUE(testing::same_bits(a, c));
  // FP32 engines have no table to export.
  auto f = build(model_, {});
  EXPECT_EQ(f->save_calibration(t2).code(), StatusCode::kInvalidArgument);
}

TEST_F(Int8Engine, ABudgetKeepsSensitiveLayersFloat) {
  BuildOptions o = int8_options();
  o.int8.budget = 1e-12;  // nothing in INT8 meets this: every product stays float
  o.int8.sensitivity_samples = 4;
  auto e = build(model_, o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  for (const auto& l : e->int8_report().layers) {
    EXPECT_EQ(l.precision, Precision::kFP32) << l.node;
    EXPECT_EQ(l.reason, "kept float for accuracy") << l.node;
    EXPECT_GT(l.sensitivity, 0.0) << l.node;
  }
  EXPECT_EQ(e->int8_report().error, 0.0);
  o.int8.budget = 10;  // everything meets this
  auto loose = build(model_, o);
  ASSERT_TRUE(loose.ok());
  for (const auto& l : loose->int8_report().layers) EXPECT_EQ(l.precision, Precision::kINT8) << l.node;
  // A layer the user keeps float stays float whatever the budget.
  o.int8.keep_float = {loose->int8_report().layers.front().node};
  auto kept = build(model_, o);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->int8_report().layers.front().precision, Precision::kFP32);
  EXPECT_EQ(kept->int8_report().layers.front().reason, "kept float by the user: listed to stay float");
}

TEST_F(Int8Engine, MissingCalibrationAndBadOptionsAreClearErrors) {
  BuildOptions o = int8_options();
  o.int8.calibration_dir.clear();
  auto e = build(model_, o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("--calib"), std::string::npos) << e.status().to_string();
  o = int8_options();
  o.int8.method = "median";
  EXPECT_NE(build(model_, o).status().message().find("median"), std::string::npos);
  o = int8_options();
  o.int8.calibration_dir = dir_ + "/missing";
  EXPECT_NE(build(model_, o).status().message().find("missing"), std::string::npos);
  o = int8_options();
  o.int8.calibration_dir.clear();
  o.int8.calibration_table = dir_ + "/missing.txt";
  EXPECT_FALSE(build(model_, o).ok());
  BuildOptions fp16;
  fp16.precision = Precision::kFP16;
  EXPECT_EQ(build(model_, fp16).status().code(), StatusCode::kUnsupported);
}

TEST_F(Int8Engine, ValidateComparesOutputsAndLayersWithTheFp32Reference) {
  auto f = build(model_, {});
  ASSERT_TRUE(f.ok());
  ValidateOptions vo;
  vo.samples_dir = dir_ + "/eval";
  auto r = validate(model_, *f, vo);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->samples, 16);
  EXPECT_LT(r->error, 1e-6);
  EXPECT_EQ(r->first_failing, -1);
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].top1_total, 16);  // Softmax [1, 10]: a classifier output
  EXPECT_EQ(r->outputs[0].top1_agree, 16);
  int64_t compared = 0;
  for (const auto& l : r->layers) compared += l.rel_l2 >= 0;
  EXPECT_GE(compared, 3);

  auto q = build(model_, int8_options());
  ASSERT_TRUE(q.ok());
  vo.iou_threshold = 0.1;
  auto ri = validate(model_, *q, vo);
  ASSERT_TRUE(ri.ok()) << ri.status().to_string();
  EXPECT_GT(ri->error, 0.0);
  EXPECT_LT(ri->error, 0.05);
  EXPECT_GE(ri->outputs[0].iou_mean, 0.0);
  // Under a tolerance nothing meets, the first failing layer is the first that changes a value:
  // the INT8 quantization of the input.
  vo.tolerance = 1e-12;
  auto tight = validate(model_, *q, vo);
  ASSERT_TRUE(tight.ok());
  ASSERT_GE(tight->first_failing, 0);
  EXPECT_EQ(tight->layers[static_cast<size_t>(tight->first_failing)].op_type, "Int8Quantize");
  vo.samples_dir = dir_ + "/none";
  EXPECT_FALSE(validate(model_, *q, vo).ok());
}

}  // namespace
}  // namespace quench
