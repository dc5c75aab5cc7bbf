// CUDA graphs and caller streams on the CUDA backend (engine/cuda/cuda_context.h), on the model
// zoo's mobilenetv2_dynamic (dynamic batch) built for max_batch 3. Skipped without a device, and
// without the model unless QUENCH_REQUIRE_MODELS=1 (tests/models/model_cases.h).
//
//   GraphsMatchKernelByKernelBitForBit  every batch 1..3: a context replaying CUDA graphs and one
//                                       launching kernel by kernel give the same bits
//   CallersStreamGivesTheSameOutputs    contexts on a caller's streams (blocking and
//                                       non-blocking), graphs on and off, give those bits too
//   AThousandRunsGiveIdenticalOutputs   1000 runs on one context, batches interleaved
//   StepByStepEnqueueMatchesTheRun      the executor's pieces (enqueue_inputs, enqueue_step with
//                                       an event after every step, enqueue_outputs), as a
//                                       profiler calls them, give the run's bits
//   DeviceTimingMeasuresEachRun         ContextOptions::device_timing: a positive device time per
//                                       run, under the host's, outputs unchanged
//   FirstRunIsNotSlowerThanLaterRuns    create_context did the lazy work (module loading, graph
//                                       upload): the first run is within 2x the
//                                       median of the next 100
//   PipelinedRunsMatchTheRuns           ContextOptions::pipeline: submit/collect with two runs in
//                                       flight give the eager bits, in order, graphs on and off;
//                                       prints run() beside submit/collect throughput
//   CudaStreams.*                       BuildOptions::cuda_streams on the zoo's yolo_style: branches
//                                       on several streams give one stream's bits, run after run
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <vector>

#include "engine/api_impl.h"
#include "engine/cuda/cuda_context.h"
#include "tests/engine/engine_test_models.h"
#include "tests/gpu/gpu_harness.h"
#include "tests/models/model_cases.h"

namespace quench::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxBatch = 3;

// Fresh random inputs in [-1, 1), never all zero.
Tensor random_image(int64_t batch, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::kF32, {batch, 3, 224, 224});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  float* p = static_cast<float*>(t.mutable_data());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

// Outputs that a run really wrote: finite (the arena's poison is NaN) and not all zero.
::testing::AssertionResult plausible(const TensorMap& outs) {
  if (outs.empty()) return ::testing::AssertionFailure() << "no outputs";
  for (const auto& [name, t] : outs) {
    if (t.dtype() != DType::kF32) continue;
    const float* p = static_cast<const float*>(t.data());
    bool nonzero = false;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(p[i])) return ::testing::AssertionFailure() << "'" << name << "'[" << i << "] = " << p[i];
      nonzero = nonzero || p[i] != 0.f;
    }
    if (!nonzero) return ::testing::AssertionFailure() << "'" << name << "' is all zero";
  }
  return ::testing::AssertionSuccess();
}

class CudaGraph : public gpu_test::GpuTest {
 protected:
  void SetUp() override {
    gpu_test::GpuTest::SetUp();
    if (IsSkipped()) return;
    const fs::path onnx = models_dir() / "zoo" / "mobilenetv2_dynamic.onnx";
    if (!fs::exists(onnx)) {
      if (require_models()) FAIL() << "missing " << onnx << "; run scripts/make_models.sh";
      GTEST_SKIP() << "missing " << onnx << "; run scripts/make_models.sh";
    }
    auto m = load_onnx(onnx.string());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    input_name_ = m->inputs()[0].name;
    BuildOptions opt;
    opt.backend = Backend::kCuda;
    opt.precision = Precision::kFP16;
    opt.max_batch = kMaxBatch;
    auto e = build(*m, opt);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    engine_ = std::move(e).value();
    for (int b = 1; b <= kMaxBatch; ++b) inputs_.push_back({{input_name_, random_image(b, 100 + b)}});
  }

  // The reference: kernel by kernel on the context's own stream.
  std::vector<TensorMap> eager_outputs() {
    std::vector<TensorMap> out(kMaxBatch);
    ContextOptions co;
    co.cuda_graph = false;
    auto ctx = engine_.create_context(co);
    EXPECT_TRUE(ctx.ok()) << ctx.status().to_string();
    if (!ctx.ok()) return out;
    EXPECT_FALSE(ctx->uses_cuda_graph());
    for (int b = 1; b <= kMaxBatch; ++b) {
      Status st = ctx->run(inputs_[b - 1], out[b - 1]);
      EXPECT_TRUE(st.ok()) << "batch " << b << ": " << st.to_string();
      EXPECT_TRUE(plausible(out[b - 1])) << "batch " << b;
    }
    return out;
  }

