// The CUDA backend's host-side decisions, without a device: layout assignment and axis
// remapping (engine/cuda/layout.h), the coverage check and weight preparation
// (engine/cuda/cuda_engine.h), the device memory plan (engine/cuda/device_plan.h), and what
// build() says for Backend::kCuda on a machine without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/device_plan.h"
#include "engine/cuda/layout.h"
#include "tests/engine/engine_test_models.h"
#include "tests/engine/optimizer_test_util.h"

namespace quench::testing {
namespace {

using cuda::GpuLayout;

// The plan an engine makes for `g` at batch 1.
std::shared_ptr<const ExecutionPlan> plan_of(const ir::Graph& g) {
  BuildOptions bo;
  auto sg = specialize_for_batch(g, bo, 1, "test");
  EXPECT_TRUE(sg.ok()) << sg.status().to_string();
  auto p = make_execution_plan(*sg);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return std::make_shared<const ExecutionPlan>(std::move(*p));
}

cuda::LayoutPlan layouts_of(const ExecutionPlan& p) {
  auto l = cuda::assign_layouts(p);
  EXPECT_TRUE(l.ok()) << l.status().to_string();
  return l.ok() ? std::move(*l) : cuda::LayoutPlan{};
}

int step_of(const ExecutionPlan& p, const std::string& node) {
  for (size_t i = 0; i < p.steps.size(); ++i)
    if (p.steps[i].node->name == node) return static_cast<int>(i);
  ADD_FAILURE() << "no step " << node;
  return 0;
}

GpuLayout layout_of(const ExecutionPlan& p, const cuda::LayoutPlan& l, const std::string& value) {
  const int v = p.find(value);
  EXPECT_GE(v, 0) << value;
  return v >= 0 ? l.values[v].layout : GpuLayout::kLogical;
}

Tensor conv_weight(int64_t m, int64_t c, int64_t k, uint32_t seed) { return f32_random({m, c, k, k}, seed); }

// x [1,3,8,8] -> Conv 3x3 pad 1 (C=16) "c" -> ...: the start most tests share.
GraphBuilder conv_start(int64_t channels = 16) {
  GraphBuilder b;
  b.input("x", {1, 3, 8, 8})
      .constant("W", conv_weight(channels, 3, 3, 1))
      .node("conv", "Conv", {"x", "W"}, {"c"}, {{"pads", attr_ints({1, 1, 1, 1})}});
  return b;
}

TEST(CudaLayout, RuleAndHelpers) {
  EXPECT_EQ(cuda::device_dtype(DType::kF32), DType::kF16);
  EXPECT_EQ(cuda::device_dtype(DType::kI64), DType::kI64);
  EXPECT_EQ(cuda::device_dtype(DType::kF64), DType::kUndefined);
  EXPECT_EQ(cuda::natural_layout(DType::kF32, {1, 8, 4, 4}), GpuLayout::kNHWC);
  EXPECT_EQ(cuda::natural_layout(DType::kF32, {1, 8, 16}), GpuLayout::kLogical);
  EXPECT_EQ(cuda::natural_layout(DType::kI64, {1, 8, 4, 4}), GpuLayout::kLogical);
  EXPECT_TRUE(cuda::layouts_coincide({2, 8, 1, 1}));
  EXPECT_TRUE(cuda::layouts_coincide({2, 1, 5, 7}));
  EXPECT_FALSE(cuda::layouts_coincide({2, 8, 1, 2}));
  // ONNX axis -> memory axis of an NHWC [N, C, H, W]; other layouts and ranks are unchanged.
  EXPECT_EQ(ops::physical_axis(GpuLayout::kNHWC, 4, 0), 0);
  EXPECT_EQ(ops::physical_axis(GpuLayout::kNHWC, 4, 1), 3);
  EXPECT_EQ(ops::physical_axis(GpuLayout::kNHWC, 4, 2), 1);
  EXPECT_EQ(ops::physical_axis(GpuLayout::kNHWC, 4, 3), 2);
  EXPECT_EQ(ops::physical_axis(GpuLayout::kLogical, 4, 1), 1);
  EXPECT_EQ(ops::physical_shape(GpuLayout::kNHWC, {2, 3, 4, 5}), (Shape{2, 4, 5, 3}));
  EXPECT_EQ(ops::physical_shape(GpuLayout::kLogical, {2, 3, 4, 5}), (Shape{2, 3, 4, 5}));
}

TEST(CudaLayout, ConvChainIsNhwcAndFlattenOfPooledIsFree) {
  ir::Graph g = conv_start()
                    .node("relu", "Relu", {"c"}, {"r"})
                    .node("gap", "GlobalAveragePool", {"r"}, {"p"})
                    .node("flat", "Flatten", {"p"}, {"f"})
                    .constant("Wg", f32_random({16, 8}, 2))
                    .node("fc", "Gemm", {"f", "Wg"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  EXPECT_EQ(layout_of(*p, l, "x"), GpuLayout::kNHWC);
  EXPECT_EQ(layout_of(*p, l, "c"), GpuLayout::kNHWC);
  EXPECT_EQ(layout_of(*p, l, "p"), GpuLayout::kNHWC);  // [1,16,1,1]
  EXPECT_EQ(layout_of(*p, l, "f"), GpuLayout::kLogical);
  EXPECT_EQ(l.values[p->find("c")].dtype, DType::kF16);
  EXPECT_EQ(l.values[p->find("c")].bytes, 16 * 8 * 8 * 2);
  for (const char* native : {"conv", "relu", "gap"}) EXPECT_TRUE(l.steps[step_of(*p, native)].native) << native;
  // Flatten needs ONNX order, but [N, C, 1, 1] is the same bytes in both: no conversion.
  const cuda::StepLayout& flat = l.steps[step_of(*p, "flat")];
  EXPECT_FALSE(flat.native);
  EXPECT_FALSE(flat.convert_in[0].needed);
  EXPECT_EQ(flat.scratch_bytes, 0);
  EXPECT_EQ(flat.inputs[0], GpuLayout::kLogical);
}

TEST(CudaLayout, ReshapeOfSpatialTensorConvertsToOnnxOrder) {
  ir::Graph g = conv_start()
                    .constant("shape", i64({2}, {1, -1}))
                    .node("reshape", "Reshape", {"c", "shape"}, {"f"})
                    .output("f")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  const cuda::StepLayout& s = l.steps[step_of(*p, "reshape")];
  EXPECT_FALSE(s.native);
  ASSERT_EQ(s.convert_in.size(), 2u);
  EXPECT_TRUE(s.convert_in[0].needed);   // [1,16,8,8] NHWC -> NCHW in scratch
  EXPECT_FALSE(s.convert_in[1].needed);  // the shape constant
  EXPECT_FALSE(s.convert_out[0].needed); // [1,1024] is logical already
  EXPECT_EQ(s.scratch_bytes, 16 * 8 * 8 * 2);
}

TEST(CudaLayout, ConcatAndTransposeRunOnNhwcData) {
  ir::Graph g = conv_start(8)
                    .constant("W2", conv_weight(8, 3, 3, 3))
                    .node("conv2", "Conv", {"x", "W2"}, {"c2"}, {{"pads", attr_ints({1, 1, 1, 1})}})
                    .node("cat", "Concat", {"c", "c2"}, {"cat"}, {{"axis", attr_int(1)}})
                    .node("t", "Transpose", {"cat"}, {"tr"}, {{"perm", attr_ints({0, 2, 3, 1})}})
                    .output("tr")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  EXPECT_TRUE(l.steps[step_of(*p, "cat")].native);
  EXPECT_TRUE(l.steps[step_of(*p, "t")].native);
  EXPECT_EQ(l.steps[step_of(*p, "t")].scratch_bytes, 0);
}

TEST(CudaLayout, SoftmaxOverChannelsIsNativeOtherAxesConvert) {
  for (int64_t axis : {1, -1}) {
    ir::Graph g = conv_start()
                      .node("sm", "Softmax", {"c"}, {"y"}, {{"axis", attr_int(axis)}})
                      .output("y")
                      .build();
    auto p = plan_of(g);
    cuda::LayoutPlan l = layouts_of(*p);
    const cuda::StepLayout& s = l.steps[step_of(*p, "sm")];
    if (axis == 1) {
      EXPECT_TRUE(s.native);
      EXPECT_EQ(s.scratch_bytes, 0);
    } else {
      EXPECT_FALSE(s.native);
      EXPECT_TRUE(s.convert_in[0].needed);
      EXPECT_TRUE(s.convert_out[0].needed);
      EXPECT_EQ(s.convert_out[0].scratch_offset, 16 * 8 * 8 * 2);  // after the input's region
      EXPECT_EQ(s.scratch_bytes, 2 * 16 * 8 * 8 * 2);
    }
  }
}

TEST(CudaLayout, BroadcastOperandsThatReadAsNhwcStayNative) {
  ir::Graph g = conv_start()
                    .constant("bias", f32_random({16, 1, 1}, 4))
                    .node("add", "Add", {"c", "bias"}, {"a"})
                    .input("plane", {16, 8, 8})
                    .node("mul", "Mul", {"a", "plane"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  // [16,1,1] right-aligned is [1,16,1,1]: the same bytes as NHWC [1,1,1,16].
  EXPECT_TRUE(l.steps[step_of(*p, "add")].native);
  // [16,8,8] is not: the step runs in ONNX order, the 4-D operands converted around it.
  const cuda::StepLayout& mul = l.steps[step_of(*p, "mul")];
  EXPECT_FALSE(mul.native);
  EXPECT_TRUE(mul.convert_in[0].needed);
  EXPECT_FALSE(mul.convert_in[1].needed);
  EXPECT_TRUE(mul.convert_out[0].needed);
}

TEST(CudaLayout, OpWithoutKernelIsUnsupportedNamingTheNode) {
  ir::Graph g = conv_start()
                    .node("squash", "Tanh", {"c"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  auto l = cuda::assign_layouts(*p);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(l.status().message().find("no CUDA kernel for Tanh node 'squash'"), std::string::npos)
      << l.status().to_string();
}

TEST(CudaPrepare, ConvTransposeRunsOnNhwcWithItsWeightPackedAndClaimed) {
  ir::Graph g = conv_start()
                    .constant("Wt", conv_weight(16, 4, 2, 5))
                    .constant("Bt", f32_random({4}, 7))
                    .node("up", "ConvTranspose", {"c", "Wt", "Bt"}, {"y"}, {{"strides", attr_ints({2, 2})}})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  EXPECT_TRUE(l.steps[step_of(*p, "up")].native);  // no transposes around it
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  const auto& prep = (*b)->prepared[step_of(*p, "up")];
  ASSERT_EQ(prep.weights.size(), 2u);  // packed weight, float32 bias
  EXPECT_GE(prep.weights[0], 0);
  EXPECT_GE(prep.weights[1], 0);
  EXPECT_TRUE(prep.claimed(1));
  EXPECT_TRUE(prep.claimed(2));
}

TEST(CudaPrepare, ConvWeightsArePackedOnceAndClaimed) {
  ir::Graph g = conv_start()
                    .constant("W2", conv_weight(16, 16, 1, 7))
                    .constant("B", f32_random({16}, 6))
                    .node("conv2", "Conv", {"c", "W2", "B"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  // conv: packed weight + no bias; conv2: packed weight + float32 bias.
  EXPECT_EQ(weights.count(), 3u);
  const auto& prep = (*b)->prepared[step_of(*p, "conv2")];
  ASSERT_EQ(prep.weights.size(), 2u);
  EXPECT_GE(prep.weights[1], 0);
  EXPECT_TRUE(prep.claimed(1));
  EXPECT_TRUE(prep.claimed(2));
  EXPECT_EQ((*b)->constant_inputs[step_of(*p, "conv2")][1], -1);  // not uploaded a second time
  // A second batch's graph shares the weight tensors: nothing new is packed.
  auto again = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(weights.count(), 3u);
}

TEST(CudaLayout, ReduceRunsOnNhwcOnlyWhenTheKeptDimsKeepTheirOrder) {
  // Over H and W ([N, C] out) and keepdims (NHWC out): native; over H alone without keepdims
  // ([N, C, W] in ONNX order, [N, W, C] in memory): a logical step.
  ir::Graph g = conv_start()
                    .node("hw", "ReduceMean", {"c"}, {"a"}, {{"axes", attr_ints({2, 3})}, {"keepdims", attr_int(0)}})
                    .node("keep", "ReduceMax", {"c"}, {"b"}, {{"axes", attr_ints({1})}})
                    .node("h", "ReduceMin", {"c"}, {"d"}, {{"axes", attr_ints({2})}, {"keepdims", attr_int(0)}})
                    .output("a")
                    .output("b")
                    .output("d")
                    .build();
  auto p = plan_of(g);
  cuda::LayoutPlan l = layouts_of(*p);
  EXPECT_TRUE(l.steps[step_of(*p, "hw")].native);
  EXPECT_TRUE(l.steps[step_of(*p, "keep")].native);
  EXPECT_FALSE(l.steps[step_of(*p, "h")].native);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
}

TEST(CudaPrepare, UnsupportedFormNamesTheNode) {
  // MatMul of two activations whose leading dims broadcast in part ([2, 1] against [1, 3]):
  // the batched kernel takes each operand's leading dims whole or all 1.
  ir::Graph g = GraphBuilder()
                    .input("a", {2, 1, 4, 16})
                    .input("b", {1, 3, 16, 8})
                    .node("mm", "MatMul", {"a", "b"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(b.status().message().find("MatMul node 'mm'"), std::string::npos) << b.status().to_string();
  EXPECT_NE(b.status().message().find("broadcast in part"), std::string::npos) << b.status().to_string();
}

TEST(CudaPrepare, MatMulOfTwoActivationsIsBatched) {
  // Attention's products: one operand broadcast ([1, 16, 8] to every head), any K.
  ir::Graph g = GraphBuilder()
                    .input("a", {3, 4, 15})
                    .input("b", {1, 15, 8})
                    .node("mm", "MatMul", {"a", "b"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_TRUE((*b)->prepared[0].weights.empty()) << "no weight: B is an activation";
}

TEST(CudaDevicePlan, Fp16SizesScratchStagingAndReuse) {
  ir::Graph g = conv_start()
                    .node("relu", "Relu", {"c"}, {"r"})
                    .constant("shape", i64({2}, {1, -1}))
                    .node("reshape", "Reshape", {"r", "shape"}, {"f"})
                    .output("f")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<size_t> ws((*b)->prepared.size(), 0);
  auto m = cuda::plan_device_memory(*p, (*b)->layouts, ws);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_GE(m->input_staging[0], 0);   // float32 x passes through staging
  EXPECT_GE(m->output_staging[0], 0);
  EXPECT_EQ(m->value_offsets[p->find("W")], -1);  // weights live outside the arena
  EXPECT_TRUE(m->in_place[step_of(*p, "relu")]);  // c dies at relu
  EXPECT_GE(m->scratch_offsets[step_of(*p, "reshape")], 0);
  EXPECT_EQ(m->scratch_offsets[step_of(*p, "relu")], -1);
  // The FP16 arena is smaller than the CPU's FP32 one for the same graph.
  EXPECT_LT(m->memory.arena_bytes, p->memory.arena_bytes + 2 * 1024 * 4);
  EXPECT_GE(m->memory.arena_bytes, m->memory.lower_bound_bytes);
  // Without reuse every tensor keeps its own bytes (the validation path).
  auto all = cuda::plan_device_memory(*p, (*b)->layouts, ws, false);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->in_place[step_of(*p, "relu")]);
  EXPECT_NE(all->value_offsets[p->find("c")], all->value_offsets[p->find("r")]);
}

TEST(CudaDevicePlan, FlattenOfPooledTensorTakesItsBytes) {
  ir::Graph g = conv_start()
                    .node("gap", "GlobalAveragePool", {"c"}, {"p"})
                    .node("flat", "Flatten", {"p"}, {"f"})
                    .constant("Wg", f32_random({16, 8}, 2))
                    .node("fc", "Gemm", {"f", "Wg"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto b = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<size_t> ws((*b)->prepared.size(), 0);
  auto m = cuda::plan_device_memory(*p, (*b)->layouts, ws);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  // NHWC [1,16,1,1] and logical [1,16] are the same bytes: the Flatten is free.
  EXPECT_TRUE(m->in_place[step_of(*p, "flat")]);
  EXPECT_EQ(m->value_offsets[p->find("p")], m->value_offsets[p->find("f")]);
}

// c feeds two branches (Relu beside Sigmoid) joined by an Add: with two streams the branches may
// overlap, so c must outlive both and neither branch may write over it in place.
TEST(CudaDevicePlan, BranchesOnTwoStreamsKeepSharedInputsAlive) {
  ir::Graph g = conv_start()
                    .node("relu", "Relu", {"c"}, {"a"})
                    .node("sig", "Sigmoid", {"c"}, {"b"})
                    .node("add", "Add", {"a", "b"}, {"y"})
                    .output("y")
                    .build();
  auto p = plan_of(g);
  cuda::DeviceWeights weights;
  auto one = cuda::prepare_batch(p, weights, 132);
  auto two = cuda::prepare_batch(p, weights, 132);
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE(cuda::plan_batch(**one, 1).ok());
  ASSERT_TRUE(cuda::plan_batch(**two, 4).ok());
  const int relu = step_of(*p, "relu"), sig = step_of(*p, "sig"), add = step_of(*p, "add");
  const StreamSchedule& s1 = (*one)->schedule;
  const StreamSchedule& s2 = (*two)->schedule;
  EXPECT_EQ(s1.streams, 1);
  EXPECT_EQ(s2.streams, 2);
  EXPECT_NE(s2.stream_of[relu], s2.stream_of[sig]);
  EXPECT_FALSE(s2.happens_before(relu, sig));
  EXPECT_TRUE(s2.happens_before(sig, add) && s2.happens_before(relu, add));
  // One stream: Sigmoid, c's last reader, takes c's bytes. Two: Relu may still be reading c.
  EXPECT_TRUE((*one)->memory.in_place[sig]);
  EXPECT_FALSE((*two)->memory.in_place[sig]);
  EXPECT_FALSE((*two)->memory.in_place[relu]);
  const auto& v = (*two)->memory.value_offsets;
  EXPECT_NE(v[p->find("c")], v[p->find("a")]);
  EXPECT_NE(v[p->find("c")], v[p->find("b")]);
  EXPECT_NE(v[p->find("a")], v[p->find("b")]);
  EXPECT_TRUE(cuda::verify_stream_safety((*two)->memory, s2).ok());
  // The single-stream plan is not safe on two streams: the independent check says which tensors.
  Status crossed = cuda::verify_stream_safety((*one)->memory, s2);
  EXPECT_EQ(crossed.code(), StatusCode::kInternal);
  EXPECT_NE(crossed.message().find("'c'"), std::string::npos) << crossed.message();
}

bool have_cuda_device() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

TEST(CudaBuild, WithoutDeviceIsUnavailableAndFp32IsRefused) {
  const std::string bytes = branchy_model();
  auto model = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  BuildOptions opt;
  opt.backend = Backend::kCuda;
  opt.precision = Precision::kFP32;
  auto fp32 = build(*model, opt);
  ASSERT_FALSE(fp32.ok());
  EXPECT_EQ(fp32.status().code(), StatusCode::kUnsupported);
  opt.precision = Precision::kFP16;
  opt.max_batch = 2;
  auto e = build(*model, opt);
  if (have_cuda_device()) {
    // With a device the same model builds (every op has a kernel); the GPU tests run it.
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    EXPECT_GT(e->memory().arena_bytes, 0);
    EXPECT_FALSE(e->save("/tmp/quench_cuda_save_test.qplan").ok());
    return;
  }
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable) << e.status().to_string();
  EXPECT_NE(e.status().message().find("no CUDA device"), std::string::npos) << e.status().to_string();
}

}  // namespace
}  // namespace quench::testing
