// Products of two activations (kernels/gemm/batched_matmul, ONNX MatMul with a non-constant B)
// against quench's CPU reference MatMul (ops/gemm.cpp, numpy broadcasting of the leading dims) on
// fresh random FP16 inputs, with poisoned outputs and a guard after them: odd and tiny m, n, k,
// k not a multiple of 8 or 16, broadcast A or B, batch 1 and 7, PP-OCR's attention shapes.
#include <cuda_fp16.h>

#include <string>
#include <vector>

#include "kernels/gemm/batched_matmul.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace kb = kernels::batched_matmul;

struct MatMulCase {
  Shape a, b;  // ONNX shapes: [..., m, k] and [..., k, n]
};

std::string dims(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

std::string case_name(const MatMulCase& c) {
  std::string name = "a";
  name += dims(c.a);
  name += "_b";
  name += dims(c.b);
  return name;
}

class BatchedMatMulTest : public GpuTest, public ::testing::WithParamInterface<MatMulCase> {};

TEST_P(BatchedMatMulTest, MatchesCpuReference) {
  const MatMulCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const auto a = random_half(static_cast<size_t>(shape_numel(c.a)), rng);
  const auto b = random_half(static_cast<size_t>(shape_numel(c.b)), rng);
  auto ref = run_reference("MatMul", {}, {{f32_from_half(a, c.a)}, {f32_from_half(b, c.b)}});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  const std::vector<double> want = doubles_of((*ref)[0]);

  kb::BatchedMatMulArgs<__half> args;
  args.m = c.a[c.a.size() - 2];
  args.k = c.a.back();
  args.n = c.b.back();
  const int64_t batch_a = shape_numel(c.a) / (args.m * args.k), batch_b = shape_numel(c.b) / (args.k * args.n);
  args.batch = std::max(batch_a, batch_b);
  args.stride_a = batch_a == 1 ? 0 : args.m * args.k;
  args.stride_b = batch_b == 1 ? 0 : args.k * args.n;
  const size_t n_out = static_cast<size_t>(args.batch * args.m * args.n);
  ASSERT_EQ(want.size(), n_out);

  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> da(a.size()), db(b.size()), dc(n_out + kGuard);
  for (auto st : {da.status(), db.status(), dc.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(da.upload(a), "upload a"));
  ASSERT_TRUE(cuda_ok(db.upload(b), "upload b"));
  ASSERT_TRUE(cuda_ok(dc.poison(), "poison c"));
  args.a = da.get();
  args.b = db.get();
  args.c = dc.get();
  ASSERT_TRUE(kb::can_implement(args).ok()) << kb::can_implement(args).message();
  const Status st = kb::run(args, nullptr, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "batched_matmul kernel"));
  std::vector<uint16_t> got;
  ASSERT_TRUE(cuda_ok(dc.download(got), "download c"));
  std::vector<size_t> inside(n_out), guard(kGuard);
  for (size_t i = 0; i < n_out; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n_out + i;
  EXPECT_TRUE(comparison_passes(compare_half(got, want, inside)));
  EXPECT_TRUE(untouched(got, guard));
}

// >= 20 shapes: PP-OCR's recognizer (8 heads of 40 x 15 and 40 x 40), 1 x 1 x 1, odd and prime
// dims across tile edges, k below, at and past one 16-wide step, broadcast A or B, batch 1 and 7.
std::vector<MatMulCase> cases() {
  return {
      {{1, 8, 40, 15}, {1, 8, 15, 40}}, {{1, 8, 40, 40}, {1, 8, 40, 15}}, {{7, 8, 40, 15}, {7, 8, 15, 40}},
      {{1, 1}, {1, 1}},                 {{3, 5}, {5, 7}},                 {{17, 16}, {16, 17}},
      {{33, 1}, {1, 31}},               {{1, 100}, {100, 1}},             {{7, 9, 13}, {7, 13, 11}},
      {{7, 16, 32}, {7, 32, 16}},       {{2, 3, 19, 23}, {2, 3, 23, 29}}, {{7, 64, 8}, {8, 65}},
      {{1, 5, 7}, {9, 7, 3}},           {{4, 1, 1, 2, 3}, {4, 1, 1, 3, 2}}, {{1, 130, 70}, {1, 70, 3}},
      {{7, 1, 255}, {7, 255, 1}},       {{1, 2, 300, 17}, {1, 2, 17, 257}}, {{5, 48, 48}, {5, 48, 48}},
      {{7, 31, 15}, {15, 33}},          {{1, 1, 1, 1}, {7, 1, 1, 9}},     {{6, 12, 40, 15}, {6, 12, 15, 40}},
  };
}

std::string name_of(const ::testing::TestParamInfo<MatMulCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, BatchedMatMulTest, ::testing::ValuesIn(cases()), name_of);

// Argument checks need no device.
TEST(BatchedMatMulHost, RefusesBadArguments) {
  kb::BatchedMatMulArgs<__half> g;
  g.m = g.n = g.k = 4;
  g.a = reinterpret_cast<const __half*>(0x1000);
  g.b = reinterpret_cast<const __half*>(0x2000);
  g.c = reinterpret_cast<__half*>(0x3000);
  EXPECT_TRUE(kb::can_implement(g).ok());
  g.k = 0;
  EXPECT_EQ(kb::can_implement(g).code(), StatusCode::kInvalidArgument);
  g.k = 4;
  g.stride_a = 3;  // smaller than one [4, 4] matrix
  EXPECT_EQ(kb::can_implement(g).code(), StatusCode::kInvalidArgument);
  g.stride_a = 0;
  g.c = reinterpret_cast<__half*>(0x1008);  // inside a
  EXPECT_EQ(kb::can_implement(g).code(), StatusCode::kInvalidArgument);
  g.c = reinterpret_cast<__half*>(0x3000);
  g.batch = 70000;
  EXPECT_EQ(kb::can_implement(g).code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace quench::gpu_test
