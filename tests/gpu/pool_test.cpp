// The NHWC pooling kernels (kernels/pool) against quench's CPU reference (ops/: MaxPool,
// AveragePool, GlobalMaxPool, GlobalAveragePool, run in NCHW FP32 on the same FP16 values), on
// fresh random inputs with poisoned outputs, for every channel vector width. Max pooling only
// selects values, so it must match bit for bit; averages within the FP16 tolerance.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/pool/pool.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace pl = kernels::pool;
using pl::PoolKind;

struct PoolCase {
  PoolKind kind = PoolKind::kMax;
  int64_t n = 1, c = 1, h = 1, w = 1;
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
  bool ceil_mode = false, count_include_pad = false;
};

std::string case_name(const PoolCase& c) {
  std::ostringstream os;
  os << (c.kind == PoolKind::kMax ? "max" : "avg") << "_n" << c.n << "_c" << c.c << "_h" << c.h << "_w" << c.w << "_k"
     << c.kh << "x" << c.kw << "_s" << c.sh << "x" << c.sw << "_d" << c.dh << "x" << c.dw << "_p" << c.pt << c.pl << c.pb
     << c.pr << (c.ceil_mode ? "_ceil" : "") << (c.count_include_pad ? "_cip" : "");
  return os.str();
}

struct Reference {
  int64_t out_h = 0, out_w = 0;
  std::vector<double> nhwc;
};

Reference reference_pool(const PoolCase& c, const std::vector<uint16_t>& x) {
  ops::Attributes attrs;
  attrs.set("kernel_shape", attr_ints({c.kh, c.kw}));
  attrs.set("strides", attr_ints({c.sh, c.sw}));
  attrs.set("dilations", attr_ints({c.dh, c.dw}));
  attrs.set("pads", attr_ints({c.pt, c.pl, c.pb, c.pr}));
  attrs.set("ceil_mode", attr_int(c.ceil_mode ? 1 : 0));
  if (c.kind == PoolKind::kAverage) attrs.set("count_include_pad", attr_int(c.count_include_pad ? 1 : 0));
  auto out = run_reference(c.kind == PoolKind::kMax ? "MaxPool" : "AveragePool", attrs,
                           {{nchw_from_nhwc_half(x, c.n, c.h, c.w, c.c)}});
  EXPECT_TRUE(out.ok()) << out.status().message();
  Reference r;
  if (!out.ok()) return r;
  r.out_h = (*out)[0].shape()[2];
  r.out_w = (*out)[0].shape()[3];
  r.nhwc = nhwc_from_nchw((*out)[0]);
  return r;
}

class PoolTest : public GpuTest, public ::testing::WithParamInterface<PoolCase> {};

TEST_P(PoolTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const PoolCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const auto x = random_half(static_cast<size_t>(c.n * c.h * c.w * c.c), rng);
  const Reference ref = reference_pool(c, x);
  ASSERT_GT(ref.out_h, 0);
  const size_t n_out = ref.nhwc.size();
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(x.size()), dy(n_out + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  std::vector<size_t> guard(kGuard);
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n_out + i;

  pl::PoolArgs<__half> args;
  args.kind = c.kind;
  args.n = c.n;
  args.h = c.h;
  args.w = c.w;
  args.c = c.c;
  args.out_h = ref.out_h;  // the caller's output size: ceil_mode decided by the shape rule
  args.out_w = ref.out_w;
  args.kernel_h = c.kh;
  args.kernel_w = c.kw;
  args.stride_h = c.sh;
  args.stride_w = c.sw;
  args.dilation_h = c.dh;
  args.dilation_w = c.dw;
  args.pad_top = c.pt;
  args.pad_left = c.pl;
  args.pad_bottom = c.pb;
  args.pad_right = c.pr;
  args.count_include_pad = c.count_include_pad;
  args.x = dx.get();
  args.y = dy.get();
  ASSERT_TRUE(pl::can_implement(args).ok()) << pl::can_implement(args).message();
  EXPECT_EQ(pl::workspace_bytes(args), 0u);
  const auto exact = half_bits_of(ref.nhwc);

  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = pl::vector_width(args);
    if (width == last_width) continue;
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = pl::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "pool kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref.nhwc)));
    if (c.kind == PoolKind::kMax) {
      EXPECT_TRUE(bits_equal(got, exact));
    }
    EXPECT_TRUE(untouched(got, guard));
  }
}

