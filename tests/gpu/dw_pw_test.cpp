// The fused depthwise-separable kernel (kernels/fused/dw_pw) against the CPU reference of the
// UNFUSED sequence it replaces, on fresh random inputs with poisoned outputs:
//
//   d = fp16( act_dw( Conv_dw(x) + b_dw ) )        ops/ Conv reference (group = C), the activation
//                                                   in FP64, rounded to float16 like the unfused
//                                                   sequence's intermediate tensor
//   y = epilogue_pw( Conv_1x1(d) + b_pw, residual ) ops/ Conv reference, the epilogue in FP64
//
// and against the unfused GPU sequence itself (kernels/depthwise, then the 1x1 kernels/conv),
// for every tile shape. The can_implement tests and the ops/conv_gpu.cpp prepare tests (which
// nodes run fused) at the end run without a device.
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <map>
#include <utility>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv/conv.cuh"
#include "kernels/depthwise/depthwise.cuh"
#include "kernels/fused/dw_pw.cuh"
#include "ops/gpu_op.h"
#include "ops/registry.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace fz = kernels::dw_pw;
namespace dw = kernels::depthwise;
namespace conv = kernels::conv;

struct DpShape {
  int64_t n, h, w, c, out_c;
  int kernel, stride;
  int pad_top, pad_left, pad_bottom, pad_right;
};

struct DpCase {
  DpShape s{};
  bool dw_bias = true, pw_bias = true, residual = false;
  EpilogueParams dw_epi, epi;
};

fz::DwPwArgs<__half> shape_args(const DpCase& c) {
  fz::DwPwArgs<__half> a;
  a.n = c.s.n;
  a.h = c.s.h;
  a.w = c.s.w;
  a.c = c.s.c;
  a.out_c = c.s.out_c;
  a.kernel = c.s.kernel;
  a.stride = c.s.stride;
  a.pad_top = c.s.pad_top;
  a.pad_left = c.s.pad_left;
  a.pad_bottom = c.s.pad_bottom;
  a.pad_right = c.s.pad_right;
  a.dw_epilogue = c.dw_epi;
  a.epilogue = c.epi;
  return a;
}

std::string case_name(const DpCase& c) {
  std::ostringstream os;
  os << "n" << c.s.n << "_h" << c.s.h << "_w" << c.s.w << "_c" << c.s.c << "_o" << c.s.out_c << "_k" << c.s.kernel
     << "_s" << c.s.stride << "_p" << c.s.pad_top << c.s.pad_left << c.s.pad_bottom << c.s.pad_right << "_dw"
     << epilogue_label(c.dw_epi) << "_pw" << epilogue_label(c.epi)
     << (c.dw_bias ? "_db" : "") << (c.pw_bias ? "_pb" : "") << (c.residual ? "_res" : "");
  return os.str();
}

