// The dynamic Batcher on the CPU backend: grouping, correctness against single runs, FIFO
// order, the delay, preferred sizes, a full queue, bad requests, and shutdown with requests in
// flight. Tests that must see "nothing ran yet" use a 10 s delay, so nothing but a full or
// preferred batch (or shutdown) can start one; time limits are generous for a loaded machine.
#include "quench/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/batch_policy.h"
#include "tests/loaders/onnx_test_encoder.h"

namespace quench {
namespace {

namespace pb = quench::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int64_t kLongDelayUs = 10'000'000;  // nothing runs on a timeout within a test
constexpr auto kPatience = 30s;               // a future not ready by then counts as hung

std::vector<float> lcg_values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(s >> 8) % 2001 - 1000) / 1000.0f;
  }
  return v;
}

std::string f32_bytes(const std::vector<float>& v) { return pb::le_bytes(v); }

std::string to_model_bytes(const pb::GraphParts& parts) { return pb::model(pb::graph(parts), 17).str(); }

// A value's dims: a symbolic batch "N" first, then fixed `rest`.
std::vector<pb::Dim> batched(std::initializer_list<int64_t> rest) {
  std::vector<pb::Dim> d{{-1, "N"}};
  for (int64_t r : rest) d.push_back({r, ""});
  return d;
}

// y = Relu(Conv3x3(x, W, B) + z), s = Sigmoid(z); x [N,3,6,6], z [N,4,6,6]. Two inputs and two
// outputs, so gathering and splitting are checked for more than one tensor.
std::string conv_model() {
  pb::GraphParts p;
  p.initializers = {pb::raw_tensor("W", pb::kFloat, {4, 3, 3, 3}, f32_bytes(lcg_values(108, 1))),
                    pb::raw_tensor("B", pb::kFloat, {4}, f32_bytes(lcg_values(4, 2)))};
  p.nodes = {pb::node("Conv", {"x", "W", "B"}, {"c"}, "conv", {pb::attr_ints("pads", {1, 1, 1, 1})}),
             pb::node("Add", {"c", "z"}, {"a"}, "add"), pb::node("Relu", {"a"}, {"y"}, "relu"),
             pb::node("Sigmoid", {"z"}, {"s"}, "sigmoid")};
  p.inputs = {pb::value_info("x", pb::kFloat, batched({3, 6, 6})),
              pb::value_info("z", pb::kFloat, batched({4, 6, 6}))};
  p.outputs = {pb::value_info("y", pb::kFloat, batched({4, 6, 6})),
               pb::value_info("s", pb::kFloat, batched({4, 6, 6}))};
  return to_model_bytes(p);
}

Result<Engine> build_engine(const std::string& bytes, int max_batch = 8) {
  QUENCH_ASSIGN(Model m, load_onnx_from_bytes(bytes.data(), bytes.size(), "batcher_test.onnx"));
  BuildOptions opt;
  opt.max_batch = max_batch;
  return build(m, opt);
}

Engine conv_engine() {
  auto e = build_engine(conv_model());
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return std::move(e).value();
}

TensorMap sample(uint32_t seed) {
  return {{"x", Tensor::from_values(DType::kF32, {1, 3, 6, 6}, lcg_values(108, 1000 + 2 * seed))},
          {"z", Tensor::from_values(DType::kF32, {1, 4, 6, 6}, lcg_values(144, 1001 + 2 * seed))}};
}

// The outputs of `request` run alone (batch 1) through its own context: the oracle.
TensorMap run_alone(const Engine& engine, const TensorMap& request) {
  TensorMap out;
  auto ctx = engine.create_context();
  EXPECT_TRUE(ctx.ok()) << ctx.status().to_string();
  if (ctx.ok()) {
    Status st = ctx->run(request, out);
    EXPECT_TRUE(st.ok()) << st.to_string();
  }
  return out;
}

