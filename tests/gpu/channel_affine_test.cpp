// Two small element-wise kernels against quench's CPU reference (ops/), on fresh random inputs
// with poisoned outputs:
//   - the per-channel affine map (kernels/elementwise/channel_affine) as the CUDA side runs
//     BatchNormalization (ops/batchnorm_gpu.cpp: scale and shift folded in double), against the
//     BatchNormalization reference, on NHWC and ONNX-order data, in place and not, for every
//     vector width;
//   - the unary kernel's Sqrt (ops/elementwise_gpu.cpp) against the Sqrt reference.
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/elementwise/channel_affine.cuh"
#include "kernels/elementwise/elementwise.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace ew = kernels::elementwise;

Tensor f32_tensor(const std::vector<float>& v, const Shape& shape) {
  Tensor t = Tensor::zeros(DType::kF32, shape);
  std::memcpy(t.mutable_data(), v.data(), v.size() * sizeof(float));
  return t;
}

struct BnCase {
  Shape shape;        // logical [N, C, ...]
  bool nhwc = false;  // 4-D input held NHWC
  bool in_place = false;
  float epsilon = 1e-5f;
};

std::string case_name(const BnCase& c) {
  std::ostringstream os;
  os << "s";
  for (int64_t d : c.shape) os << d << "x";
  os << (c.nhwc ? "_nhwc" : "_nchw") << (c.in_place ? "_inplace" : "");
  return os.str();
}

class BatchNormTest : public GpuTest, public ::testing::WithParamInterface<BnCase> {};

TEST_P(BatchNormTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const BnCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const int64_t channels = c.shape[1];
  const auto x = random_half(static_cast<size_t>(shape_numel(c.shape)), rng);  // memory order
  const auto scale = random_float(static_cast<size_t>(channels), rng, 0.5f, 2.0f);
  const auto bias = random_float(static_cast<size_t>(channels), rng);
  const auto mean = random_float(static_cast<size_t>(channels), rng, -0.5f, 0.5f);
  const auto var = random_float(static_cast<size_t>(channels), rng, 0.1f, 2.0f);

  ops::Attributes attrs;
  attrs.set("epsilon", attr_float(c.epsilon));
  const Tensor in = c.nhwc ? nchw_from_nhwc_half(x, c.shape[0], c.shape[2], c.shape[3], c.shape[1])
                           : f32_from_half(x, c.shape);
  auto out = run_reference("BatchNormalization", attrs,
                           {{in}, {f32_tensor(scale, {channels})}, {f32_tensor(bias, {channels})},
                            {f32_tensor(mean, {channels})}, {f32_tensor(var, {channels})}},
                           15);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const std::vector<double> ref = c.nhwc ? nhwc_from_nchw((*out)[0]) : doubles_of((*out)[0]);

  // The fold the CUDA op makes at build.
  std::vector<float> st(static_cast<size_t>(2 * channels));
  for (int64_t i = 0; i < channels; ++i) {
    const double mul = scale[i] / std::sqrt(static_cast<double>(var[i]) + c.epsilon);
    st[i] = static_cast<float>(mul);
    st[channels + i] = static_cast<float>(bias[i] - mean[i] * mul);
  }

  const size_t n = x.size();
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(n + kGuard), dy(n + kGuard);
  DeviceBuffer<float> dst(st.size());
  for (auto s : {dx.status(), dy.status(), dst.status()}) ASSERT_TRUE(cuda_ok(s, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dst.upload(st), "upload scale and shift"));
  std::vector<size_t> guard(kGuard);
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n + i;

  ew::ChannelAffineArgs<__half> args;
  args.channels = channels;
  if (c.nhwc) {
    args.outer = c.shape[0] * c.shape[2] * c.shape[3];
    args.inner = 1;
  } else {
    args.outer = c.shape[0];
    args.inner = 1;
    for (size_t d = 2; d < c.shape.size(); ++d) args.inner *= c.shape[d];
  }
  args.scale = dst.get();
  args.shift = dst.get() + channels;
  args.x = dx.get();
  args.y = c.in_place ? dx.get() : dy.get();
  ASSERT_TRUE(ew::can_implement(args).ok()) << ew::can_implement(args).message();
  EXPECT_EQ(ew::workspace_bytes(args), 0u);
  DeviceBuffer<__half>& result = c.in_place ? dx : dy;

  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = ew::vector_width(args);
    if (width == last_width) continue;
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width));
    ASSERT_TRUE(cuda_ok(dx.poison(), "poison x guard"));
    ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
    if (!c.in_place) {
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    }
    const Status s = ew::run(args, nullptr, nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "channel_affine kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(result.download(got), "download y"));
    std::vector<size_t> inside(n);
    for (size_t i = 0; i < n; ++i) inside[i] = i;
    EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
    EXPECT_TRUE(untouched(got, guard));
  }
}

