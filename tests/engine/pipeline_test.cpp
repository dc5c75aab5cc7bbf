// Context::submit / collect (include/quench/quench.h) on the CPU backend: the contract every
// backend keeps. Outputs come back in submission order with run()'s bits; at most
// pipeline_depth() runs pending (1, or 2 with ContextOptions::pipeline); misuse is
// kFailedPrecondition and leaves the context usable. The CUDA side (two staging slots, runs in
// flight on the device) is tests/gpu/cuda_graph_test.cpp, CudaPipeline.
#include <gtest/gtest.h>

#include "quench/quench.h"
#include "tests/engine/engine_test_models.h"

namespace quench {
namespace {

using testing::random_input;
using testing::same_bits;

Result<Engine> branchy_engine(int max_batch) {
  const std::string bytes = testing::branchy_model();
  QUENCH_ASSIGN(Model m, load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx"));
  BuildOptions opt;
  opt.max_batch = max_batch;
  return build(m, opt);
}

TEST(Pipeline, DepthIsOneUnlessAsked) {
  auto engine = branchy_engine(2);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_FALSE(ContextOptions{}.pipeline);
  auto one = engine->create_context();
  ContextOptions o;
  o.pipeline = true;
  auto two = engine->create_context(o);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->pipeline_depth(), 1);
  EXPECT_EQ(two->pipeline_depth(), 2);
  EXPECT_EQ(one->pending(), 0);
}

TEST(Pipeline, OutputsComeBackInOrderWithTheRunsBits) {
  auto engine = branchy_engine(3);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto ref = engine->create_context();
  ContextOptions o;
  o.pipeline = true;
  auto ctx = engine->create_context(o);
  ASSERT_TRUE(ref.ok() && ctx.ok());
  // Batches vary, so a run collected out of order or from the wrong slot cannot match.
  std::vector<TensorMap> in, want(6);
  for (int r = 0; r < 6; ++r) {
    const int64_t b = 1 + r % 3;
    in.push_back({{"x", random_input({b, 3, 8, 8}, static_cast<uint32_t>(100 + r))}});
    ASSERT_TRUE(ref->run(in[r], want[r]).ok());
  }
  ASSERT_TRUE(ctx->submit(in[0]).ok());
  for (int r = 1; r < 6; ++r) {
    Status st = ctx->submit(in[r]);
    ASSERT_TRUE(st.ok()) << "submit " << r << ": " << st.to_string();
    EXPECT_EQ(ctx->pending(), 2);
    TensorMap got;
    st = ctx->collect(got);
    ASSERT_TRUE(st.ok()) << "collect " << r - 1 << ": " << st.to_string();
    EXPECT_TRUE(same_bits(got, want[r - 1])) << "run " << r - 1;
  }
  TensorMap last;
  ASSERT_TRUE(ctx->collect(last).ok());
  EXPECT_TRUE(same_bits(last, want[5]));
  EXPECT_EQ(ctx->pending(), 0);
}

TEST(Pipeline, MisuseIsAFailedPreconditionAndTheContextStaysUsable) {
  auto engine = branchy_engine(1);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok());
  const TensorMap in{{"x", random_input({1, 3, 8, 8}, 5)}};
  TensorMap want, got;
  ASSERT_TRUE(ctx->run(in, want).ok());

  Status st = ctx->collect(got);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_NE(st.message().find("no submitted run"), std::string::npos) << st.message();

  ASSERT_TRUE(ctx->submit(in).ok());
  st = ctx->submit(in);  // depth 1: one pending already
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_NE(st.message().find("collect one first"), std::string::npos) << st.message();
  st = ctx->run(in, got);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_NE(st.message().find("before run()"), std::string::npos) << st.message();
  EXPECT_EQ(ctx->pending(), 1);

  ASSERT_TRUE(ctx->collect(got).ok());
  EXPECT_TRUE(same_bits(got, want));
  ASSERT_TRUE(ctx->run(in, got).ok());
  EXPECT_TRUE(same_bits(got, want));
}

TEST(Pipeline, BadInputsFailAtSubmitAndQueueNothing) {
  auto engine = branchy_engine(2);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok());
  Status st = ctx->submit({{"x", random_input({1, 3, 8, 9}, 1)}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
  EXPECT_NE(st.message().find("'x'"), std::string::npos) << st.message();
  st = ctx->submit({{"y", random_input({1, 3, 8, 8}, 1)}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
  EXPECT_EQ(ctx->pending(), 0);
  const TensorMap in{{"x", random_input({2, 3, 8, 8}, 2)}};
  ASSERT_TRUE(ctx->submit(in).ok());
  TensorMap got;
  ASSERT_TRUE(ctx->collect(got).ok());
  EXPECT_EQ(got.begin()->second.shape()[0], 2);
}

// As run() does, collect() writes a tensor the caller already holds with the right dtype and
// shape in place (no new allocation the caller did not ask for).
TEST(Pipeline, CollectWritesTheCallersTensorsInPlace) {
  auto engine = branchy_engine(1);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.ok());
  const TensorMap in{{"x", random_input({1, 3, 8, 8}, 9)}};
  TensorMap want;
  ASSERT_TRUE(ctx->run(in, want).ok());
  TensorMap got;
  for (const auto& [name, t] : want) got[name] = Tensor::zeros(t.dtype(), t.shape());
  std::vector<const void*> before;
  for (const auto& [name, t] : got) before.push_back(t.data());
  ASSERT_TRUE(ctx->submit(in).ok());
  ASSERT_TRUE(ctx->collect(got).ok());
  EXPECT_TRUE(same_bits(got, want));
  size_t i = 0;
  for (const auto& [name, t] : got) EXPECT_EQ(t.data(), before[i++]) << name;
}

}  // namespace
}  // namespace quench
