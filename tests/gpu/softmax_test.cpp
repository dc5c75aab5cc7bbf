// Softmax / log-softmax over the last axis (kernels/softmax) against quench's CPU reference
// (ops/: Softmax and LogSoftmax, axis -1, FP64 sums) on fresh random FP16 inputs, with poisoned
// outputs, on both paths (warp per row, block per row) and every vector width.
#include <cuda_fp16.h>

#include <string>
#include <vector>

#include "kernels/softmax/softmax.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace sm = kernels::softmax;

struct SoftmaxCase {
  sm::SoftmaxKind kind = sm::SoftmaxKind::kSoftmax;
  int64_t rows = 1, cols = 1;
  float range = 4.0f;  // inputs uniform in [-range, range]
};

std::string case_name(const SoftmaxCase& c) {
  return std::string(c.kind == sm::SoftmaxKind::kSoftmax ? "softmax" : "logsoftmax") + "_r" + std::to_string(c.rows) +
         "_c" + std::to_string(c.cols) + "_x" + std::to_string(static_cast<int>(c.range));
}

std::vector<double> reference_softmax(const SoftmaxCase& c, const std::vector<uint16_t>& x) {
  ops::Attributes attrs;
  attrs.set("axis", attr_int(-1));
  auto out = run_reference(c.kind == sm::SoftmaxKind::kSoftmax ? "Softmax" : "LogSoftmax", attrs,
                           {{f32_from_half(x, {c.rows, c.cols})}});
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? doubles_of((*out)[0]) : std::vector<double>{};
}

class SoftmaxTest : public GpuTest, public ::testing::WithParamInterface<SoftmaxCase> {};

TEST_P(SoftmaxTest, MatchesCpuReferenceOnEveryPathAndVectorWidth) {
  const SoftmaxCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const size_t n = static_cast<size_t>(c.rows * c.cols);
  const auto x = random_half(n, rng, -c.range, c.range);
  const auto ref = reference_softmax(c, x);
  ASSERT_EQ(ref.size(), n);
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(n), dy(n + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  std::vector<size_t> guard(kGuard);
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n + i;
  sm::SoftmaxArgs<__half> args;
  args.kind = c.kind;
  args.rows = c.rows;
  args.cols = c.cols;
  args.x = dx.get();
  args.y = dy.get();
  for (sm::SoftmaxPath path : {sm::SoftmaxPath::kAuto, sm::SoftmaxPath::kWarp, sm::SoftmaxPath::kBlock}) {
    if (path == sm::SoftmaxPath::kWarp && c.cols > sm::kWarpMaxCols) continue;
    args.path = path;
    int last_width = 0;
    for (int max_vector : {8, 2, 1}) {
      args.max_vector = max_vector;
      const int width = sm::vector_width(args);
      if (width == last_width) continue;
      last_width = width;
      SCOPED_TRACE("path " + std::to_string(static_cast<int>(sm::chosen_path(args))) + ", vector width " +
                   std::to_string(width));
      ASSERT_TRUE(sm::can_implement(args).ok()) << sm::can_implement(args).message();
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
      const Status st = sm::run(args, nullptr, nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "softmax kernel"));
      std::vector<uint16_t> got;
      ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
      if (c.cols == 1 && c.kind == sm::SoftmaxKind::kLogSoftmax) {
        // log(1) = 0 everywhere: a reference of zeros, which the relative error cannot judge.
        EXPECT_TRUE(bits_equal(got, std::vector<uint16_t>(n, 0)));
      } else {
        EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
      }
      EXPECT_TRUE(untouched(got, guard));
    }
  }
}

// >= 20 row lengths: 1, tiny and odd, every power of two the warp path specializes on and one
// past it, the classifier's 1000, the warp limit and one past it, and long rows (vocabulary-sized)
// on the block path; 1 to thousands of rows.
std::vector<SoftmaxCase> softmax_cases() {
  const int64_t shapes[][2] = {{1, 1},     {7, 1},    {1, 10},    {7, 1000},  {1, 1000},  {3, 33},   {64, 7},
                               {5, 32},    {5, 64},   {9, 65},    {2, 128},   {3, 255},   {4, 256},  {7, 257},
                               {2, 512},   {7, 513},  {5, 1024},  {2, 1025},  {1, 4096},  {3, 30001}, {7, 2048},
                               {2000, 24}, {4096, 2}, {1, 100000}, {33, 77}};
  std::vector<SoftmaxCase> out;
  size_t i = 0;
  for (const auto& s : shapes) {
    for (sm::SoftmaxKind kind : {sm::SoftmaxKind::kSoftmax, sm::SoftmaxKind::kLogSoftmax}) {
      SoftmaxCase c;
      c.kind = kind;
      c.rows = s[0];
      c.cols = s[1];
      c.range = (i++ % 3 == 0) ? 12.0f : 4.0f;  // wide inputs: exp spans many orders of magnitude
      out.push_back(c);
    }
  }
  return out;
}

std::string softmax_name(const ::testing::TestParamInfo<SoftmaxCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Rows, SoftmaxTest, ::testing::ValuesIn(softmax_cases()), softmax_name);

TEST_F(GpuTest, SoftmaxInPlace) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int64_t cols : {int64_t{1000}, int64_t{5000}}) {  // warp path, block path
    SoftmaxCase c;
    c.rows = 7;
    c.cols = cols;
    const auto x = random_half(static_cast<size_t>(c.rows * c.cols), rng, -4.0f, 4.0f);
    const auto ref = reference_softmax(c, x);
    DeviceBuffer<__half> d(x.size());
    ASSERT_TRUE(cuda_ok(d.upload(x), "upload x"));
    sm::SoftmaxArgs<__half> args;
    args.rows = c.rows;
    args.cols = c.cols;
    args.x = d.get();
    args.y = d.get();
    const Status st = sm::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "softmax kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(d.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref))) << "cols " << cols;
  }
}

TEST(SoftmaxArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[64];
  sm::SoftmaxArgs<__half> ok;
  ok.rows = 2;
  ok.cols = 16;
  ok.x = buf;
  ok.y = buf + 32;
  EXPECT_TRUE(sm::can_implement(ok).ok());
  EXPECT_EQ(sm::vector_width(ok), 8);
  EXPECT_EQ(sm::chosen_path(ok), sm::SoftmaxPath::kWarp);
  auto bad = ok;
  bad.cols = 0;
  EXPECT_EQ(sm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 8;  // overlaps x without being it
  EXPECT_EQ(sm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.cols = sm::kWarpMaxCols + 1;
  bad.rows = 1;
  bad.path = sm::SoftmaxPath::kWarp;
  EXPECT_EQ(sm::can_implement(bad).code(), StatusCode::kUnsupported);
  bad.path = sm::SoftmaxPath::kAuto;
  EXPECT_EQ(sm::chosen_path(bad), sm::SoftmaxPath::kBlock);
  ok.cols = 6;
  EXPECT_EQ(sm::vector_width(ok), 2);
  ok.cols = 7;
  EXPECT_EQ(sm::vector_width(ok), 1);
}

}  // namespace
}  // namespace quench::gpu_test