::testing::AssertionResult same_bits(const TensorMap& got, const TensorMap& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << got.size() << " outputs, want " << want.size();
  bool any_nonzero = false;
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    if (it == got.end()) return ::testing::AssertionFailure() << "no output '" << name << "'";
    const Tensor& g = it->second;
    if (g.dtype() != w.dtype() || g.shape() != w.shape())
      return ::testing::AssertionFailure() << "'" << name << "' is " << shape_str(g.shape()) << ", want "
                                           << shape_str(w.shape());
    if (std::memcmp(g.data(), w.data(), w.bytes()) != 0)
      return ::testing::AssertionFailure() << "'" << name << "' differs from the single run";
    for (int64_t i = 0; i < w.numel(); ++i) any_nonzero = any_nonzero || w.value_as_double(i) != 0;
  }
  if (!any_nonzero) return ::testing::AssertionFailure() << "every output is zero";
  return ::testing::AssertionSuccess();
}

// The future's result, or an error if it is not ready within kPatience (a hang).
Result<TensorMap> get_within(std::future<Result<TensorMap>>& f, std::chrono::milliseconds limit = kPatience) {
  if (f.wait_for(limit) != std::future_status::ready)
    return error(StatusCode::kInternal, "future not ready after ", limit.count(), " ms");
  return f.get();
}

bool is_ready(std::future<Result<TensorMap>>& f) { return f.wait_for(0s) == std::future_status::ready; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

BatcherOptions long_delay(int max_batch = 0) {
  BatcherOptions o;
  o.max_batch = max_batch;
  o.max_queue_delay_us = kLongDelayUs;
  return o;
}

TEST(BatchPolicy, FullBatchThenPreferredSizeThenWhateverIsDue) {
  const std::vector<int> none, pref = {2, 5};
  EXPECT_EQ(choose_batch_size(0, true, 8, none), 0);
  EXPECT_EQ(choose_batch_size(3, false, 8, none), 0);   // not due, not full: wait
  EXPECT_EQ(choose_batch_size(3, true, 8, none), 3);    // due: everything queued
  EXPECT_EQ(choose_batch_size(8, false, 8, none), 8);   // full: at once
  EXPECT_EQ(choose_batch_size(20, false, 8, none), 8);  // never more than max_batch
  EXPECT_EQ(choose_batch_size(1, false, 8, pref), 0);   // below every preferred size
  EXPECT_EQ(choose_batch_size(1, true, 8, pref), 1);
  EXPECT_EQ(choose_batch_size(2, false, 8, pref), 2);
  EXPECT_EQ(choose_batch_size(4, false, 8, pref), 2);   // the largest preferred size reached
  EXPECT_EQ(choose_batch_size(7, true, 8, pref), 5);    // preferred even when due
  EXPECT_EQ(choose_batch_size(9, false, 8, pref), 8);
}

TEST(Batcher, CreateChecksAndResolvesOptions) {
  Engine e = conv_engine();
  auto expect_bad = [&](BatcherOptions o, StatusCode code, const std::string& part) {
    auto b = Batcher::create(e, o);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), code) << b.status().to_string();
    EXPECT_TRUE(contains(b.status().message(), part)) << b.status().message();
  };
  BatcherOptions o;
  o.max_batch = 9;
  expect_bad(o, StatusCode::kInvalidArgument, "max_batch 9 must be in 1..8");
  o = {};
  o.preferred_batch_sizes = {4, 0};
  expect_bad(o, StatusCode::kInvalidArgument, "preferred batch size 0");
  o = {};
  o.max_batch = 4;
  o.preferred_batch_sizes = {5};
  expect_bad(o, StatusCode::kInvalidArgument, "preferred batch size 5 must be in 1..4");
  o = {};
  o.workers = 0;
  expect_bad(o, StatusCode::kInvalidArgument, "workers 0");
  o = {};
  o.max_queue_delay_us = -1;
  expect_bad(o, StatusCode::kOutOfRange, "max_queue_delay_us -1");
  o = {};
  o.max_queue_size = -1;
  expect_bad(o, StatusCode::kInvalidArgument, "max_queue_size -1");

  o = {};
  o.preferred_batch_sizes = {4, 2, 4};
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->options().max_batch, 8);  // 0 took the engine's
  EXPECT_EQ(b->options().preferred_batch_sizes, (std::vector<int>{2, 4}));
  EXPECT_EQ(b->stats().batch_size_histogram.size(), 9u);
}

TEST(Batcher, CreateRejectsAnOutputWithoutTheBatchDim) {
  // ReduceSum over every axis: the output is a scalar, which cannot be split per request.
  pb::GraphParts p;
  p.nodes = {pb::node("ReduceSum", {"x"}, {"t"}, "total", {pb::attr_int("keepdims", 0)})};
  p.inputs = {pb::value_info("x", pb::kFloat, batched({3}))};
  p.outputs = {pb::value_info("t", pb::kFloat, {})};
  auto e = build_engine(to_model_bytes(p));
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  auto b = Batcher::create(*e);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(b.status().message(), "output 't'")) << b.status().message();
}

