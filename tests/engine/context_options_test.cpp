// ContextOptions on the CPU backend: cuda_graph is ignored (either value runs, and gives the
// same bits as the default context), a CUDA stream is refused with a message that says why,
// and no CPU context claims to use CUDA graphs. The CUDA side is tests/gpu/cuda_graph_test.cpp.
#include <gtest/gtest.h>

#include "quench/quench.h"
#include "tests/engine/engine_test_models.h"

namespace quench {
namespace {

using testing::random_input;

Result<Engine> branchy_engine(int max_batch) {
  const std::string bytes = testing::branchy_model();
  QUENCH_ASSIGN(Model m, load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx"));
  BuildOptions opt;
  opt.max_batch = max_batch;
  return build(m, opt);
}

TEST(ContextOptions, DefaultsAreOwnStreamAndGraphsOn) {
  const ContextOptions o;
  EXPECT_EQ(o.stream, nullptr);
  EXPECT_TRUE(o.cuda_graph);
  EXPECT_FALSE(o.device_timing);
}

// Device timing is a CUDA measurement: a CPU context accepts the option and reports nothing.
TEST(ContextOptions, CpuHasNoDeviceTime) {
  auto engine = branchy_engine(1);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ContextOptions o;
  o.device_timing = true;
  auto ctx = engine->create_context(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  EXPECT_EQ(ctx->last_device_seconds(), -1.0);
  const TensorMap in{{"x", random_input({1, 3, 8, 8}, 7)}};
  TensorMap out;
  ASSERT_TRUE(ctx->run(in, out).ok());
  EXPECT_EQ(ctx->last_device_seconds(), -1.0);
}

TEST(ContextOptions, CpuIgnoresCudaGraphAndGivesTheDefaultContextsBits) {
  auto engine = branchy_engine(3);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto plain = engine->create_context();
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_FALSE(plain->uses_cuda_graph());
  for (bool graphs : {true, false}) {
    ContextOptions o;
    o.cuda_graph = graphs;
    auto ctx = engine->create_context(o);
    ASSERT_TRUE(ctx.ok()) << "cuda_graph " << graphs << ": " << ctx.status().to_string();
    EXPECT_FALSE(ctx->uses_cuda_graph()) << "the cpu backend has no CUDA graphs";
    for (int64_t b = 1; b <= 3; ++b) {
      const TensorMap in{{"x", random_input({b, 3, 8, 8}, static_cast<uint32_t>(10 + b))}};
      TensorMap want, got;
      ASSERT_TRUE(plain->run(in, want).ok());
      Status st = ctx->run(in, got);
      ASSERT_TRUE(st.ok()) << st.to_string();
      EXPECT_TRUE(testing::same_bits(got, want)) << "batch " << b << ", cuda_graph " << graphs;
    }
  }
}

TEST(ContextOptions, CpuRefusesACudaStream) {
  auto engine = branchy_engine(1);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  int not_a_stream = 0;  // never dereferenced: the cpu backend refuses any non-null stream
  for (bool graphs : {true, false}) {
    ContextOptions o;
    o.stream = &not_a_stream;
    o.cuda_graph = graphs;
    auto ctx = engine->create_context(o);
    ASSERT_FALSE(ctx.ok());
    EXPECT_EQ(ctx.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = ctx.status().message();
    EXPECT_NE(msg.find("ContextOptions::stream"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu backend"), std::string::npos) << msg;
  }
}

TEST(ContextOptions, MovedFromContextDoesNotClaimGraphs) {
  auto engine = branchy_engine(1);
  ASSERT_TRUE(engine.ok());
  auto ctx = engine->create_context(ContextOptions{});
  ASSERT_TRUE(ctx.ok());
  Context moved = std::move(*ctx);
  EXPECT_FALSE(moved.uses_cuda_graph());
  EXPECT_FALSE(ctx->uses_cuda_graph());  // NOLINT(bugprone-use-after-move): the handle is empty, not broken
}

}  // namespace
}  // namespace quench