// The unfused sequence on the ops/ CPU reference (see the top of the file), in NHWC order
// ([pixel][out_c]). Empty (with *err) when the reference refuses a stage.
std::vector<double> reference_unfused(const DpCase& c, const std::vector<uint16_t>& x, const std::vector<uint16_t>& wd_onnx,
                                      const std::vector<float>& bd, const std::vector<uint16_t>& wp,
                                      const std::vector<float>& bp, const std::vector<uint16_t>& residual,
                                      std::string* err) {
  const DpShape& s = c.s;
  const auto args = shape_args(c);
  const int64_t oh = fz::out_h(args), ow = fz::out_w(args);
  ops::Attributes dattrs;
  dattrs.set("kernel_shape", attr_ints({s.kernel, s.kernel}));
  dattrs.set("strides", attr_ints({s.stride, s.stride}));
  dattrs.set("pads", attr_ints({s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}));
  dattrs.set("group", attr_int(s.c));
  std::vector<RefInput> din(c.dw_bias ? 3 : 2);
  din[0].value = nchw_from_nhwc_half(x, s.n, s.h, s.w, s.c);
  din[1].value = f32_from_half(wd_onnx, {s.c, 1, s.kernel, s.kernel});
  if (c.dw_bias) din[2].value = Tensor::from_values(DType::kF32, {s.c}, bd);
  auto d = run_reference("Conv", dattrs, din);
  if (!d.ok()) {
    *err = "depthwise stage: " + d.status().message();
    return {};
  }
  if ((*d)[0].shape() != Shape{s.n, s.c, oh, ow}) {
    *err = "the depthwise reference's output shape " + shape_str((*d)[0].shape()) + " differs from the kernel's";
    return {};
  }
  // The intermediate tensor as the unfused sequence stores it: activated, then float16.
  std::vector<double> mid = nhwc_from_nchw((*d)[0]);
  for (double& v : mid) v = reference_activation(v, c.dw_epi);
  const std::vector<uint16_t> mid_half = half_bits_of(mid);

  ops::Attributes pattrs;
  pattrs.set("kernel_shape", attr_ints({1, 1}));
  std::vector<RefInput> pin(c.pw_bias ? 3 : 2);
  pin[0].value = nchw_from_nhwc_half(mid_half, s.n, oh, ow, s.c);
  pin[1].value = f32_from_half(wp, {s.out_c, s.c, 1, 1});
  if (c.pw_bias) pin[2].value = Tensor::from_values(DType::kF32, {s.out_c}, bp);
  auto y = run_reference("Conv", pattrs, pin);
  if (!y.ok()) {
    *err = "pointwise stage: " + y.status().message();
    return {};
  }
  std::vector<double> ref = nhwc_from_nchw((*y)[0]);
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = c.residual ? half_bits_to_double(residual[i]) : 0.0;
    ref[i] = reference_epilogue(ref[i], r, c.epi);
  }
  return ref;
}

class DwPwTest : public GpuTest, public ::testing::WithParamInterface<DpCase> {};