// y = Reshape(x, [8, -1]) with x [N,3,8]: runs at every batch, but y's leading dim is 8
// whatever the batch, so it cannot be split per request below batch 8.
std::string fixed_reshape_model() {
  pb::GraphParts p;
  p.initializers = {pb::raw_tensor("shape", pb::kInt64, {2}, pb::le_bytes(std::vector<int64_t>{8, -1}))};
  p.nodes = {pb::node("Reshape", {"x", "shape"}, {"y"}, "flatten")};
  p.inputs = {pb::value_info("x", pb::kFloat, batched({3, 8}))};
  p.outputs = {pb::value_info("y", pb::kFloat, {}, false)};
  return to_model_bytes(p);
}

TEST(Batcher, WarmUpFindsAModelThatCannotRunSmallerBatches) {
  auto e = build_engine(fixed_reshape_model());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  auto b = Batcher::create(*e);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kShapeError) << b.status().to_string();
  EXPECT_TRUE(contains(b.status().message(), "warm-up at batch 1")) << b.status().message();
  EXPECT_TRUE(contains(b.status().message(), "output 'y' at batch 1 is float32[8,3], not float32[1,24]"))
      << b.status().message();

  // Without the warm-up the first batch fails instead, and only its own requests learn of it.
  BatcherOptions o;
  o.warm_up = false;
  o.max_queue_delay_us = 0;
  auto cold = Batcher::create(*e, o);
  ASSERT_TRUE(cold.ok()) << cold.status().to_string();
  auto f = cold->submit({{"x", Tensor::from_values(DType::kF32, {1, 3, 8}, lcg_values(24, 3))}});
  auto r = get_within(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kShapeError) << r.status().to_string();
  EXPECT_TRUE(contains(r.status().message(), "batcher: batch of 1 requests")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "does not scale with the batch")) << r.status().message();
  const BatcherStats s = cold->stats();
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.succeeded, 0);
  EXPECT_EQ(s.batches, 1);
}

TEST(Batcher, GroupsSimultaneousRequestsIntoFullBatches) {
  Engine e = conv_engine();
  BatcherOptions o = long_delay();
  o.workers = 2;
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  constexpr int kThreads = 4, kEach = 16;
  std::vector<std::future<Result<TensorMap>>> futures(kThreads * kEach);
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) futures[t * kEach + i] = b->submit(sample(t * kEach + i));
    });
  for (auto& th : threads) th.join();
  for (auto& f : futures) ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
  // 64 requests with a 10 s delay: only full batches can have run, and long before the delay.
  EXPECT_LT(Clock::now() - t0, 5s);
  for (size_t i = 0; i < futures.size(); ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(static_cast<uint32_t>(i))))) << "request " << i;
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.accepted, 64);
  EXPECT_EQ(s.succeeded, 64);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.rejected, 0);
  EXPECT_EQ(s.queued, 0);
  EXPECT_EQ(s.batches, 8);
  std::vector<int64_t> want(9, 0);
  want[8] = 8;
  EXPECT_EQ(s.batch_size_histogram, want);
  EXPECT_EQ(s.run_us.count, 8);
  EXPECT_EQ(s.queue_wait_us.count, 64);
  EXPECT_EQ(s.request_us.count, 64);
  EXPECT_GT(s.run_us.min, 0.0);
  EXPECT_GE(s.request_us.min, s.queue_wait_us.min);
}

