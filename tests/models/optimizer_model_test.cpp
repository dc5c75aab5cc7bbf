// The optimizer on every zoo and real model: the optimized graph's CPU reference output must
// match the unoptimized graph's within relative L2 1e-5, at batch 1 and (for a model whose
// input has a batch of 2, the dynamic MobileNetV2) at batch 2 as well, with fewer launches.
//
// Same models and environment as model_test.cpp: QUENCH_MODELS_DIR, QUENCH_REQUIRE_MODELS=1.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "engine/api_impl.h"
#include "engine/batch_graph.h"
#include "engine/execution_plan.h"
#include "engine/optimizer/launches.h"
#include "engine/optimizer/optimizer.h"
#include "tests/models/model_cases.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

constexpr double kMaxRelL2 = 1e-5;
using testing::ModelCase;
using testing::models_dir;
using testing::rel_l2;
using testing::require_models;








Tensor first_rows(const Tensor& t, int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  return Tensor::copy_of(t.dtype(), s, t.data());
}

struct Outcome {
  TensorMap outputs;
  int64_t launches = 0;
};

Result<Outcome> run(std::shared_ptr<const ir::Graph> g, const TensorMap& in) {
  QUENCH_ASSIGN(auto plan, make_execution_plan(g));
  Outcome o;
  o.launches = count_launches(plan);
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(std::make_shared<const ExecutionPlan>(std::move(plan))));
  QUENCH_TRY(ex->run(in, o.outputs));
  return o;
}

class OptimizedModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(OptimizedModel, MatchesUnoptimized) {
  const ModelCase& c = GetParam();
  const fs::path onnx = models_dir() / c.dir / (c.name + ".onnx");
  const fs::path input_npy = models_dir() / c.dir / (c.name + ".input.npy");
  if (!fs::exists(onnx) || !fs::exists(input_npy)) {
    if (require_models()) FAIL() << "missing " << onnx << " or its .input.npy; run scripts/make_models.sh";
    GTEST_SKIP() << "missing " << onnx << "; run scripts/make_models.sh";
  }
  auto input = load_npy(input_npy.string());
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  auto model = load_onnx(onnx.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_EQ(model->inputs().size(), 1u);
  const TensorInfo& in = model->inputs()[0];
  const ir::Graph& graph = model->impl().model.graph;

  BuildOptions bo;
  bo.max_batch = static_cast<int>(input->shape()[0]);
  for (size_t i = 1; i < in.shape.size(); ++i)
    if (in.shape[i] < 0) bo.input_shapes[in.name] = input->shape();
  ir::Graph optimized = graph;
  OptimizeReport report;
  Status st = optimize_graph(optimized, OptimizeOptions::from(bo), &report);
  ASSERT_TRUE(st.ok()) << st.to_string();

  // The input's own batch, and batch 1 of the same engine when that is larger.
  std::vector<int64_t> batches = {bo.max_batch};
  if (bo.max_batch > 1) batches.push_back(1);
  for (int64_t batch : batches) {
    const TensorMap feeds = {{in.name, batch == input->shape()[0] ? *input : first_rows(*input, batch)}};
    auto plain_g = specialize_for_batch(graph, bo, batch, c.name);
    ASSERT_TRUE(plain_g.ok()) << plain_g.status().to_string();
    auto opt_g = specialize_optimized(optimized, bo, batch, c.name, nullptr);
    ASSERT_TRUE(opt_g.ok()) << opt_g.status().to_string();
    auto plain = run(*plain_g, feeds);
    ASSERT_TRUE(plain.ok()) << plain.status().to_string();
    auto opt = run(*opt_g, feeds);
    ASSERT_TRUE(opt.ok()) << opt.status().to_string();
    for (const auto& [name, want] : plain->outputs) {
      ASSERT_TRUE(opt->outputs.count(name)) << "the optimized graph lost output '" << name << "'";
      const Tensor& got = opt->outputs.at(name);
      ASSERT_EQ(got.shape(), want.shape()) << name;
      ASSERT_GT(rel_l2(Tensor::zeros(want.dtype(), want.shape()), want), 0.99) << name << " is all zero";
      const double err = rel_l2(got, want);
      std::cout << "optimized " << c.dir << "/" << c.name << " batch " << batch << ": nodes "
                << (*plain_g)->nodes.size() << " -> " << (*opt_g)->nodes.size() << ", launches " << plain->launches
                << " -> " << opt->launches << ", rel L2 " << std::scientific << std::setprecision(2) << err
                << std::defaultfloat << std::endl;
      EXPECT_LE(err, kMaxRelL2) << c.name << " output " << name << " at batch " << batch;
      EXPECT_TRUE(std::isfinite(err));
    }
    EXPECT_LT(opt->launches, plain->launches) << c.name << ": the optimizer fused nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, OptimizedModel, ::testing::ValuesIn(quench::testing::model_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           std::string s = info.param.dir + "_" + info.param.name;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace quench