BnCase bn(Shape s, bool nhwc = false, bool in_place = false, float eps = 1e-5f) {
  return BnCase{std::move(s), nhwc, in_place, eps};
}

// >= 20 shapes: PP-OCR detection head's [1, 24, 320, 320] (NHWC, 8-wide), odd channel counts
// (2- and 1-wide), batch 1 and 7, ONNX-order 2-D to 5-D inputs with inner sizes that do and do
// not divide by 8, in place, a large epsilon.
std::vector<BnCase> bn_cases() {
  return {
      bn({1, 24, 320, 320}, true),   bn({7, 24, 13, 11}, true),      bn({1, 3, 9, 9}, true),
      bn({7, 33, 5, 7}, true),       bn({1, 2, 17, 3}, true, true),  bn({2, 64, 14, 14}, true, true),
      bn({1, 1, 31, 31}, true),      bn({7, 1000, 1, 1}, true),      bn({1, 24, 8, 8}),
      bn({7, 5, 6, 7}),              bn({3, 16}),                    bn({7, 33}),
      bn({1, 40, 120}),              bn({7, 40, 121}),               bn({2, 3, 4, 5, 6}),
      bn({1, 8, 16}, false, true),   bn({5, 7, 3, 1}),               bn({1, 96, 2, 4}),
      bn({7, 17, 9, 9}, true, false, 1e-2f), bn({1, 256, 7, 7}, true), bn({4, 6, 10, 8}),
  };
}

std::string bn_name(const ::testing::TestParamInfo<BnCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormTest, ::testing::ValuesIn(bn_cases()), bn_name);

// ---- Sqrt --------------------------------------------------------------------------------------

class SqrtTest : public GpuTest, public ::testing::WithParamInterface<int64_t> {};

TEST_P(SqrtTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const int64_t count = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const auto x = random_half(static_cast<size_t>(count), rng, 1.0f / 64, 16.0f);  // LayerNorm's var + eps > 0
  auto out = run_reference("Sqrt", {}, {{f32_from_half(x, {count})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const std::vector<double> ref = doubles_of((*out)[0]);
  const size_t n = x.size();
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(n), dy(n + kGuard);
  for (auto s : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(s, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  std::vector<size_t> inside(n), guard(kGuard);
  for (size_t i = 0; i < n; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n + i;
  ew::UnaryArgs<__half> args;
  args.count = count;
  args.x = dx.get();
  args.y = dy.get();
  args.fn = ew::UnaryFn::kSqrt;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    SCOPED_TRACE("max vector " + std::to_string(max_vector));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status s = ew::run(args, nullptr, nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "unary kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
    EXPECT_TRUE(untouched(got, guard));
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, SqrtTest, ::testing::Values(1, 7, 40, 280, 1001, 65536 + 3));

// Host-side checks: these run without a GPU too.
TEST(ChannelAffineArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[1024];
  alignas(16) static float params[64];
  ew::ChannelAffineArgs<__half> ok;
  ok.outer = 4;
  ok.channels = 8;
  ok.inner = 1;
  ok.x = buf;
  ok.y = buf + 512;
  ok.scale = params;
  ok.shift = params + 8;
  EXPECT_TRUE(ew::can_implement(ok).ok()) << ew::can_implement(ok).message();
  EXPECT_EQ(ew::vector_width(ok), 8);
  auto in_place = ok;
  in_place.y = buf;
  EXPECT_TRUE(ew::can_implement(in_place).ok());
  auto bad = ok;
  bad.y = buf + 4;  // overlaps x without being it
  EXPECT_FALSE(ew::can_implement(bad).ok());
  bad = ok;
  bad.shift = nullptr;
  EXPECT_FALSE(ew::can_implement(bad).ok());
  bad = ok;
  bad.outer = int64_t{1} << 30;
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kUnsupported);
  auto odd = ok;
  odd.channels = 6;
  EXPECT_EQ(ew::vector_width(odd), 2);
  odd.inner = 3;
  EXPECT_EQ(ew::vector_width(odd), 1);
  ew::UnaryArgs<__half> u;
  u.count = 8;
  u.x = buf;
  u.y = buf + 512;
  u.fn = static_cast<ew::UnaryFn>(7);
  EXPECT_FALSE(ew::can_implement(u).ok());
}

}  // namespace
}  // namespace quench::gpu_test