TEST(Batcher, EachResultEqualsRunningItAlone) {
  Engine e = conv_engine();
  BatcherOptions o;
  o.workers = 3;
  o.max_queue_delay_us = 500;  // batches of every size form, depending on timing
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  constexpr int kThreads = 4, kEach = 40;
  std::vector<std::future<Result<TensorMap>>> futures(kThreads * kEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        futures[t * kEach + i] = b->submit(sample(500 + t * kEach + i));
        if (i % 7 == 0) std::this_thread::sleep_for(200us);  // vary the batch sizes
      }
    });
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < futures.size(); ++i) {
    auto r = get_within(futures[i]);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(500 + static_cast<uint32_t>(i))))) << "request " << i;
  }
  const BatcherStats s = b->stats();
  int64_t requests_in_batches = 0, batches = 0;
  for (size_t k = 0; k < s.batch_size_histogram.size(); ++k) {
    requests_in_batches += static_cast<int64_t>(k) * s.batch_size_histogram[k];
    batches += s.batch_size_histogram[k];
  }
  EXPECT_EQ(requests_in_batches, kThreads * kEach);
  EXPECT_EQ(batches, s.batches);
  EXPECT_EQ(s.succeeded, kThreads * kEach);
}

TEST(Batcher, TakesTheOldestRequestsFirst) {
  Engine e = conv_engine();
  BatcherOptions o = long_delay(4);
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::future<Result<TensorMap>>> f;
  for (int i = 0; i < 6; ++i) f.push_back(b->submit(sample(i)));
  // The first four form the one full batch; the two newest wait for more.
  for (int i = 0; i < 4; ++i) {
    auto r = get_within(f[i]);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(i))));
  }
  EXPECT_EQ(f[4].wait_for(200ms), std::future_status::timeout);
  EXPECT_FALSE(is_ready(f[5]));
  EXPECT_EQ(b->stats().queued, 2);
  for (int i = 6; i < 8; ++i) f.push_back(b->submit(sample(i)));
  for (int i = 4; i < 8; ++i) {
    auto r = get_within(f[i]);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(i))));
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.batches, 2);
  EXPECT_EQ(s.batch_size_histogram[4], 2);
}

TEST(Batcher, LoneRequestRunsOnceTheDelayHasPassed) {
  Engine e = conv_engine();
  BatcherOptions o;
  o.max_queue_delay_us = 200'000;
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int round = 0; round < 3; ++round) {
    const auto t0 = Clock::now();
    auto f = b->submit(sample(round));
    auto r = get_within(f);
    const auto waited = Clock::now() - t0;
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(round))));
    EXPECT_GE(waited, 200ms);
    // The delay plus a tiny run, with room for a loaded two-core machine.
    EXPECT_LT(waited, 200ms + 500ms);
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.batches, 3);
  EXPECT_EQ(s.batch_size_histogram[1], 3);
  EXPECT_GE(s.queue_wait_us.min, 200'000.0);
  EXPECT_GE(s.request_us.min, 200'000.0);

  // With no delay a lone request runs as soon as a worker takes it.
  BatcherOptions now;
  now.max_queue_delay_us = 0;
  auto quick = Batcher::create(e, now);
  ASSERT_TRUE(quick.ok());
  const auto t0 = Clock::now();
  auto f = quick->submit(sample(9));
  ASSERT_TRUE(get_within(f).ok());
  EXPECT_LT(Clock::now() - t0, 150ms);  // well short of the 200 ms above
}

TEST(Batcher, PreferredSizeRunsWithoutWaitingForTheDelay) {
  Engine e = conv_engine();
  BatcherOptions o = long_delay();
  o.preferred_batch_sizes = {3};
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::future<Result<TensorMap>>> f;
  f.push_back(b->submit(sample(0)));
  f.push_back(b->submit(sample(1)));
  EXPECT_EQ(f[0].wait_for(200ms), std::future_status::timeout);  // 2 is neither full nor preferred
  const auto t0 = Clock::now();
  f.push_back(b->submit(sample(2)));
  for (auto& q : f) ASSERT_EQ(q.wait_for(kPatience), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 5s);
  for (int i = 0; i < 3; ++i) {
    auto r = f[i].get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(i))));
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.batch_size_histogram[3], 1);
}

TEST(Batcher, FullQueueRejectsAtOnceAndKeepsWhatItHas) {
  Engine e = conv_engine();
  BatcherOptions o = long_delay();
  o.max_queue_size = 4;
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::future<Result<TensorMap>>> f;
  for (int i = 0; i < 4; ++i) f.push_back(b->submit(sample(i)));
  auto over = b->submit(sample(4));
  ASSERT_TRUE(is_ready(over));
  auto r = over.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(contains(r.status().message(), "queue is full (4 requests)")) << r.status().message();
  for (auto& q : f) EXPECT_FALSE(is_ready(q));
  EXPECT_EQ(b->stats().queue_full, 1);
  // Draining runs the four at once rather than after the 10 s delay.
  const auto t0 = Clock::now();
  b->shutdown();
  EXPECT_LT(Clock::now() - t0, 5s);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(is_ready(f[i]));
    auto res = f[i].get();
    ASSERT_TRUE(res.ok()) << res.status().to_string();
    EXPECT_TRUE(same_bits(*res, run_alone(e, sample(i))));
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.accepted, 4);
  EXPECT_EQ(s.succeeded, 4);
  EXPECT_EQ(s.rejected, 1);
}

