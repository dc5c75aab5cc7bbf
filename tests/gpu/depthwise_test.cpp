// The NHWC depthwise convolution (kernels/depthwise) against a naive FP64 loop, on fresh random
// inputs, with poisoned outputs, for every vector width and strip width, and every epilogue.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/depthwise/depthwise.cuh"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace dw = kernels::depthwise;

struct DwShape {
  int64_t n, h, w, c;
  int kernel, stride;
  int pad_top, pad_left, pad_bottom, pad_right;
};

struct DwCase {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int kernel = 3, stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool bias = true, residual = false;
  EpilogueParams epi;
};

DwCase make_case(const DwShape& s) {
  DwCase c;
  c.n = s.n;
  c.h = s.h;
  c.w = s.w;
  c.c = s.c;
  c.kernel = s.kernel;
  c.stride = s.stride;
  c.pad_top = s.pad_top;
  c.pad_left = s.pad_left;
  c.pad_bottom = s.pad_bottom;
  c.pad_right = s.pad_right;
  return c;
}

dw::DepthwiseArgs<__half> shape_args(const DwCase& c) {
  dw::DepthwiseArgs<__half> a;
  a.n = c.n;
  a.h = c.h;
  a.w = c.w;
  a.c = c.c;
  a.kernel = c.kernel;
  a.stride = c.stride;
  a.pad_top = c.pad_top;
  a.pad_left = c.pad_left;
  a.pad_bottom = c.pad_bottom;
  a.pad_right = c.pad_right;
  a.epilogue = c.epi;
  return a;
}

std::string case_name(const DwCase& c) {
  std::ostringstream os;
  os << "n" << c.n << "_h" << c.h << "_w" << c.w << "_c" << c.c << "_k" << c.kernel << "_s" << c.stride << "_p"
     << c.pad_top << c.pad_left << c.pad_bottom << c.pad_right << "_" << epilogue_label(c.epi) << (c.bias ? "_bias" : "")
     << (c.residual ? "_res" : "");
  return os.str();
}

std::vector<double> reference_depthwise(const DwCase& c, const std::vector<uint16_t>& x, const std::vector<uint16_t>& w,
                                        const std::vector<float>& bias, const std::vector<uint16_t>& residual) {
  const auto args = shape_args(c);
  const int64_t oh = dw::out_h(args), ow = dw::out_w(args);
  std::vector<double> xd(x.size()), wd(w.size());
  for (size_t i = 0; i < x.size(); ++i) xd[i] = half_bits_to_double(x[i]);
  for (size_t i = 0; i < w.size(); ++i) wd[i] = half_bits_to_double(w[i]);
  std::vector<double> out(static_cast<size_t>(c.n * oh * ow * c.c));
  parallel_for(static_cast<size_t>(c.n * oh), [&](size_t row) {
    const int64_t n = static_cast<int64_t>(row) / oh, y = static_cast<int64_t>(row) % oh;
    for (int64_t xo = 0; xo < ow; ++xo) {
      for (int64_t ch = 0; ch < c.c; ++ch) {
        double acc = 0;
        for (int i = 0; i < c.kernel; ++i) {
          const int64_t ih = y * c.stride - c.pad_top + i;
          if (ih < 0 || ih >= c.h) continue;
          for (int j = 0; j < c.kernel; ++j) {
            const int64_t iw = xo * c.stride - c.pad_left + j;
            if (iw < 0 || iw >= c.w) continue;
            acc += xd[((n * c.h + ih) * c.w + iw) * c.c + ch] * wd[(i * c.kernel + j) * c.c + ch];
          }
        }
        if (c.bias) acc += bias[ch];
        const size_t o = static_cast<size_t>(((n * oh + y) * ow + xo) * c.c + ch);
        const double r = c.residual ? half_bits_to_double(residual[o]) : 0.0;
        out[o] = reference_epilogue(acc, r, c.epi);
      }
    }
  });
  return out;
}

class DepthwiseTest : public GpuTest, public ::testing::WithParamInterface<DwCase> {};