  std::string input_name_;
  Engine engine_;
  std::vector<TensorMap> inputs_;  // [b - 1]
};

TEST_F(CudaGraph, GraphsMatchKernelByKernelBitForBit) {
  const auto want = eager_outputs();
  auto ctx = engine_.create_context();  // graphs on by default
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  EXPECT_TRUE(ctx->uses_cuda_graph());
  for (int b = 1; b <= kMaxBatch; ++b) {
    TensorMap got;
    Status st = ctx->run(inputs_[b - 1], got);
    ASSERT_TRUE(st.ok()) << "batch " << b << ": " << st.to_string();
    EXPECT_TRUE(plausible(got)) << "batch " << b;
    EXPECT_TRUE(same_bits(got, want[b - 1])) << "batch " << b << ": the graph replay differs from the eager run";
  }
}

TEST_F(CudaGraph, CallersStreamGivesTheSameOutputs) {
  const auto want = eager_outputs();
  const unsigned kFlags[] = {cudaStreamDefault, cudaStreamNonBlocking};
  for (unsigned flags : kFlags) {
    cudaStream_t stream = nullptr;
    ASSERT_TRUE(gpu_test::cuda_ok(cudaStreamCreateWithFlags(&stream, flags), "cudaStreamCreateWithFlags"));
    for (bool graphs : {true, false}) {
      SCOPED_TRACE(std::string(flags == cudaStreamDefault ? "blocking" : "non-blocking") + " stream, graphs " +
                   (graphs ? "on" : "off"));
      ContextOptions co;
      co.stream = stream;
      co.cuda_graph = graphs;
      auto ctx = engine_.create_context(co);
      ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
      EXPECT_EQ(ctx->uses_cuda_graph(), graphs);
      for (int b = kMaxBatch; b >= 1; --b) {  // the largest first, for variety
        TensorMap got;
        Status st = ctx->run(inputs_[b - 1], got);
        ASSERT_TRUE(st.ok()) << "batch " << b << ": " << st.to_string();
        EXPECT_TRUE(same_bits(got, want[b - 1])) << "batch " << b;
      }
    }
    // The context did not take the stream: it is still the caller's, and usable.
    EXPECT_TRUE(gpu_test::cuda_ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize (caller's stream)"));
    EXPECT_TRUE(gpu_test::cuda_ok(cudaStreamDestroy(stream), "cudaStreamDestroy"));
  }
}

TEST_F(CudaGraph, AThousandRunsGiveIdenticalOutputs) {
  auto ctx = engine_.create_context();
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  std::vector<TensorMap> first(kMaxBatch), outs(kMaxBatch);
  for (int b = 1; b <= kMaxBatch; ++b) ASSERT_TRUE(ctx->run(inputs_[b - 1], first[b - 1]).ok());
  int mismatches = 0;
  for (int r = 0; r < 1000; ++r) {
    const int b = 1 + (r * 7) % kMaxBatch;  // batches interleaved: graphs share the arena
    Status st = ctx->run(inputs_[b - 1], outs[b - 1]);
    ASSERT_TRUE(st.ok()) << "run " << r << ": " << st.to_string();
    if (!same_bits(outs[b - 1], first[b - 1])) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << "of 1000 runs";
}

// ContextOptions::device_timing: every run's device part is timed, with graphs on and off, the
// outputs stay the same bits, and the device time is under the host's time around the run.
TEST_F(CudaGraph, DeviceTimingMeasuresEachRun) {
  const auto want = eager_outputs();
  for (bool graphs : {true, false}) {
    ContextOptions co;
    co.cuda_graph = graphs;
    co.device_timing = true;
    auto ctx = engine_.create_context(co);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    EXPECT_EQ(ctx->last_device_seconds(), -1.0) << "no run yet";
    for (int b = 1; b <= kMaxBatch; ++b) {
      TensorMap got;
      const auto t0 = std::chrono::steady_clock::now();
      Status st = ctx->run(inputs_[b - 1], got);
      const double host = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(st.ok()) << st.to_string();
      EXPECT_TRUE(same_bits(got, want[b - 1])) << "batch " << b << ", graphs " << graphs;
      EXPECT_GT(ctx->last_device_seconds(), 0) << "batch " << b;
      EXPECT_LT(ctx->last_device_seconds(), host) << "batch " << b;
    }
  }
}

TEST_F(CudaGraph, StepByStepEnqueueMatchesTheRun) {
  const auto want = eager_outputs();
  cuda::CudaContextOptions co;
  co.cuda_graph = false;
  auto cc = cuda::CudaContext::create(engine_.impl().cuda, co);
  ASSERT_TRUE(cc.ok()) << cc.status().to_string();
  const int b = 2;
  cuda::CudaExecutor* ex = (*cc)->executor(b);
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ((*cc)->executor(0), nullptr);
  EXPECT_EQ((*cc)->executor(kMaxBatch + 1), nullptr);
  ASSERT_GT(ex->step_count(), 10u);
  std::vector<cudaEvent_t> events(ex->step_count() + 1);
  for (auto& e : events) ASSERT_TRUE(gpu_test::cuda_ok(cudaEventCreate(&e), "cudaEventCreate"));
  ASSERT_TRUE(ex->stage_inputs(inputs_[b - 1]).ok());
  const cudaStream_t s = (*cc)->stream();
  ASSERT_TRUE(ex->enqueue_inputs(s).ok());
  ASSERT_TRUE(gpu_test::cuda_ok(cudaEventRecord(events[0], s), "cudaEventRecord"));
  for (size_t i = 0; i < ex->step_count(); ++i) {
    Status st = ex->enqueue_step(i, s);
    ASSERT_TRUE(st.ok()) << st.to_string();
    ASSERT_TRUE(gpu_test::cuda_ok(cudaEventRecord(events[i + 1], s), "cudaEventRecord"));
  }
  ASSERT_TRUE(ex->enqueue_outputs(s).ok());
  ASSERT_TRUE(gpu_test::cuda_ok(cudaStreamSynchronize(s), "cudaStreamSynchronize"));
  EXPECT_FALSE(ex->enqueue_step(ex->step_count(), s).ok());  // out of range: an error, not a crash
  TensorMap got;
  ex->finish_outputs(got);
  EXPECT_TRUE(same_bits(got, want[b - 1]));
  float total = 0;
  for (size_t i = 0; i < ex->step_count(); ++i) {
    float ms = 0;
    ASSERT_TRUE(gpu_test::cuda_ok(cudaEventElapsedTime(&ms, events[i], events[i + 1]), "cudaEventElapsedTime"));
    EXPECT_GE(ms, 0.f) << ex->step_node(i).where();
    total += ms;
  }
  EXPECT_GT(total, 0.f);
  for (auto& e : events) cudaEventDestroy(e);
}

TEST_F(CudaGraph, FirstRunIsNotSlowerThanLaterRuns) {
  for (bool graphs : {true, false}) {
    ContextOptions co;
    co.cuda_graph = graphs;
    auto ctx = engine_.create_context(co);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    TensorMap out;
    std::vector<double> ms;
    for (int r = 0; r < 101; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(ctx->run(inputs_[kMaxBatch - 1], out).ok());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const double first = ms[0];
    std::vector<double> rest(ms.begin() + 1, ms.end());
    std::nth_element(rest.begin(), rest.begin() + 50, rest.end());
    const double median = rest[50];
    std::cout << "graphs " << (graphs ? "on" : "off") << ": first run " << first << " ms, median of the next 100 "
              << median << " ms" << std::endl;
    // Issue 7's bound: the first run within 2x the median (lazy module loading, had it been left
    // to the first run, would cost tens of ms).
    EXPECT_LE(first, 2 * median) << "graphs " << (graphs ? "on" : "off");
  }
}

TEST_F(CudaGraph, PipelinedRunsMatchTheRuns) {
  const auto want = eager_outputs();
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(std::string("graphs ") + (graphs ? "on" : "off"));
    ContextOptions co;
    co.cuda_graph = graphs;
    co.pipeline = true;
    auto ctx = engine_.create_context(co);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    ASSERT_EQ(ctx->pipeline_depth(), 2);
    // Two in flight at all times, batches interleaved so that each slot's runs change batch.
    int mismatches = 0;
    auto batch_of_run = [](int r) { return 1 + (r * 5) % kMaxBatch; };
    ASSERT_TRUE(ctx->submit(inputs_[batch_of_run(0) - 1]).ok());
    for (int r = 1; r <= 300; ++r) {
      if (r < 300) {
        Status st = ctx->submit(inputs_[batch_of_run(r) - 1]);
        ASSERT_TRUE(st.ok()) << "submit " << r << ": " << st.to_string();
      }
      TensorMap got;
      Status st = ctx->collect(got);
      ASSERT_TRUE(st.ok()) << "collect " << r - 1 << ": " << st.to_string();
      if (!same_bits(got, want[batch_of_run(r - 1) - 1])) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0) << "of 300 pipelined runs";
    EXPECT_EQ(ctx->pending(), 0);

    // Throughput at the largest batch: run() one at a time, then two in flight.
    auto plain = engine_.create_context(co);
    ASSERT_TRUE(plain.ok());
    const TensorMap& in = inputs_[kMaxBatch - 1];
    TensorMap out;
    constexpr int kRuns = 500;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < kRuns; ++r) ASSERT_TRUE(plain->run(in, out).ok());
    const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(ctx->submit(in).ok());
    for (int r = 1; r < kRuns; ++r) {
      ASSERT_TRUE(ctx->submit(in).ok());
      ASSERT_TRUE(ctx->collect(out).ok());
    }
    ASSERT_TRUE(ctx->collect(out).ok());
    const double pipe_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "pipeline, graphs " << (graphs ? "on" : "off") << ", batch " << kMaxBatch << ": run() "
              << kRuns / run_s << " runs/s, submit/collect " << kRuns / pipe_s << " runs/s (x" << run_s / pipe_s << ")"
              << std::endl;
  }
}

class CudaStreams : public gpu_test::GpuTest {};

// yolo_style's detection heads (and its neck's lateral paths) are independent branches. Built for
// 4 streams, the engine must give the bits of the one-stream engine (the same kernels on the same
// inputs), with graphs on and off, in each of 200 runs: a tensor overwritten while another stream
// still reads it, or read before it is written, would change or poison (NaN) some run's outputs.
TEST_F(CudaStreams, BranchesOnStreamsMatchOneStreamBitForBit) {
  const fs::path onnx = models_dir() / "zoo" / "yolo_style.onnx";
  if (!fs::exists(onnx)) {
    if (require_models()) FAIL() << "missing " << onnx << "; run scripts/make_models.sh";
    GTEST_SKIP() << "missing " << onnx;
  }
  auto m = load_onnx(onnx.string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  Tensor image = Tensor::zeros(DType::kF32, {1, 3, 320, 320});
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t i = 0; i < image.numel(); ++i) static_cast<float*>(image.mutable_data())[i] = u(rng);
  const TensorMap in = {{m->inputs()[0].name, image}};
  auto engine_for = [&](int streams) {
    BuildOptions opt;
    opt.backend = Backend::kCuda;
    opt.precision = Precision::kFP16;
    opt.cuda_streams = streams;
    return build(*m, opt);
  };
  auto one = engine_for(1);
  auto four = engine_for(4);
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  ASSERT_TRUE(four.ok()) << four.status().to_string();
  EXPECT_EQ(one->impl().cuda->streams, 1);
  EXPECT_GE(four->impl().cuda->streams, 2) << "yolo_style has independent branches";
  auto want_ctx = one->create_context();
  ASSERT_TRUE(want_ctx.ok()) << want_ctx.status().to_string();
  TensorMap want;
  ASSERT_TRUE(want_ctx->run(in, want).ok());
  ASSERT_TRUE(plausible(want));
  for (bool graphs : {true, false}) {
    ContextOptions co;
    co.cuda_graph = graphs;
    auto ctx = four->create_context(co);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    int mismatches = 0;
    for (int r = 0; r < 200; ++r) {
      TensorMap got;
      Status st = ctx->run(in, got);
      ASSERT_TRUE(st.ok()) << "run " << r << ": " << st.to_string();
      if (!same_bits(got, want)) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0) << "of 200 runs, graphs " << (graphs ? "on" : "off");
  }
}

}  // namespace
}  // namespace quench::testing