TEST_P(DwPwTest, MatchesTheUnfusedSequence) {
  const DpCase& c = GetParam();
  const DpShape& s = c.s;
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  auto args = shape_args(c);
  const int64_t oh = fz::out_h(args), ow = fz::out_w(args);
  const size_t mid_count = static_cast<size_t>(s.n * oh * ow * s.c);
  const size_t out_count = static_cast<size_t>(s.n * oh * ow * s.out_c);
  constexpr size_t kGuard = 64;

  // Pointwise weights scaled by 1/sqrt(C) so that the outputs stay O(1) for every C.
  const float wp_range = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.c)));
  const auto x = random_half(static_cast<size_t>(s.n * s.h * s.w * s.c), rng);
  const auto wd_onnx = random_half(static_cast<size_t>(s.c * s.kernel * s.kernel), rng, -0.5f, 0.5f);
  const auto bd = random_float(static_cast<size_t>(s.c), rng, -0.5f, 0.5f);
  const auto wp = random_half(static_cast<size_t>(s.out_c * s.c), rng, -wp_range, wp_range, wp_range / 64);
  const auto bp = random_float(static_cast<size_t>(s.out_c), rng);
  const auto residual = random_half(out_count, rng);

  std::string err;
  const auto ref = reference_unfused(c, x, wd_onnx, bd, wp, bp, residual, &err);
  ASSERT_FALSE(ref.empty()) << err;
  ASSERT_EQ(ref.size(), out_count);

  // Device forms: depthwise [KH][KW][C]; pointwise packed as kernels/conv packs a 1x1 conv.
  const int kk = s.kernel * s.kernel;
  std::vector<uint16_t> wd(wd_onnx.size());
  for (int64_t ch = 0; ch < s.c; ++ch)
    for (int t = 0; t < kk; ++t) wd[static_cast<size_t>(t * s.c + ch)] = wd_onnx[static_cast<size_t>(ch * kk + t)];
  conv::ConvShape pw_shape;
  pw_shape.n = s.n;
  pw_shape.h = oh;
  pw_shape.w = ow;
  pw_shape.c = s.c;
  pw_shape.out_c = s.out_c;
  std::vector<float> wp_f(wp.size());
  for (size_t i = 0; i < wp.size(); ++i) wp_f[i] = static_cast<float>(half_bits_to_double(wp[i]));
  std::vector<__half> wp_packed(static_cast<size_t>(conv::packed_weight_count(pw_shape)));
  ASSERT_TRUE(conv::pack_weights<__half>(pw_shape, wp_f.data(), wp_packed.data()).ok());
  std::vector<uint16_t> wp_bits(wp_packed.size());
  std::memcpy(wp_bits.data(), wp_packed.data(), wp_bits.size() * sizeof(uint16_t));

  DeviceBuffer<__half> dx(x.size()), dwd(wd.size()), dwp(wp_bits.size()), dres(residual.size()),
      dy(out_count + kGuard), dmid(mid_count), dy_unfused(out_count);
  DeviceBuffer<float> dbd(bd.size()), dbp(bp.size());
  for (auto st : {dx.status(), dwd.status(), dwp.status(), dres.status(), dy.status(), dmid.status(),
                  dy_unfused.status(), dbd.status(), dbp.status()})
    ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dwd.upload(wd), "upload depthwise weight"));
  ASSERT_TRUE(cuda_ok(dwp.upload(wp_bits), "upload pointwise weight"));
  ASSERT_TRUE(cuda_ok(dres.upload(residual), "upload residual"));
  ASSERT_TRUE(cuda_ok(dbd.upload(bd), "upload depthwise bias"));
  ASSERT_TRUE(cuda_ok(dbp.upload(bp), "upload pointwise bias"));
  std::vector<size_t> inside(out_count), guard(kGuard);
  for (size_t i = 0; i < out_count; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = out_count + i;

  args.x = dx.get();
  args.dw_weight = dwd.get();
  args.dw_bias = c.dw_bias ? dbd.get() : nullptr;
  args.pw_weight = dwp.get();
  args.ldw = conv::packed_k(pw_shape);
  args.pw_bias = c.pw_bias ? dbp.get() : nullptr;
  args.residual = c.residual ? dres.get() : nullptr;
  args.y = dy.get();
  ASSERT_TRUE(fz::can_implement(args).ok()) << fz::can_implement(args).message();
  EXPECT_EQ(fz::workspace_bytes(args), 0u);

  // The unfused GPU sequence: depthwise into `mid`, then the 1x1 convolution.
  dw::DepthwiseArgs<__half> da;
  da.n = s.n;
  da.h = s.h;
  da.w = s.w;
  da.c = s.c;
  da.kernel = s.kernel;
  da.stride = s.stride;
  da.pad_top = s.pad_top;
  da.pad_left = s.pad_left;
  da.pad_bottom = s.pad_bottom;
  da.pad_right = s.pad_right;
  da.x = dx.get();
  da.weight = dwd.get();
  da.bias = args.dw_bias;
  da.y = dmid.get();
  da.epilogue = c.dw_epi;
  conv::ConvArgs<__half> ca;
  ca.shape = pw_shape;
  ca.x = dmid.get();
  ca.weight = dwp.get();
  ca.bias = args.pw_bias;
  ca.residual = args.residual;
  ca.y = dy_unfused.get();
  ca.epilogue = c.epi;
  ca.split_k = 1;  // no workspace
  ASSERT_TRUE(dw::run(da, nullptr, nullptr).ok());
  const Status cs = conv::run(ca, nullptr, nullptr);
  ASSERT_TRUE(cs.ok()) << cs.message();
  ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "unfused sequence"));
  std::vector<uint16_t> unfused_bits;
  ASSERT_TRUE(cuda_ok(dy_unfused.download(unfused_bits), "download unfused y"));
  std::vector<double> unfused(unfused_bits.size());
  for (size_t i = 0; i < unfused.size(); ++i) unfused[i] = half_bits_to_double(unfused_bits[i]);
  EXPECT_TRUE(comparison_passes(compare_half(unfused_bits, ref))) << "the unfused GPU sequence itself";

  for (fz::Tile tile : {fz::Tile::kAuto, fz::Tile::k64x64x64, fz::Tile::k64x128x64}) {
    SCOPED_TRACE(std::string("tile ") + fz::tile_name(tile));
    args.tile = tile;
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = fz::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "dw_pw kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
    EXPECT_TRUE(untouched(got, guard));
    // Same intermediate bits, same weights: only the pointwise accumulation order may differ.
    EXPECT_TRUE(comparison_passes(compare_half(got, unfused, inside))) << "against the unfused GPU sequence";
  }
}