TEST_P(DepthwiseTest, MatchesFp64ReferenceOnEveryVariant) {
  const DwCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  auto args = shape_args(c);
  const int64_t oh = dw::out_h(args), ow = dw::out_w(args);
  const size_t out_count = static_cast<size_t>(c.n * oh * ow * c.c);
  constexpr size_t kGuard = 64;

  const auto x = random_half(static_cast<size_t>(c.n * c.h * c.w * c.c), rng);
  const auto w = random_half(static_cast<size_t>(c.kernel * c.kernel * c.c), rng);
  const auto bias = random_float(static_cast<size_t>(c.c), rng);
  const auto residual = random_half(out_count, rng);
  const auto ref = reference_depthwise(c, x, w, bias, residual);

  DeviceBuffer<__half> dx(x.size()), dwt(w.size()), dres(residual.size()), dy(out_count + kGuard);
  DeviceBuffer<float> dbias(bias.size());
  for (auto st : {dx.status(), dwt.status(), dres.status(), dy.status(), dbias.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dwt.upload(w), "upload weight"));
  ASSERT_TRUE(cuda_ok(dres.upload(residual), "upload residual"));
  ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));
  std::vector<size_t> inside(out_count), guard(kGuard);
  for (size_t i = 0; i < out_count; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = out_count + i;

  args.x = dx.get();
  args.weight = dwt.get();
  args.y = dy.get();
  args.bias = c.bias ? dbias.get() : nullptr;
  args.residual = c.residual ? dres.get() : nullptr;
  ASSERT_TRUE(dw::can_implement(args).ok()) << dw::can_implement(args).message();
  EXPECT_EQ(dw::workspace_bytes(args), 0u);

  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = dw::vector_width(args);
    if (width == last_width) continue;  // the same kernel again
    last_width = width;
    for (dw::Strip strip : {dw::Strip::kAuto, dw::Strip::kNarrow, dw::Strip::kMedium, dw::Strip::kWide}) {
      SCOPED_TRACE("vector width " + std::to_string(width) + ", strip " + std::to_string(static_cast<int>(strip)));
      args.strip = strip;
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
      const Status st = dw::run(args, nullptr, nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "depthwise kernel"));
      std::vector<uint16_t> got;
      ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
      EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
      EXPECT_TRUE(untouched(got, guard));
    }
  }
}