TEST(Batcher, InvalidRequestFailsAloneNamingTheTensorAndShape) {
  Engine e = conv_engine();
  BatcherOptions o = long_delay(4);
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::future<Result<TensorMap>>> good;
  for (int i = 0; i < 3; ++i) good.push_back(b->submit(sample(i)));

  auto expect_rejected = [&](TensorMap req, const std::string& part1, const std::string& part2) {
    auto f = b->submit(std::move(req));
    ASSERT_TRUE(is_ready(f));
    auto r = f.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(r.status().message(), part1)) << r.status().message();
    EXPECT_TRUE(contains(r.status().message(), part2)) << r.status().message();
  };
  TensorMap two = sample(0);
  two["x"] = Tensor::zeros(DType::kF32, {2, 3, 6, 6});  // a batch, not a request
  expect_rejected(two, "'x'", "float32[1,3,6,6]");
  TensorMap wrong_type = sample(0);
  wrong_type["z"] = Tensor::zeros(DType::kF64, {1, 4, 6, 6});
  expect_rejected(wrong_type, "'z'", "float32[1,4,6,6]");
  TensorMap missing = sample(0);
  missing.erase("z");
  expect_rejected(missing, "lacks input 'z'", "float32[1,4,6,6]");
  TensorMap extra = sample(0);
  extra["w"] = Tensor::zeros(DType::kF32, {1});
  expect_rejected(extra, "'w'", "not an input");
  TensorMap undefined = sample(0);
  undefined["x"] = Tensor();
  expect_rejected(undefined, "'x'", "float32[1,3,6,6]");

  // The good requests are untouched: the fourth fills their batch.
  EXPECT_EQ(b->stats().queued, 3);
  good.push_back(b->submit(sample(3)));
  for (int i = 0; i < 4; ++i) {
    auto r = get_within(good[i]);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(i))));
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.invalid_requests, 5);
  EXPECT_EQ(s.rejected, 5);
  EXPECT_EQ(s.accepted, 4);
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.batch_size_histogram[4], 1);
}

// Eight threads submit as fast as they can; two threads shut down at once while requests are
// queued and running. Every future must complete, and the counts must add up.
void shutdown_in_flight(ShutdownMode mode) {
  Engine e = conv_engine();
  constexpr int kSamples = 16, kThreads = 8, kMaxEach = 3000, kRejectionsEach = 10;
  std::vector<TensorMap> want;
  for (int i = 0; i < kSamples; ++i) want.push_back(run_alone(e, sample(i)));
  BatcherOptions o;
  o.workers = 2;
  o.max_queue_delay_us = 1000;
  auto b = Batcher::create(e, o);
  ASSERT_TRUE(b.ok()) << b.status().to_string();

  struct Sent {
    int sample;
    std::future<Result<TensorMap>> future;
  };
  std::vector<std::vector<Sent>> sent(kThreads);
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t)
    clients.emplace_back([&, t] {
      int rejections = 0;
      for (int i = 0; i < kMaxEach && rejections < kRejectionsEach; ++i) {
        const int k = (t * 7 + i) % kSamples;
        sent[t].push_back({k, b->submit(sample(k))});
        auto& f = sent[t].back().future;
        // A rejection after shutdown comes back ready at once.
        if (is_ready(f) && b->stats().after_shutdown > 0) ++rejections;
      }
    });
  while (b->stats().accepted < 200) std::this_thread::sleep_for(1ms);
  std::thread other([&] { b->shutdown(mode); });
  b->shutdown(mode);
  other.join();
  // After shutdown() returns nothing accepted is still waiting.
  EXPECT_EQ(b->stats().queued, 0);
  for (auto& c : clients) c.join();

  int64_t total = 0, ok = 0, cancelled = 0, refused = 0;
  for (auto& per_thread : sent)
    for (Sent& s : per_thread) {
      ++total;
      auto r = get_within(s.future);
      if (r.ok()) {
        ++ok;
        EXPECT_TRUE(same_bits(*r, want[s.sample]));
        continue;
      }
      ASSERT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
      if (contains(r.status().message(), "before the request ran")) {
        ++cancelled;
      } else {
        EXPECT_TRUE(contains(r.status().message(), "shut down; the request was not queued")) << r.status().message();
        ++refused;
      }
    }
  const BatcherStats s = b->stats();
  EXPECT_EQ(ok + cancelled + refused, total);
  EXPECT_EQ(s.accepted + s.rejected, total);
  EXPECT_EQ(s.accepted, ok + cancelled);
  EXPECT_EQ(s.succeeded, ok);
  EXPECT_EQ(s.failed, cancelled);
  EXPECT_EQ(s.after_shutdown, refused);
  EXPECT_EQ(s.rejected, refused);
  EXPECT_GE(s.accepted, 200);
  EXPECT_GE(refused, 1);
  if (mode == ShutdownMode::kDrain) {
    EXPECT_EQ(cancelled, 0);
  }
  std::printf("shutdown (%s) in flight: %lld submitted, %lld ran, %lld cancelled, %lld refused, %lld batches\n",
              mode == ShutdownMode::kDrain ? "drain" : "cancel", static_cast<long long>(total),
              static_cast<long long>(ok), static_cast<long long>(cancelled), static_cast<long long>(refused),
              static_cast<long long>(s.batches));
}

