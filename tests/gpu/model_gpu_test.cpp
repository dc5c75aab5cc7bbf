// Whole models on the CUDA backend (FP16) against the CPU FP32 reference of the same optimized
// graph, on each model's .input.npy (tests/models/model_cases.h).
//
//   CudaCoverage    (no device needed) which models have a CUDA kernel for every node: the
//                   build's coverage check on the host. MobileNetV2, ResNet-50 and PP-OCR's
//                   detector and recognizer must.
//   CudaModel       (skipped without a device) builds the engine, runs it once keeping every
//                   tensor (engine/cuda/debug_run.h) and compares every layer with the CPU
//                   reference op run on the GPU's own inputs, so each layer's error is its own
//                   (relative L2 <= 2e-3, the FP16 kernel tolerance); the report names the first
//                   layer over it. The outputs of an ordinary Context::run are compared with the
//                   CPU run of the whole graph, whose FP16 error accumulates over the layers.
//                   A model with a node that has no CUDA kernel is reported as a known gap.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "engine/api_impl.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/debug_run.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/models/model_cases.h"

namespace quench::testing {
namespace {

namespace fs = std::filesystem;

constexpr double kLayerTolerance = gpu_test::kFp16RelL2Tolerance;
// A whole model's FP16 error against FP32 grows with depth; this bounds it for the zoo.
constexpr double kModelTolerance = 2e-2;

struct Loaded {
  Model model;
  Tensor input;
  BuildOptions options;
};

// The model and its input, or why not (a missing file is a skip unless models are required).
Result<Loaded> load_case(const ModelCase& c) {
  const fs::path dir = models_dir() / c.dir;
  const fs::path onnx = dir / (c.name + ".onnx"), input = dir / (c.name + ".input.npy");
  if (!fs::exists(onnx) || !fs::exists(input))
    return error(StatusCode::kNotFound, "missing ", onnx.string(), " or its .input.npy; run scripts/make_models.sh");
  QUENCH_ASSIGN(Model m, load_onnx(onnx.string()));
  QUENCH_ASSIGN(Tensor x, load_npy(input.string()));
  if (m.inputs().size() != 1) return error(StatusCode::kUnsupported, "the test feeds models with one input");
  Loaded l{std::move(m), std::move(x), {}};
  const TensorInfo& in = l.model.inputs()[0];
  l.options.backend = Backend::kCuda;
  l.options.precision = Precision::kFP16;
  l.options.max_batch = static_cast<int>(l.input.shape()[0]);
  bool unknown = false;
  for (size_t i = 1; i < in.shape.size(); ++i) unknown = unknown || in.shape[i] < 0;
  if (unknown) l.options.input_shapes[in.name] = l.input.shape();
  return l;
}

// The plans build() would make for the model, on the CPU backend (no device needed).
Result<std::shared_ptr<const ExecutionPlan>> cpu_plan(const Loaded& l) {
  BuildOptions cpu = l.options;
  cpu.backend = Backend::kCpu;
  cpu.precision = Precision::kFP32;
  QUENCH_ASSIGN(Engine e, build(l.model, cpu));
  return e.impl().plans.back();
}

class CudaCoverage : public ::testing::TestWithParam<ModelCase> {};

TEST_P(CudaCoverage, EveryNodeHasAKernelOrTheGapIsNamed) {
  const ModelCase& c = GetParam();
  auto l = load_case(c);
  if (!l.ok()) {
    if (require_models()) FAIL() << l.status().to_string();
    GTEST_SKIP() << l.status().to_string();
  }
  auto plan = cpu_plan(*l);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  cuda::DeviceWeights weights;
  auto batch = cuda::prepare_batch(*plan, weights, 132);
  std::cout << "cuda coverage " << c.dir << "/" << c.name << ": "
            << (batch.ok() ? "every node has a CUDA kernel" : batch.status().to_string()) << std::endl;
  if (c.name == "mobilenetv2" || c.name == "mobilenetv2_dynamic" || c.name == "resnet50" || c.name == "ppocr_det" ||
      c.name == "ppocr_rec") {
    ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  }
  if (!batch.ok()) {
    EXPECT_EQ(batch.status().code(), StatusCode::kUnsupported) << batch.status().to_string();
    GTEST_SKIP() << "known gap: " << batch.status().to_string();
  }
  EXPECT_GT(weights.count(), 0u);
  // Spread over up to four streams (BuildOptions::cuda_streams) the device plan must still be
  // safe: plan_device_memory checks itself against the schedule (verify_stream_safety).
  Status one = cuda::plan_batch(**batch, 1);
  ASSERT_TRUE(one.ok()) << one.to_string();
  const int64_t one_arena = (*batch)->memory.memory.arena_bytes;
  Status four = cuda::plan_batch(**batch, 4);
  ASSERT_TRUE(four.ok()) << four.to_string();
  std::cout << "  4 streams allowed: " << (*batch)->schedule.streams << " used, arena "
            << (*batch)->memory.memory.arena_bytes << " bytes (one stream: " << one_arena << ")" << std::endl;
  // yolo_style's detection heads are independent branches.
  if (c.name == "yolo_style") {
    EXPECT_GE((*batch)->schedule.streams, 2);
  }
}

// Runs node `step` of `plan` on the CPU reference with the given input values (float32 host
// tensors, constants from the plan) and returns its outputs.
Result<std::vector<Tensor>> cpu_step(const ExecutionPlan& plan, size_t step, const TensorMap& values) {
  const PlannedStep& s = plan.steps[step];
  const ir::Node& n = *s.node;
  std::vector<Tensor> keep;
  std::vector<ops::TensorView> ins, outs;
  std::vector<ops::ValueDesc> in_desc, out_desc;
  keep.reserve(s.inputs.size() + s.outputs.size());
  for (int v : s.inputs) {
    ops::TensorView tv;
    ops::ValueDesc d;
    if (v >= 0) {
      const PlannedValue& pv = plan.values[v];
      const Tensor* t = pv.constant;
      if (!t) {
        auto it = values.find(pv.name);
        if (it == values.end()) return error(StatusCode::kNotFound, "no GPU value for '", pv.name, "'");
        t = &it->second;
      }
      keep.push_back(t->clone());
      tv = {pv.dtype, pv.shape, const_cast<void*>(keep.back().data())};
      d.dtype = pv.dtype;
      d.shape = pv.shape;
      d.constant = pv.constant;
    } else {
      d.present = false;
    }
    ins.push_back(tv);
    in_desc.push_back(d);
  }
  std::vector<Tensor> results;
  for (int v : s.outputs) {
    ops::TensorView tv;
    ops::ValueDesc d;
    if (v >= 0) {
      const PlannedValue& pv = plan.values[v];
      results.push_back(Tensor::zeros(pv.dtype, pv.shape));
      tv = {pv.dtype, pv.shape, results.back().mutable_data()};
      d.dtype = pv.dtype;
      d.shape = pv.shape;
    } else {
      results.emplace_back();
      d.present = false;
    }
    outs.push_back(tv);
    out_desc.push_back(d);
  }
  const size_t ws = n.schema->workspace_bytes ? n.schema->workspace_bytes(n, in_desc, out_desc) : 0;
  std::vector<std::byte> workspace(ws + 64);
  void* aligned = workspace.data() + (64 - reinterpret_cast<uintptr_t>(workspace.data()) % 64) % 64;
  QUENCH_TRY(n.schema->run_cpu(n, ins, outs, ws ? aligned : nullptr));
  return results;
}

class CudaModel : public gpu_test::GpuTest, public ::testing::WithParamInterface<ModelCase> {};

TEST_P(CudaModel, EveryLayerMatchesTheCpuReference) {
  const ModelCase& c = GetParam();
  auto l = load_case(c);
  if (!l.ok()) {
    if (require_models()) FAIL() << l.status().to_string();
    GTEST_SKIP() << l.status().to_string();
  }
  auto engine = build(l->model, l->options);
  if (!engine.ok() && engine.status().code() == StatusCode::kUnsupported)
    GTEST_SKIP() << "known gap (no CUDA kernel): " << engine.status().to_string();
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const detail::EngineImpl& impl = engine->impl();
  ASSERT_TRUE(impl.cuda);
  const int64_t batch = l->options.max_batch;
  const ExecutionPlan& plan = *impl.plans[batch - 1];
  const std::string in_name = l->model.inputs()[0].name;
  const TensorMap inputs{{in_name, l->input}};

  // Every layer on its own: the CPU reference op on the GPU's inputs.
  auto gpu = cuda::run_keeping_every_tensor(*impl.cuda, batch, inputs);
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  std::ostringstream report;
  int64_t first_bad = -1, compared = 0;
  std::string first_bad_line;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlannedStep& s = plan.steps[i];
    auto ref = cpu_step(plan, i, *gpu);
    ASSERT_TRUE(ref.ok()) << s.node->where() << ": " << ref.status().to_string();
    for (size_t k = 0; k < s.outputs.size(); ++k) {
      if (s.outputs[k] < 0 || !dtype_is_float(plan.values[s.outputs[k]].dtype)) continue;
      const std::string& name = plan.values[s.outputs[k]].name;
      const Tensor& got = gpu->at(name);
      const double err = rel_l2(got, (*ref)[k]);
      const bool bad = !(err <= kLayerTolerance);
      ++compared;
      std::ostringstream line;
      line << std::setw(4) << i << "  " << std::left << std::setw(40) << s.node->where() << std::right << "  '" << name
           << "' rel L2 " << std::scientific << std::setprecision(2) << err << (bad ? "  <-- over tolerance" : "");
      report << line.str() << "\n";
      if (bad && first_bad < 0) {
        first_bad = static_cast<int64_t>(i);
        first_bad_line = line.str();
      }
    }
  }
  std::cout << "cuda layers " << c.dir << "/" << c.name << " (" << compared << " outputs compared):\n"
            << report.str();
  EXPECT_GT(compared, 0);
  EXPECT_LT(first_bad, 0) << "first layer over " << kLayerTolerance << ": " << first_bad_line;