PoolCase pool(PoolKind kind, int64_t n, int64_t c, int64_t h, int64_t w, int kh, int kw, int sh, int sw,
              std::initializer_list<int> pads, bool ceil_mode = false, bool cip = false, int dh = 1, int dw = 1) {
  PoolCase p;
  p.kind = kind;
  p.n = n;
  p.c = c;
  p.h = h;
  p.w = w;
  p.kh = kh;
  p.kw = kw;
  p.sh = sh;
  p.sw = sw;
  p.dh = dh;
  p.dw = dw;
  const int* v = pads.begin();
  p.pt = v[0];
  p.pl = v[1];
  p.pb = v[2];
  p.pr = v[3];
  p.ceil_mode = ceil_mode;
  p.count_include_pad = cip;
  return p;
}

// >= 20 shapes: the ResNet-50 stem max pool at batch 1 and 7, odd channel counts (scalar and half2
// paths), stride 2 and 3, asymmetric pads, ceil_mode windows that cross the end pad, dilation,
// rectangular kernels, count_include_pad both ways.
std::vector<PoolCase> pool_cases() {
  constexpr auto kMax = PoolKind::kMax;
  constexpr auto kAvg = PoolKind::kAverage;
  return {
      pool(kMax, 1, 64, 112, 112, 3, 3, 2, 2, {1, 1, 1, 1}),
      pool(kMax, 7, 64, 112, 112, 3, 3, 2, 2, {1, 1, 1, 1}),
      pool(kMax, 1, 3, 9, 11, 2, 2, 2, 2, {0, 0, 0, 0}),
      pool(kAvg, 7, 33, 13, 17, 3, 3, 2, 2, {0, 1, 1, 0}),
      pool(kAvg, 7, 33, 13, 17, 3, 3, 2, 2, {1, 0, 0, 1}, false, true),
      pool(kAvg, 1, 7, 10, 10, 3, 3, 2, 2, {0, 0, 0, 0}, true),
      pool(kMax, 1, 7, 10, 10, 3, 3, 2, 2, {0, 0, 0, 0}, true),
      pool(kAvg, 1, 16, 7, 7, 7, 7, 1, 1, {0, 0, 0, 0}),
      pool(kAvg, 7, 8, 15, 15, 5, 5, 3, 3, {2, 2, 2, 2}, true, true),
      pool(kMax, 1, 24, 20, 20, 3, 3, 1, 1, {2, 2, 2, 2}, false, false, 2, 2),
      pool(kAvg, 2, 5, 8, 8, 2, 2, 1, 1, {0, 0, 0, 0}),
      pool(kMax, 1, 1, 5, 5, 3, 3, 1, 1, {1, 1, 1, 1}),
      pool(kAvg, 1, 40, 12, 20, 2, 3, 2, 1, {0, 1, 0, 1}),
      pool(kAvg, 7, 96, 28, 28, 3, 3, 2, 2, {1, 1, 1, 1}, false, true),
      pool(kAvg, 1, 2048, 7, 7, 7, 7, 1, 1, {0, 0, 0, 0}),
      pool(kMax, 7, 6, 31, 29, 4, 4, 3, 3, {2, 1, 0, 3}, true),
      pool(kMax, 1, 34, 14, 14, 3, 3, 1, 1, {1, 1, 1, 1}),
      pool(kAvg, 3, 12, 6, 6, 3, 3, 3, 3, {1, 1, 1, 1}, true, true),
      pool(kMax, 1, 3, 224, 224, 2, 2, 2, 2, {0, 0, 0, 0}),
      pool(kAvg, 7, 17, 9, 9, 3, 3, 2, 2, {1, 1, 1, 1}, true),
      pool(kMax, 1, 256, 56, 56, 3, 3, 2, 2, {0, 0, 1, 1}),
      pool(kAvg, 7, 10, 11, 5, 3, 1, 1, 1, {2, 0, 2, 0}, false, true, 2, 1),
      pool(kAvg, 1, 9, 16, 16, 4, 4, 4, 4, {0, 0, 0, 0}),
      pool(kMax, 7, 144, 9, 9, 3, 3, 2, 2, {1, 1, 1, 1}, true, false, 1, 1),
  };
}

std::string pool_name(const ::testing::TestParamInfo<PoolCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, PoolTest, ::testing::ValuesIn(pool_cases()), pool_name);

// ---- global pooling ---------------------------------------------------------------------------

struct GlobalCase {
  PoolKind kind = PoolKind::kAverage;
  int64_t n = 1, c = 1, h = 1, w = 1;
};