TEST(Batcher, DrainingShutdownWithRequestsInFlightLosesNone) { shutdown_in_flight(ShutdownMode::kDrain); }

TEST(Batcher, CancellingShutdownWithRequestsInFlightLosesNone) { shutdown_in_flight(ShutdownMode::kCancelQueued); }

TEST(Batcher, CancellingShutdownFailsQueuedRequestsClearly) {
  Engine e = conv_engine();
  auto b = Batcher::create(e, long_delay());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::future<Result<TensorMap>>> f;
  for (int i = 0; i < 5; ++i) f.push_back(b->submit(sample(i)));
  b->shutdown(ShutdownMode::kCancelQueued);
  for (auto& q : f) {
    ASSERT_TRUE(is_ready(q));
    auto r = q.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_TRUE(contains(r.status().message(), "shut down before the request ran")) << r.status().message();
  }
  const BatcherStats s = b->stats();
  EXPECT_EQ(s.failed, 5);
  EXPECT_EQ(s.batches, 0);
}

TEST(Batcher, SubmitAfterShutdownFailsAtOnce) {
  Engine e = conv_engine();
  auto b = Batcher::create(e);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  b->shutdown();
  b->shutdown();  // twice is fine
  auto f = b->submit(sample(0));
  ASSERT_TRUE(is_ready(f));
  auto r = f.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(contains(r.status().message(), "shut down")) << r.status().message();
  EXPECT_EQ(b->stats().after_shutdown, 1);

  // A moved-from batcher refuses too, and the moved-to one still works.
  Batcher live = std::move(Batcher::create(e, BatcherOptions{})).value();
  Batcher moved = std::move(live);
  auto g = live.submit(sample(1));  // NOLINT(bugprone-use-after-move): the point of the check
  ASSERT_TRUE(is_ready(g));
  EXPECT_EQ(g.get().status().code(), StatusCode::kUnavailable);
  auto h = moved.submit(sample(1));
  auto rh = get_within(h);
  ASSERT_TRUE(rh.ok()) << rh.status().to_string();
  EXPECT_TRUE(same_bits(*rh, run_alone(e, sample(1))));
}

TEST(Batcher, DestructorRunsPendingRequests) {
  Engine e = conv_engine();
  std::vector<std::future<Result<TensorMap>>> f;
  const auto t0 = Clock::now();
  {
    auto b = Batcher::create(e, long_delay());
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    for (int i = 0; i < 3; ++i) f.push_back(b->submit(sample(i)));
  }
  EXPECT_LT(Clock::now() - t0, 5s);  // drained at once, not after the 10 s delay
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(is_ready(f[i]));
    auto r = f[i].get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(same_bits(*r, run_alone(e, sample(i))));
  }
}

}  // namespace
}  // namespace quench
