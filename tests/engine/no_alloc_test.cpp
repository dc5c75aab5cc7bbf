// A run allocates nothing once the context exists: operator new is counted across many runs.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "engine/cpu_executor.h"
#include "engine/shape_inference.h"
#include "tests/engine/engine_test_models.h"

namespace {
std::atomic<int64_t> g_allocations{0};
}

// Counting replacements for the whole test binary; they only count, so other tests are unaffected.
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// The nothrow forms too (std::stable_sort's buffer uses them), so every allocation pairs with
// the free() below; a sanitizer reports a mismatched pair.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
// GCC's -Wmismatched-new-delete sees free() of what its model says is a `new` pointer; these
// operators are the replacements themselves, and every form above allocates with malloc().
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace quench {
namespace {

TEST(NoAllocation, CpuRunsAllocateNothingAfterTheFirst) {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = 17;
  g->inputs = {"x"};
  auto& x = g->get_or_add("x");
  x.dtype = DType::kF32;
  x.shape = {2, 256, 256};  // large enough that parallel_for splits the work
  x.has_shape = true;
  const char* ops[] = {"Relu", "Sigmoid", "Tanh", "Neg", "Abs"};
  std::string prev = "x";
  for (int i = 0; i < 5; ++i) {
    ir::Node n;
    n.name = "n" + std::to_string(i);
    n.op_type = ops[i];
    n.inputs = {prev};
    n.outputs = {prev = "v" + std::to_string(i)};
    g->nodes.push_back(n);
  }
  g->outputs = {prev};
  ASSERT_TRUE(ir::validate(*g).ok());
  ASSERT_TRUE(ir::bind_schemas(*g).ok());
  ASSERT_TRUE(infer_shapes(*g, {}).ok());
  auto ex = CpuExecutor::create(g);
  ASSERT_TRUE(ex.ok()) << ex.status().message();

  Tensor in = Tensor::zeros(DType::kF32, {2, 256, 256});
  float* p = in.mutable_data_as<float>();
  for (int64_t i = 0; i < in.numel(); ++i) p[i] = static_cast<float>((i * 7919) % 2001 - 1000) / 500.0f;
  TensorMap feeds{{"x", in}}, outs;
  ASSERT_TRUE((*ex)->run(feeds, outs).ok());  // the first run may create the output tensors
  const int64_t before = g_allocations.load();
  bool all_ok = true;
  for (int r = 0; r < 1000; ++r) all_ok = (*ex)->run(feeds, outs).ok() && all_ok;
  const int64_t allocated = g_allocations.load() - before;  // read before gtest allocates
  ASSERT_TRUE(all_ok);
  EXPECT_EQ(allocated, 0) << "allocations during 1000 runs";
  // And the result is real: Abs(Neg(Tanh(Sigmoid(Relu(x))))) at one element.
  const double x0 = p[12345];
  EXPECT_NEAR(outs[prev].value_as_double(12345), std::tanh(1 / (1 + std::exp(-std::max(0.0, x0)))), 1e-6);
}

TEST(NoAllocation, ContextRunsAtEveryBatchAllocateNothingAfterTheFirst) {
  const std::string bytes = testing::branchy_model();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
  ASSERT_TRUE(m.ok());
  BuildOptions opt;
  opt.max_batch = 3;
  auto engine = build(*m, opt);
  ASSERT_TRUE(engine.ok());
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<TensorMap> feeds, outs(3);
  for (int b = 1; b <= 3; ++b) feeds.push_back({{"x", testing::random_input({b, 3, 8, 8}, b)}});
  for (int b = 0; b < 3; ++b) ASSERT_TRUE(ctx->run(feeds[b], outs[b]).ok());  // outputs made here
  const int64_t before = g_allocations.load();
  bool all_ok = true;
  for (int r = 0; r < 1000; ++r) all_ok = ctx->run(feeds[r % 3], outs[r % 3]).ok() && all_ok;
  const int64_t allocated = g_allocations.load() - before;
  ASSERT_TRUE(all_ok);
  EXPECT_EQ(allocated, 0) << "allocations during 1000 runs across batch sizes 1..3";
}

// Pipelined submit / collect (ContextOptions::pipeline): once each slot has held a run's outputs
// and the caller's tensors exist, two runs in flight allocate nothing either.
TEST(NoAllocation, PipelinedRunsAllocateNothingAfterTheFirst) {
  const std::string bytes = testing::branchy_model();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
  ASSERT_TRUE(m.ok());
  BuildOptions opt;
  opt.max_batch = 2;
  auto engine = build(*m, opt);
  ASSERT_TRUE(engine.ok());
  ContextOptions co;
  co.pipeline = true;
  auto ctx = engine->create_context(co);
  ASSERT_TRUE(ctx.ok());
  const TensorMap feeds{{"x", testing::random_input({2, 3, 8, 8}, 4)}};
  TensorMap out;
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(ctx->submit(feeds).ok());  // each slot's outputs made here
  ASSERT_TRUE(ctx->collect(out).ok());                              // and the caller's
  const int64_t before = g_allocations.load();
  bool all_ok = true;
  for (int r = 0; r < 1000; ++r) all_ok = ctx->submit(feeds).ok() && ctx->collect(out).ok() && all_ok;
  const int64_t allocated = g_allocations.load() - before;
  ASSERT_TRUE(all_ok);
  EXPECT_EQ(allocated, 0) << "allocations during 1000 pipelined runs";
  ASSERT_TRUE(ctx->collect(out).ok());
  EXPECT_EQ(ctx->pending(), 0);
}

}  // namespace
}  // namespace quench
