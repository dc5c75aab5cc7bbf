// INT8 engines on the CUDA backend, on the host (no device): the CPU backend's INT8 build hands
// its quantized plans to the CUDA backend, whose coverage check, layouts and prepare
// (ops/quant_gpu.cpp: every INT8 node checked against the kernels' can_implement on its shapes,
// weights packed, the epilogue's channel tables built and checked against the CPU reference's
// constants) must all pass before a device is needed. What the kernels then compute is checked
// on a GPU by tests/gpu/int8_engine_gpu_test.cpp.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <filesystem>
#include <iostream>

#include "engine/api_impl.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/layout.h"
#include "quench/quench.h"
#include "tests/engine/engine_test_models.h"
#include "tests/engine/optimizer_test_util.h"
#include "tests/models/model_cases.h"

namespace quench::testing {
namespace {

namespace fs = std::filesystem;
using cuda::GpuLayout;

bool have_cuda_device() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

bool is_product(const ir::Node& n) {
  return n.domain == "quench" && (n.op_type == "Int8Conv" || n.op_type == "Int8Gemm" || n.op_type == "Int8MatMul");
}
bool is_int8_op(const ir::Node& n) { return n.domain == "quench" && n.op_type.rfind("Int8", 0) == 0; }

struct Counts {
  int products = 0, int8_ops = 0, int8_values = 0;
};

// The INT8 part of a prepared batch: int8 values held as int8 (4-D activations NHWC), every
// INT8 step native (no layout conversion), products with a packed weight and a channel table.
Counts check_int8_batch(const ExecutionPlan& p, const cuda::CudaBatch& b) {
  Counts c;
  for (size_t v = 0; v < p.values.size(); ++v) {
    const PlannedValue& pv = p.values[v];
    if (pv.dtype != DType::kI8) continue;
    EXPECT_EQ(b.layouts.values[v].dtype, DType::kI8) << pv.name;
    EXPECT_EQ(b.layouts.values[v].bytes, shape_numel(pv.shape)) << pv.name;
    if (pv.constant) continue;
    ++c.int8_values;
    if (pv.shape.size() == 4 && !pv.graph_input && !pv.graph_output) {
      EXPECT_EQ(b.layouts.values[v].layout, GpuLayout::kNHWC) << pv.name;
    }
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const ir::Node& n = *p.steps[i].node;
    if (!is_int8_op(n)) continue;
    ++c.int8_ops;
    EXPECT_TRUE(b.layouts.steps[i].native) << n.name;
    EXPECT_EQ(b.layouts.steps[i].scratch_bytes, 0) << n.name;
    if (!is_product(n)) continue;
    ++c.products;
    EXPECT_EQ(b.prepared[i].weights.size(), 2u) << n.name;  // packed weight, channel table
    if (b.prepared[i].weights.size() != 2) continue;
    EXPECT_GE(b.prepared[i].weights[0], 0) << n.name;
    EXPECT_GE(b.prepared[i].weights[1], 0) << n.name;
    EXPECT_TRUE(b.prepared[i].claimed(1) && b.prepared[i].claimed(2)) << n.name;
  }
  return c;
}

// Calibration samples for the chain model, without their batch axis.
class CudaInt8 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::path(::testing::TempDir()) /
            ("quench_cuda_int8_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/calib");
    for (uint32_t k = 0; k < 8; ++k)
      ASSERT_TRUE(save_npy(dir_ + "/calib/" + std::to_string(100 + k) + ".npy", random_input({3, 8, 8}, 300 + k)).ok());
    const std::string bytes = int8_chain_model();
    auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "int8_chain.onnx");
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = *m;
  }
  void TearDown() override { fs::remove_all(dir_); }

  BuildOptions options(Backend backend, int max_batch) const {
    BuildOptions o;
    o.backend = backend;
    o.precision = Precision::kINT8;
    o.max_batch = max_batch;
    o.int8.calibration_dir = dir_ + "/calib";
    o.int8.method = "max";
    return o;
  }

  std::string dir_;
  Model model_;
};