// >= 20 shapes: MobileNetV2's depthwise-separable layers (dw 3x3 + project) at batch 1 and 7,
// odd spatial sizes, stride 2 with asymmetric pads, 5x5, C not a multiple of 64 (a partial last
// K tile), Cout not a multiple of 8 (scalar stores) and above 128 (several column tiles),
// oversized pads and single-pixel outputs.
std::vector<DpCase> shape_cases() {
  const std::vector<DpShape> shapes = {
      {1, 112, 112, 32, 16, 3, 1, 1, 1, 1, 1},  {1, 112, 112, 96, 24, 3, 2, 0, 0, 1, 1},
      {1, 56, 56, 144, 24, 3, 1, 1, 1, 1, 1},   {1, 56, 56, 144, 32, 3, 2, 1, 1, 1, 1},
      {1, 28, 28, 192, 32, 3, 1, 1, 1, 1, 1},   {1, 28, 28, 192, 64, 3, 2, 0, 0, 1, 1},
      {1, 14, 14, 384, 64, 3, 1, 1, 1, 1, 1},   {1, 14, 14, 576, 96, 3, 1, 1, 1, 1, 1},
      {1, 14, 14, 576, 160, 3, 2, 1, 1, 1, 1},  {1, 7, 7, 960, 160, 3, 1, 1, 1, 1, 1},
      {1, 7, 7, 960, 320, 3, 1, 1, 1, 1, 1},    {7, 112, 112, 32, 16, 3, 1, 1, 1, 1, 1},
      {7, 28, 28, 192, 32, 3, 1, 1, 1, 1, 1},   {7, 14, 14, 384, 64, 3, 1, 1, 1, 1, 1},
      {7, 7, 7, 960, 320, 3, 1, 1, 1, 1, 1},    {7, 56, 56, 144, 24, 3, 2, 0, 0, 1, 1},
      {1, 13, 17, 40, 24, 3, 1, 1, 1, 1, 1},    {7, 15, 11, 64, 40, 5, 2, 2, 2, 2, 2},
      {1, 9, 9, 72, 72, 5, 1, 2, 2, 2, 2},      {1, 31, 29, 24, 8, 3, 2, 0, 1, 1, 0},
      {3, 20, 31, 8, 130, 3, 1, 2, 0, 0, 2},    {1, 5, 5, 16, 3, 5, 1, 0, 0, 0, 0},
      {7, 112, 112, 32, 16, 3, 2, 1, 1, 1, 1},  {1, 7, 9, 200, 17, 5, 2, 1, 0, 0, 1},
      {2, 10, 10, 8, 96, 3, 1, 4, 4, 4, 4},     {7, 14, 14, 672, 112, 5, 1, 2, 2, 2, 2},
  };
  const auto epilogues = all_epilogues();
  const EpilogueParams dw_epis[] = {EpilogueParams::relu6(), EpilogueParams{}, [] {
                                      EpilogueParams p;
                                      p.activation = Activation::kRelu;
                                      return p;
                                    }(),
                                    [] {
                                      EpilogueParams p;
                                      p.activation = Activation::kHardSwish;
                                      return p;
                                    }()};
  std::vector<DpCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    DpCase c;
    c.s = shapes[i];
    c.dw_epi = dw_epis[i % 4];
    c.epi = i % 3 == 0 ? EpilogueParams{} : epilogues[i % epilogues.size()];  // MobileNetV2's project is linear
    c.epi.residual_after_activation = i % 5 == 4;
    c.dw_bias = i % 6 != 5;
    c.pw_bias = i % 4 != 3;
    c.residual = i % 2 == 0;
    out.push_back(c);
  }
  return out;
}