  // The ordinary run path (memory reuse, pinned staging) against the CPU run of the same graph.
  auto cpu = CpuExecutor::create(impl.plans[batch - 1]->graph);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  TensorMap want, got;
  ASSERT_TRUE((*cpu)->run(inputs, want).ok());
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  Status st = ctx->run(inputs, got);
  ASSERT_TRUE(st.ok()) << st.to_string();
  for (const auto& [name, ref] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const double err = rel_l2(got.at(name), ref);
    std::cout << "cuda output " << c.name << " '" << name << "': rel L2 " << err << " vs the CPU FP32 run" << std::endl;
    EXPECT_LE(err, kModelTolerance) << name;
    // The validation run and the ordinary run compute the same thing.
    EXPECT_LE(rel_l2(got.at(name), gpu->at(name)), 1e-6) << name;
  }
  // A second run on the same context gives the same bits (no state left behind).
  TensorMap again;
  ASSERT_TRUE(ctx->run(inputs, again).ok());
  for (const auto& [name, t] : got)
    EXPECT_EQ(std::memcmp(t.data(), again.at(name).data(), t.bytes()), 0) << name;
}

std::string case_name(const ::testing::TestParamInfo<ModelCase>& i) { return i.param.dir + "_" + i.param.name; }

INSTANTIATE_TEST_SUITE_P(Models, CudaCoverage, ::testing::ValuesIn(model_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Models, CudaModel, ::testing::ValuesIn(model_cases()), case_name);

}  // namespace
}  // namespace quench::testing