class GlobalPoolTest : public GpuTest, public ::testing::WithParamInterface<GlobalCase> {};

TEST_P(GlobalPoolTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const GlobalCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  // Averages of symmetric random values are near zero; an offset keeps the reference meaningful.
  const auto x = random_half(static_cast<size_t>(c.n * c.h * c.w * c.c), rng, -0.5f, 1.5f);
  auto out = run_reference(c.kind == PoolKind::kMax ? "GlobalMaxPool" : "GlobalAveragePool", {},
                           {{nchw_from_nhwc_half(x, c.n, c.h, c.w, c.c)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const std::vector<double> ref = doubles_of((*out)[0]);  // [n, c, 1, 1]: already NHWC order
  ASSERT_EQ(ref.size(), static_cast<size_t>(c.n * c.c));
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(x.size()), dy(ref.size() + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  std::vector<size_t> guard(kGuard);
  for (size_t i = 0; i < kGuard; ++i) guard[i] = ref.size() + i;
  pl::GlobalPoolArgs<__half> args;
  args.kind = c.kind;
  args.n = c.n;
  args.hw = c.h * c.w;
  args.c = c.c;
  args.x = dx.get();
  args.y = dy.get();
  ASSERT_TRUE(pl::can_implement(args).ok()) << pl::can_implement(args).message();
  const auto exact = half_bits_of(ref);
  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = pl::vector_width(args);
    if (width == last_width) continue;
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = pl::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "global pool kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
    if (c.kind == PoolKind::kMax) {
      EXPECT_TRUE(bits_equal(got, exact));
    }
    EXPECT_TRUE(untouched(got, guard));
  }
}

std::vector<GlobalCase> global_cases() {
  const int64_t shapes[][4] = {{1, 1280, 7, 7}, {7, 1280, 7, 7}, {1, 2048, 7, 7}, {7, 2048, 7, 7}, {1, 3, 5, 5},
                               {7, 33, 13, 11}, {1, 64, 56, 56}, {2, 7, 1, 1},    {1, 1, 1, 1},    {7, 6, 9, 9},
                               {3, 8, 112, 112}, {1, 34, 3, 17}};
  std::vector<GlobalCase> out;
  for (PoolKind kind : {PoolKind::kAverage, PoolKind::kMax}) {
    for (const auto& s : shapes) {
      GlobalCase c;
      c.kind = kind;
      c.n = s[0];
      c.c = s[1];
      c.h = s[2];
      c.w = s[3];
      out.push_back(c);
    }
  }
  return out;
}

std::string global_name(const ::testing::TestParamInfo<GlobalCase>& info) {
  const GlobalCase& c = info.param;
  std::ostringstream os;
  os << (c.kind == PoolKind::kMax ? "max" : "avg") << "_n" << c.n << "_c" << c.c << "_h" << c.h << "_w" << c.w;
  return os.str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, GlobalPoolTest, ::testing::ValuesIn(global_cases()), global_name);

TEST(PoolArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[512];
  pl::PoolArgs<__half> ok;
  ok.n = 1;
  ok.h = ok.w = 4;
  ok.c = 8;
  ok.out_h = ok.out_w = 2;
  ok.kernel_h = ok.kernel_w = 2;
  ok.stride_h = ok.stride_w = 2;
  ok.x = buf;
  ok.y = buf + 256;
  EXPECT_TRUE(pl::can_implement(ok).ok());
  EXPECT_EQ(pl::vector_width(ok), 8);
  auto bad = ok;
  bad.out_h = 5;  // windows starting past the input
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kShapeError);
  bad = ok;
  bad.stride_w = 0;
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.pad_left = -1;
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 64;  // overlaps x
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.x = nullptr;
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.kind = static_cast<PoolKind>(7);
  EXPECT_EQ(pl::can_implement(bad).code(), StatusCode::kInvalidArgument);
  ok.c = 6;
  EXPECT_EQ(pl::vector_width(ok), 2);
  ok.c = 5;
  EXPECT_EQ(pl::vector_width(ok), 1);
  pl::GlobalPoolArgs<__half> g;
  g.n = 1;
  g.hw = 4;
  g.c = 8;
  g.x = buf;
  g.y = buf + 32;
  EXPECT_TRUE(pl::can_implement(g).ok());
  g.hw = 0;
  EXPECT_EQ(pl::can_implement(g).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quench::gpu_test
