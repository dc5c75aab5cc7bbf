// Several contexts of one engine on several threads give exactly the outputs of one thread,
// at every batch size; the weights are shared, each context has its own arena. The
// ThreadSanitizer stage of scripts/test.sh runs these too.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "quench/quench.h"
#include "tests/engine/engine_test_models.h"

namespace quench {
namespace {

using testing::random_input;

TEST(Concurrency, EightThreadsTimesAThousandRunsMatchOneThread) {
  const std::string bytes = testing::branchy_model();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
  ASSERT_TRUE(m.ok());
  BuildOptions opt;
  opt.max_batch = 4;
  auto engine = build(*m, opt);
  ASSERT_TRUE(engine.ok()) << engine.status().message();

  // Expected outputs for a set of inputs of every batch size, from one context on this thread.
  constexpr int kInputs = 16;
  std::vector<TensorMap> inputs(kInputs), expected(kInputs);
  {
    auto ctx = engine->create_context();
    ASSERT_TRUE(ctx.ok());
    for (int i = 0; i < kInputs; ++i) {
      inputs[i] = {{"x", random_input({1 + i % 4, 3, 8, 8}, 1000 + i)}};
      ASSERT_TRUE(ctx->run(inputs[i], expected[i]).ok());
    }
  }

  constexpr int kThreads = 8, kRuns = 1000;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto ctx = engine->create_context();
      if (!ctx.ok()) {
        failures += kRuns;
        return;
      }
      std::vector<TensorMap> outs(kInputs);  // one per input, so no run reallocates
      for (int r = 0; r < kRuns; ++r) {
        const int i = (r * 7 + t) % kInputs;  // threads interleave different batch sizes
        if (!ctx->run(inputs[i], outs[i]).ok()) {
          ++failures;
          continue;
        }
        if (!testing::same_bits(outs[i], expected[i])) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0) << "of " << kThreads * kRuns << " runs";
}

TEST(Concurrency, ContextsShareWeightsButNotArenas) {
  const std::string bytes = testing::branchy_model();
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
  ASSERT_TRUE(m.ok());
  auto engine = build(*m, {});
  ASSERT_TRUE(engine.ok());
  auto a = engine->create_context(), b = engine->create_context();
  ASSERT_TRUE(a.ok() && b.ok());
  TensorMap in1{{"x", random_input({1, 3, 8, 8}, 1)}}, in2{{"x", random_input({1, 3, 8, 8}, 2)}};
  TensorMap o1, o2, o1_again;
  // Interleaved: b's run must not disturb what a computes.
  ASSERT_TRUE(a->run(in1, o1).ok());
  ASSERT_TRUE(b->run(in2, o2).ok());
  ASSERT_TRUE(a->run(in1, o1_again).ok());
  EXPECT_TRUE(testing::same_bits(o1, o1_again));
  EXPECT_FALSE(testing::same_bits(o1, o2));
}

}  // namespace
}  // namespace quench