TEST_F(CudaInt8, ChainOfConvolutionsPreparesEveryNodeInInt8) {
  auto e = build(model_, options(Backend::kCpu, 2));
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  for (const auto& l : e->int8_report().layers) EXPECT_EQ(l.precision, Precision::kINT8) << l.node << ": " << l.reason;
  cuda::DeviceWeights weights;
  size_t first_count = 0;
  for (const auto& plan : e->impl().plans) {
    ASSERT_TRUE(plan);
    auto b = cuda::prepare_batch(plan, weights, 132);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    const Counts c = check_int8_batch(*plan, **b);
    // Every node is INT8: one Int8Quantize of x and four products; the last dequantizes in its
    // epilogue (float16 output on the GPU).
    EXPECT_EQ(c.products, 4);
    // int8 on the device: x quantized and the outputs of conv1, conv2 and dw3 (the GPU test
    // compares exactly these four with the CPU INT8 reference).
    EXPECT_EQ(c.int8_values, 4);
    EXPECT_EQ(c.int8_ops, static_cast<int>(plan->steps.size()));
    const int y = plan->find("y");
    ASSERT_GE(y, 0);
    EXPECT_EQ((*b)->layouts.values[y].dtype, DType::kF16);
    EXPECT_EQ((*b)->layouts.values[y].layout, GpuLayout::kNHWC);
    if (first_count == 0) first_count = weights.count();
  }
  // The per-batch graphs share their weights: packed and tabled once (4 weights + 4 tables).
  EXPECT_EQ(first_count, 8u);
  EXPECT_EQ(weights.count(), first_count);
}

TEST_F(CudaInt8, BuildNeedsOnlyADeviceAfterTheInt8Build) {
  auto e = build(model_, options(Backend::kCuda, 2));
  if (have_cuda_device()) {
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    EXPECT_FALSE(e->int8_report().layers.empty());
    return;
  }
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable) << e.status().to_string();
  EXPECT_NE(e.status().message().find("no CUDA device"), std::string::npos) << e.status().to_string();
  // fp32 stays refused on the cuda backend.
  BuildOptions fp32 = options(Backend::kCuda, 1);
  fp32.precision = Precision::kFP32;
  fp32.int8 = {};
  auto f = build(model_, fp32);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnsupported) << f.status().to_string();
}

// The plan an engine makes for a hand-built graph at batch 1.
std::shared_ptr<const ExecutionPlan> plan_of(const ir::Graph& g) {
  BuildOptions bo;
  auto sg = specialize_for_batch(g, bo, 1, "test");
  EXPECT_TRUE(sg.ok()) << sg.status().to_string();
  if (!sg.ok()) return nullptr;
  auto p = make_execution_plan(*sg);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  if (!p.ok()) return nullptr;
  return std::make_shared<const ExecutionPlan>(std::move(*p));
}

Tensor int8_weight(Shape shape, uint32_t seed) {
  const int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  const auto f = lcg_floats(v.size(), seed);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::round(f[i] * 127.0f);
  return typed(DType::kI8, std::move(shape), v);
}

Tensor scales(int64_t n) { return f32({n}, std::vector<float>(static_cast<size_t>(n), 0.01f)); }

TEST(CudaInt8Ops, GemmWithUnalignedKRunsAsAOneByOneConvolution) {
  // K = 20 is not a multiple of 16: the GEMM cannot read X rows as vectors; the product is
  // prepared on int8_conv's byte gather instead, with W [N, K] (transB) and [K, N] alike.
  for (int64_t trans_b : {0, 1}) {
    ir::Graph g = GraphBuilder()
                      .input("x", {4, 20})
                      .constant("W", int8_weight(trans_b ? Shape{8, 20} : Shape{20, 8}, 7))
                      .constant("S", scales(8))
                      .constant("B", i32({8}, {1, -2, 3, -4, 5, -6, 7, -8}))
                      .node("q", "Int8Quantize", {"x"}, {"xq"}, {{"scale", attr_float(0.05f)}})
                      .domain("quench")
                      .node("gemm", "Int8Gemm", {"xq", "W", "S", "B"}, {"y"},
                            {{"x_scale", attr_float(0.05f)}, {"output_type", attr_int(1)}, {"transB", attr_int(trans_b)}})
                      .domain("quench")
                      .output("y")
                      .build();
    auto p = plan_of(g);
    ASSERT_TRUE(p);
    cuda::DeviceWeights w;
    auto b = cuda::prepare_batch(p, w, 132);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    const Counts c = check_int8_batch(*p, **b);
    EXPECT_EQ(c.products, 1);
    EXPECT_EQ(c.int8_ops, 2);
    EXPECT_EQ(w.count(), 2u);
  }
}

TEST(CudaInt8Ops, AnInt8NhwcValueInALogicalStepIsRefusedNamingTheNode) {
  // Int8MatMul reads its X in ONNX order; a 4-D int8 activation is NHWC, and the executor
  // converts only float16 values: refused at the coverage check, naming the node.
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 2, 4, 16})
                    .constant("W", int8_weight({16, 8}, 9))
                    .constant("S", scales(8))
                    .node("q", "Int8Quantize", {"x"}, {"xq"}, {{"scale", attr_float(0.05f)}})
                    .domain("quench")
                    .node("mm", "Int8MatMul", {"xq", "W", "S"}, {"y"},
                          {{"x_scale", attr_float(0.05f)}, {"output_type", attr_int(1)}})
                    .domain("quench")
                    .output("y")
                    .build();
  auto p = plan_of(g);
  ASSERT_TRUE(p);
  cuda::DeviceWeights w;
  auto b = cuda::prepare_batch(p, w, 132);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(b.status().message().find("Int8MatMul node 'mm'"), std::string::npos) << b.status().to_string();
}