// Every depthwise activation (SiLU, Sigmoid, a narrow Clip, LeakyReLU included) on one shape.
std::vector<DpCase> activation_cases() {
  std::vector<DpCase> out;
  const auto epilogues = all_epilogues();
  for (size_t i = 0; i < epilogues.size(); ++i) {
    DpCase c;
    c.s = {2, 11, 13, 48, 40, 3, 2, 1, 1, 1, 1};
    c.dw_epi = epilogues[i];
    c.epi = epilogues[(i + 3) % epilogues.size()];
    c.residual = true;
    out.push_back(c);
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<DpCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, DwPwTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(DepthwiseActivations, DwPwTest, ::testing::ValuesIn(activation_cases()), param_name);

// ---- host-only: the contract, no device needed ------------------------------------------------

template <class T>
T* fake_ptr(uintptr_t which, uintptr_t offset = 0) {
  return reinterpret_cast<T*>((which + 1) * (uintptr_t{1} << 40) + offset);
}

fz::DwPwArgs<__half> valid_args() {
  DpCase c;
  c.s = {1, 14, 14, 384, 64, 3, 1, 1, 1, 1, 1};
  auto a = shape_args(c);
  a.x = fake_ptr<const __half>(0);
  a.y = fake_ptr<__half>(1);
  a.dw_weight = fake_ptr<const __half>(2);
  a.pw_weight = fake_ptr<const __half>(3);
  a.dw_bias = fake_ptr<const float>(4);
  a.pw_bias = fake_ptr<const float>(5);
  return a;
}

TEST(DwPwArguments, AcceptsMobileNetForms) {
  auto a = valid_args();
  EXPECT_TRUE(fz::can_implement(a).ok()) << fz::can_implement(a).message();
  a.kernel = 5;
  a.stride = 2;
  a.pad_top = 0;
  a.pad_left = 2;
  a.pad_bottom = 3;
  a.pad_right = 1;
  EXPECT_TRUE(fz::can_implement(a).ok()) << fz::can_implement(a).message();
  EXPECT_EQ(fz::workspace_bytes(a), 0u);
  EXPECT_EQ(fz::out_h(a), (14 + 0 + 3 - 5) / 2 + 1);
  EXPECT_EQ(fz::out_w(a), (14 + 2 + 1 - 5) / 2 + 1);
}

TEST(DwPwArguments, RefusesFormsItDoesNotHandleAsUnsupported) {
  // kUnsupported is what makes ops/ run the two stages instead.
  auto expect_unsupported = [](const fz::DwPwArgs<__half>& a, const char* what) {
    const Status st = fz::can_implement(a);
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << what << ": " << st.message();
  };
  for (int64_t c : {1, 3, 12, 20, 386}) {
    auto a = valid_args();
    a.c = c;
    a.ldw = 0;
    expect_unsupported(a, "C not a multiple of 8");
  }
  for (int k : {1, 2, 4, 7}) {
    auto a = valid_args();
    a.kernel = k;
    expect_unsupported(a, "kernel other than 3x3 / 5x5");
  }
  for (int s : {3, 4}) {
    auto a = valid_args();
    a.stride = s;
    expect_unsupported(a, "stride other than 1 / 2");
  }
  {
    auto a = valid_args();
    a.dilation = 2;
    expect_unsupported(a, "dilation");
  }
  {
    auto a = valid_args();
    a.x = fake_ptr<const __half>(0, 2);
    expect_unsupported(a, "x not 16-byte aligned");
  }
  {
    auto a = valid_args();
    a.pw_weight = fake_ptr<const __half>(3, 8);
    expect_unsupported(a, "pointwise weight not 16-byte aligned");
  }
  {
    auto a = valid_args();
    a.ldw = 388;
    expect_unsupported(a, "ldw not a multiple of 8");
  }
  {
    auto a = valid_args();
    a.n = 4096;
    a.h = a.w = 512;
    expect_unsupported(a, "x beyond 32-bit indexing");
  }
}

TEST(DwPwArguments, RefusesMalformedArguments) {
  auto expect_code = [](const fz::DwPwArgs<__half>& a, StatusCode code, const char* what) {
    const Status st = fz::can_implement(a);
    EXPECT_EQ(st.code(), code) << what << ": " << st.message();
  };
  {
    auto a = valid_args();
    a.out_c = 0;
    expect_code(a, StatusCode::kInvalidArgument, "Cout = 0");
  }
  {
    auto a = valid_args();
    a.y = nullptr;
    expect_code(a, StatusCode::kInvalidArgument, "null y");
  }
  {
    auto a = valid_args();
    a.pw_weight = nullptr;
    expect_code(a, StatusCode::kInvalidArgument, "null pointwise weight");
  }
  {
    auto a = valid_args();
    a.pad_left = -1;
    expect_code(a, StatusCode::kInvalidArgument, "negative pad");
  }
  {
    auto a = valid_args();
    a.h = 2;
    a.pad_top = a.pad_bottom = 0;
    expect_code(a, StatusCode::kShapeError, "input smaller than the kernel");
  }
  {
    auto a = valid_args();
    a.ldw = 128;
    expect_code(a, StatusCode::kInvalidArgument, "ldw < C");
  }
  {
    auto a = valid_args();
    a.y = const_cast<__half*>(a.x) + 64;
    expect_code(a, StatusCode::kInvalidArgument, "y overlapping x");
  }
  {
    auto a = valid_args();
    a.y = fake_ptr<__half>(1, 1);
    expect_code(a, StatusCode::kInvalidArgument, "y not aligned to its element");
  }
  {
    auto a = valid_args();
    a.epilogue.activation = Activation::kClip;
    a.epilogue.clip_min = 2.0f;
    a.epilogue.clip_max = 1.0f;
    expect_code(a, StatusCode::kInvalidArgument, "clip_min > clip_max");
  }
  {
    auto a = valid_args();
    a.tile = static_cast<fz::Tile>(17);
    expect_code(a, StatusCode::kInvalidArgument, "unknown tile");
  }
}

TEST(DwPwArguments, PlanTakesTheWideTileOnlyForWideOutputs) {
  auto a = valid_args();
  a.out_c = 64;
  EXPECT_EQ(fz::plan(a, 132), fz::Tile::k64x64x64);
  a.n = 32;
  a.out_c = 320;
  a.c = 576;
  EXPECT_EQ(fz::plan(a, 132), fz::Tile::k64x128x64);  // 6272 pixels: 98 x 3 wide tiles
  a.n = 1;
  EXPECT_EQ(fz::plan(a, 132), fz::Tile::k64x64x64);   // 196 pixels: 4 x 3 wide tiles cannot fill the GPU
  a.tile = fz::Tile::k64x128x64;
  EXPECT_EQ(fz::plan(a, 132), fz::Tile::k64x128x64);  // a pinned tile is kept
  EXPECT_STREQ(fz::tile_name(fz::Tile::k64x64x64), "64x64x64");
  EXPECT_STREQ(fz::tile_name(fz::Tile::k64x128x64), "64x128x64");
}


// ---- host-only: which path ops/conv_gpu.cpp prepares for a DwPwConv node ----------------------

class VectorSink : public ops::WeightSink {
 public:
  int find(const void* source, std::string_view transform) const override {
    auto it = index_.find({source, std::string(transform)});
    return it == index_.end() ? -1 : it->second;
  }
  int add(const void* source, std::string_view transform, std::vector<std::byte> bytes) override {
    const int i = static_cast<int>(weights_.size());
    weights_.push_back(std::move(bytes));
    index_[{source, std::string(transform)}] = i;
    return i;
  }

 private:
  std::map<std::pair<const void*, std::string>, int> index_;
  std::vector<std::vector<std::byte>> weights_;
};

// Prepares DwPwConv (3x3 depthwise + ReLU6 on C channels, then 1x1 to Cout) on a 1 x C x 14 x 14
// NHWC float16 input; the arena workspace prepare asks for (0 when the fused kernel takes it).
Result<size_t> prepared_workspace(int64_t c, int64_t out_c, int stride) {
  const ops::OpSchema* schema = ops::find_schema("DwPwConv", ops::kQuenchDomain);
  if (!schema) return error(StatusCode::kInternal, "no DwPwConv schema");
  const ops::GpuOp* op = ops::find_gpu_op(schema);
  if (!op) return error(StatusCode::kInternal, "no DwPwConv GPU op");
  ops::NodeDesc node;
  node.name = "block";
  node.op_type = "DwPwConv";
  node.domain = std::string(ops::kQuenchDomain);
  node.opset = 1;
  node.attrs.set("kernel_shape", attr_ints({3, 3}));
  node.attrs.set("strides", attr_ints({stride, stride}));
  node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  node.attrs.set("group", attr_int(c));
  node.attrs.set("dw_activation", attr_string("Clip"));
  node.attrs.set("dw_activation_alpha", attr_float(0.0f));
  node.attrs.set("dw_activation_beta", attr_float(6.0f));
  const Tensor wd = Tensor::from_values(DType::kF32, {c, 1, 3, 3}, std::vector<float>(static_cast<size_t>(c * 9), 0.5f));
  const Tensor bd = Tensor::from_values(DType::kF32, {c}, std::vector<float>(static_cast<size_t>(c), 0.25f));
  const Tensor wp = Tensor::from_values(DType::kF32, {out_c, c, 1, 1}, std::vector<float>(static_cast<size_t>(out_c * c), 0.125f));
  const Tensor bp = Tensor::from_values(DType::kF32, {out_c}, std::vector<float>(static_cast<size_t>(out_c), 1.0f));
  auto value = [](Shape shape, const Tensor* constant) {
    ops::GpuValueDesc v;
    v.dtype = DType::kF16;
    v.shape = std::move(shape);
    v.constant = constant;  // constants are read through prepared weights; activations set NHWC below
    return v;
  };
  const int64_t o = (14 + 2 - 3) / stride + 1;
  std::vector<ops::GpuValueDesc> in = {value({1, c, 14, 14}, nullptr), value(wd.shape(), &wd), value(bd.shape(), &bd),
                                       value(wp.shape(), &wp), value(bp.shape(), &bp)};
  in[0].layout = ops::GpuLayout::kNHWC;
  std::vector<ops::GpuValueDesc> out = {value({1, out_c, o, o}, nullptr)};
  out[0].layout = ops::GpuLayout::kNHWC;
  VectorSink sink;
  ops::GpuPrepareArgs args{node, in, out, sink, 132};
  ops::GpuPrepared prepared;
  QUENCH_TRY(op->prepare(args, prepared));
  if (prepared.weights.size() != 4) return error(StatusCode::kInternal, "expected 4 prepared weights");
  return prepared.workspace_bytes;
}

// Prepares InvertedResidual (1x1 expand C -> E + ReLU6, 3x3 depthwise on E + ReLU6, 1x1 project
// E -> Cout) on a 1 x C x 14 x 14 input; the arena workspace prepare asks for.
Result<size_t> prepared_inverted_residual_workspace(int64_t c, int64_t e, int64_t out_c) {
  const ops::OpSchema* schema = ops::find_schema("InvertedResidual", ops::kQuenchDomain);
  if (!schema) return error(StatusCode::kInternal, "no InvertedResidual schema");
  const ops::GpuOp* op = ops::find_gpu_op(schema);
  if (!op) return error(StatusCode::kInternal, "no InvertedResidual GPU op");
  ops::NodeDesc node;
  node.name = "block";
  node.op_type = "InvertedResidual";
  node.domain = std::string(ops::kQuenchDomain);
  node.opset = 1;
  node.attrs.set("kernel_shape", attr_ints({3, 3}));
  node.attrs.set("strides", attr_ints({1, 1}));
  node.attrs.set("pads", attr_ints({1, 1, 1, 1}));
  node.attrs.set("group", attr_int(e));
  for (const char* stage : {"expand_", "dw_"}) {
    node.attrs.set(std::string(stage) + "activation", attr_string("Clip"));
    node.attrs.set(std::string(stage) + "activation_alpha", attr_float(0.0f));
    node.attrs.set(std::string(stage) + "activation_beta", attr_float(6.0f));
  }
  auto filled = [](Shape shape, float v) {
    return Tensor::from_values(DType::kF32, shape, std::vector<float>(static_cast<size_t>(shape_numel(shape)), v));
  };
  const Tensor we = filled({e, c, 1, 1}, 0.1f), be = filled({e}, 0.2f), wd = filled({e, 1, 3, 3}, 0.3f),
               bd = filled({e}, 0.4f), wp = filled({out_c, e, 1, 1}, 0.5f), bp = filled({out_c}, 0.6f);
  auto constant = [](const Tensor& t) {
    ops::GpuValueDesc v;
    v.dtype = DType::kF16;
    v.shape = t.shape();
    v.constant = &t;
    return v;
  };
  ops::GpuValueDesc xin;
  xin.dtype = DType::kF16;
  xin.shape = {1, c, 14, 14};
  xin.layout = ops::GpuLayout::kNHWC;
  ops::GpuValueDesc yout = xin;
  yout.shape = {1, out_c, 14, 14};
  std::vector<ops::GpuValueDesc> in = {xin, constant(we), constant(be), constant(wd), constant(bd), constant(wp), constant(bp)};
  std::vector<ops::GpuValueDesc> out = {yout};
  VectorSink sink;
  ops::GpuPrepareArgs args{node, in, out, sink, 132};
  ops::GpuPrepared prepared;
  QUENCH_TRY(op->prepare(args, prepared));
  if (prepared.weights.size() != 6) return error(StatusCode::kInternal, "expected 6 prepared weights");
  return prepared.workspace_bytes;
}

TEST(DwPwConvGpuOp, InvertedResidualFusesDepthwiseAndProjectKeepingExpand) {
  // Fused depthwise + project: only the expand output [1, 14, 14, E] is stored.
  auto ws = prepared_inverted_residual_workspace(64, 384, 64);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ(*ws, size_t{14 * 14 * 384 * 2});
  // E not a multiple of 8: three stages, both intermediates stored.
  ws = prepared_inverted_residual_workspace(16, 36, 16);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ(*ws, 2 * ((size_t{14 * 14 * 36 * 2} + 255) / 256 * 256));
}

TEST(DwPwConvGpuOp, FusedWhenTheKernelAcceptsTheNodeElseTwoStages) {
  // Fused: no intermediate, so no workspace.
  for (auto [c, out_c, stride] : {std::tuple{32, 16, 1}, std::tuple{144, 24, 2}, std::tuple{960, 320, 1}}) {
    auto ws = prepared_workspace(c, out_c, stride);
    ASSERT_TRUE(ws.ok()) << ws.status().message();
    EXPECT_EQ(*ws, 0u) << "C " << c << " -> " << out_c << " stride " << stride;
  }
  // C not a multiple of 8: the two stages, the intermediate [1, 14, 14, 12] float16 in the workspace.
  auto ws = prepared_workspace(12, 16, 1);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_GE(*ws, size_t{14 * 14 * 12 * 2});
}

}  // namespace
}  // namespace quench::gpu_test