// >= 20 shapes: the MobileNetV2 layers at batch 1 and 7, odd and tiny channel counts (scalar and
// half2 paths), stride 2, asymmetric and oversized padding, 5x5, single-pixel outputs.
std::vector<DwCase> shape_cases() {
  const std::vector<DwShape> shapes = {
      {1, 112, 112, 32, 3, 1, 1, 1, 1, 1}, {1, 112, 112, 96, 3, 2, 0, 0, 1, 1}, {7, 56, 56, 144, 3, 1, 1, 1, 1, 1},
      {7, 56, 56, 144, 3, 2, 1, 1, 1, 1},  {1, 7, 7, 960, 3, 1, 1, 1, 1, 1},    {7, 7, 7, 960, 5, 1, 2, 2, 2, 2},
      {1, 14, 14, 576, 5, 2, 1, 2, 2, 1},  {1, 9, 11, 3, 3, 1, 1, 1, 1, 1},     {7, 13, 17, 5, 5, 2, 2, 2, 2, 2},
      {1, 28, 28, 33, 3, 2, 0, 1, 2, 0},   {7, 15, 15, 17, 3, 1, 0, 0, 0, 0},   {1, 112, 112, 3, 5, 2, 2, 2, 2, 2},
      {1, 20, 31, 34, 3, 1, 2, 0, 0, 2},   {7, 10, 10, 6, 5, 1, 4, 4, 4, 4},    {1, 7, 9, 40, 3, 2, 1, 0, 0, 1},
      {2, 28, 28, 192, 3, 1, 1, 1, 1, 1},  {7, 14, 14, 384, 3, 1, 1, 1, 1, 1},  {1, 56, 56, 144, 5, 1, 2, 2, 2, 2},
      {7, 8, 8, 96, 5, 2, 2, 2, 2, 2},     {1, 31, 29, 24, 3, 2, 1, 1, 1, 1},   {3, 5, 5, 8, 5, 1, 0, 0, 0, 0},
      {1, 11, 7, 9, 3, 2, 2, 1, 0, 2},     {7, 112, 112, 32, 3, 2, 1, 1, 1, 1}, {1, 100, 100, 16, 5, 2, 3, 3, 3, 3},
      {7, 28, 28, 144, 3, 2, 0, 0, 1, 1},  {1, 7, 7, 1, 3, 1, 1, 1, 1, 1},
  };
  const auto epilogues = all_epilogues();
  std::vector<DwCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    DwCase c = make_case(shapes[i]);
    c.epi = epilogues[i % epilogues.size()];
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

std::vector<DwCase> epilogue_cases() {
  std::vector<DwCase> out;
  for (const DwShape& shape : {DwShape{7, 14, 14, 96, 3, 1, 1, 1, 1, 1}, DwShape{1, 13, 11, 19, 5, 2, 2, 1, 1, 2}}) {
    for (const auto& e : all_epilogues()) {
      for (bool after : {false, true}) {
        DwCase c = make_case(shape);
        c.epi = e;
        c.epi.residual_after_activation = after;
        c.residual = true;
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<DwCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, DepthwiseTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Epilogues, DepthwiseTest, ::testing::ValuesIn(epilogue_cases()), param_name);

TEST_F(GpuTest, DepthwiseResidualInPlace) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  DwCase c = make_case(DwShape{2, 14, 14, 64, 3, 1, 1, 1, 1, 1});
  c.residual = true;
  const auto args0 = shape_args(c);
  const size_t out_count = static_cast<size_t>(c.n * dw::out_h(args0) * dw::out_w(args0) * c.c);
  const auto x = random_half(static_cast<size_t>(c.n * c.h * c.w * c.c), rng);
  const auto w = random_half(static_cast<size_t>(9 * c.c), rng);
  const auto bias = random_float(static_cast<size_t>(c.c), rng);
  const auto residual = random_half(out_count, rng);
  const auto ref = reference_depthwise(c, x, w, bias, residual);
  DeviceBuffer<__half> dx(x.size()), dwt(w.size()), dy(out_count);
  DeviceBuffer<float> dbias(bias.size());
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dwt.upload(w), "upload weight"));
  ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));
  ASSERT_TRUE(cuda_ok(dy.upload(residual), "upload residual into y"));
  auto args = args0;
  args.x = dx.get();
  args.weight = dwt.get();
  args.bias = dbias.get();
  args.y = dy.get();
  args.residual = dy.get();
  const Status st = dw::run(args, nullptr, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "depthwise kernel"));
  std::vector<uint16_t> got;
  ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
  EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
}

TEST(DepthwiseArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[64];
  dw::DepthwiseArgs<__half> ok;
  ok.n = 1;
  ok.h = ok.w = 4;
  ok.c = 2;
  ok.x = ok.weight = buf;
  ok.y = buf;
  EXPECT_TRUE(dw::can_implement(ok).ok());
  auto bad = ok;
  bad.kernel = 7;
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.stride = 3;
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.h = 2;  // 2 + 0 padding < 3
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kShapeError);
  bad = ok;
  bad.pad_left = -1;
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.weight = nullptr;
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.max_vector = 4;
  EXPECT_EQ(dw::can_implement(bad).code(), StatusCode::kInvalidArgument);
  // Vector width follows C and alignment.
  ok.c = 16;
  EXPECT_EQ(dw::vector_width(ok), 8);
  ok.c = 6;
  EXPECT_EQ(dw::vector_width(ok), 2);
  ok.c = 7;
  EXPECT_EQ(dw::vector_width(ok), 1);
  ok.c = 16;
  ok.x = buf + 2;  // 4-byte aligned only
  EXPECT_EQ(dw::vector_width(ok), 2);
}

}  // namespace
}  // namespace quench::gpu_test