TEST(CudaInt8Ops, UnsupportedFormsAreRefusedNamingTheNode) {
  // A 1-D convolution has no INT8 kernel (2-D only).
  ir::Graph g = GraphBuilder()
                    .input("x", {1, 4, 16})
                    .constant("W", int8_weight({8, 4, 3}, 5))
                    .constant("S", scales(8))
                    .node("q", "Int8Quantize", {"x"}, {"xq"}, {{"scale", attr_float(0.05f)}})
                    .domain("quench")
                    .node("conv1d", "Int8Conv", {"xq", "W", "S"}, {"y"},
                          {{"x_scale", attr_float(0.05f)}, {"output_type", attr_int(1)}})
                    .domain("quench")
                    .output("y")
                    .build();
  auto p = plan_of(g);
  ASSERT_TRUE(p);
  cuda::DeviceWeights w;
  auto b = cuda::prepare_batch(p, w, 132);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported) << b.status().to_string();
  EXPECT_NE(b.status().message().find("Int8Conv node 'conv1d'"), std::string::npos) << b.status().to_string();
}

// The zoo's ResNet-50 and MobileNetV2, INT8 (calibrated on their .input.npy): every quantized
// node has a GPU op that accepts its shapes, and build() for the cuda backend gets as far as the
// device.
class CudaInt8Zoo : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaInt8Zoo, EveryQuantizedNodePreparesAndOnlyTheDeviceIsMissing) {
  const fs::path zoo = models_dir() / "zoo";
  const fs::path onnx = zoo / (GetParam() + ".onnx"), input = zoo / (GetParam() + ".input.npy");
  if (!fs::exists(onnx) || !fs::exists(input)) {
    if (require_models()) FAIL() << "missing " << onnx << "; run scripts/make_models.sh";
    GTEST_SKIP() << "missing " << onnx << "; run scripts/make_models.sh";
  }
  auto m = load_onnx(onnx.string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto x = load_npy(input.string());
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  ASSERT_EQ(x->shape()[0], 1);
  const fs::path dir = fs::path(::testing::TempDir()) / ("quench_cuda_int8_zoo_" + GetParam());
  fs::remove_all(dir);
  fs::create_directories(dir / "calib");
  ASSERT_TRUE(save_npy((dir / "calib" / "0.npy").string(), *x).ok());
  BuildOptions o;
  o.precision = Precision::kINT8;
  o.max_batch = 1;
  o.int8.calibration_dir = (dir / "calib").string();
  o.int8.method = "max";
  const TensorInfo& in = m->inputs()[0];
  for (size_t i = 0; i < in.shape.size(); ++i)
    if (in.shape[i] < 0) o.input_shapes[in.name] = x->shape();
  auto e = build(*m, o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  int int8_layers = 0;
  for (const auto& l : e->int8_report().layers) int8_layers += l.precision == Precision::kINT8;
  EXPECT_GT(int8_layers, 20);

  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(e->impl().plans.back(), weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  const Counts c = check_int8_batch(*e->impl().plans.back(), **b);
  EXPECT_EQ(c.products, int8_layers);
  EXPECT_GT(c.int8_values, 0);
  std::cout << GetParam() << " int8 on cuda: " << c.products << " INT8 products and " << c.int8_ops - c.products
            << " conversions prepared, " << c.int8_values << " int8 activations, " << weights.count()
            << " device weights" << std::endl;

  // The same build for the cuda backend, from the table (no second calibration).
  const std::string table = (dir / "table.txt").string();
  ASSERT_TRUE(e->save_calibration(table).ok());
  o.backend = Backend::kCuda;
  o.int8.calibration_dir.clear();
  o.int8.calibration_table = table;
  auto g = build(*m, o);
  if (have_cuda_device()) {
    EXPECT_TRUE(g.ok()) << g.status().to_string();
  } else {
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), StatusCode::kUnavailable) << g.status().to_string();
    EXPECT_NE(g.status().message().find("no CUDA device"), std::string::npos) << g.status().to_string();
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Zoo, CudaInt8Zoo, ::testing::Values("resnet50", "mobilenetv2"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace quench::testing
