// The implicit-GEMM NHWC convolution (kernels/conv) against the engine's own CPU reference (the
// Conv node of ops/, NCHW FP32 with FP64 accumulation), on fresh random inputs with poisoned
// outputs, through every path that can run each shape (GEMM for 1x1, vector gather, general
// gather), every tile, with and without split K, and every epilogue.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv/conv.cuh"
#include "kernels/conv/gather.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace conv = kernels::conv;

// NaN in FP16: written into the channels past C of each input pixel (ldx > C), which the kernel
// must never read (a read would turn an output into NaN, and NaN never passes).
constexpr uint16_t kNanHalf = 0x7E00;

struct ConvCase {
  conv::ConvShape s;
  int ldx_pad = 0, ldy_pad = 0;  // extra elements per input / output pixel
  bool bias = true, residual = false;
  EpilogueParams epi;
};

// n, h, w, c, out_c, kh, kw, stride h/w, dilation h/w, pads top/left/bottom/right, groups, pads of ldx/ldy.
struct S {
  int64_t n, h, w, c, out_c;
  int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, ldx_pad, ldy_pad;
};

ConvCase make_case(const S& v) {
  ConvCase c;
  c.s.n = v.n;
  c.s.h = v.h;
  c.s.w = v.w;
  c.s.c = v.c;
  c.s.out_c = v.out_c;
  c.s.kernel_h = v.kh;
  c.s.kernel_w = v.kw;
  c.s.stride_h = v.sh;
  c.s.stride_w = v.sw;
  c.s.dilation_h = v.dh;
  c.s.dilation_w = v.dw;
  c.s.pad_top = v.pt;
  c.s.pad_left = v.pl;
  c.s.pad_bottom = v.pb;
  c.s.pad_right = v.pr;
  c.s.groups = v.groups;
  c.ldx_pad = v.ldx_pad;
  c.ldy_pad = v.ldy_pad;
  return c;
}

std::string case_name(const ConvCase& c) {
  const conv::ConvShape& s = c.s;
  std::ostringstream os;
  os << "n" << s.n << "_" << s.h << "x" << s.w << "x" << s.c << "_to" << s.out_c << "_k" << s.kernel_h << "x"
     << s.kernel_w << "_s" << s.stride_h << s.stride_w << "_d" << s.dilation_h << s.dilation_w << "_p" << s.pad_top
     << s.pad_left << s.pad_bottom << s.pad_right << "_g" << s.groups;
  if (c.ldx_pad) os << "_ldxp" << c.ldx_pad;
  if (c.ldy_pad) os << "_ldyp" << c.ldy_pad;
  os << "_" << epilogue_label(c.epi) << (c.bias ? "_bias" : "") << (c.residual ? "_res" : "");
  return os.str();
}

// The Conv node of the CPU reference backend (tests/gpu/cpu_reference.h: shape rule, then the CPU
// loop) on NCHW FP32 (the FP16 inputs converted exactly), then the epilogue in FP64, in the
// kernel's NHWC output order ([pixel][out_c]). Empty (with *err) when the reference refuses the
// node or its output shape differs from conv::out_h/out_w.
std::vector<double> reference_conv(const ConvCase& c, int64_t ldx, int64_t ldy, const std::vector<uint16_t>& x,
                                   const std::vector<float>& w_onnx, const std::vector<float>& bias,
                                   const std::vector<uint16_t>& residual, std::string* err) {
  const conv::ConvShape& s = c.s;
  const int64_t oh = conv::out_h(s), ow = conv::out_w(s);
  std::vector<uint16_t> dense(static_cast<size_t>(s.n * s.h * s.w * s.c));  // x without the pixel padding
  for (int64_t p = 0; p < s.n * s.h * s.w; ++p)
    for (int64_t ch = 0; ch < s.c; ++ch) dense[static_cast<size_t>(p * s.c + ch)] = x[static_cast<size_t>(p * ldx + ch)];
  ops::Attributes attrs;
  attrs.set("kernel_shape", attr_ints({s.kernel_h, s.kernel_w}));
  attrs.set("strides", attr_ints({s.stride_h, s.stride_w}));
  attrs.set("dilations", attr_ints({s.dilation_h, s.dilation_w}));
  attrs.set("pads", attr_ints({s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}));
  attrs.set("group", attr_int(s.groups));
  std::vector<RefInput> in(c.bias ? 3 : 2);
  in[0].value = nchw_from_nhwc_half(dense, s.n, s.h, s.w, s.c);
  in[1].value = Tensor::from_values(DType::kF32, {s.out_c, s.c / s.groups, s.kernel_h, s.kernel_w}, w_onnx);
  if (c.bias) in[2].value = Tensor::from_values(DType::kF32, {s.out_c}, bias);
  auto out = run_reference("Conv", attrs, in);
  if (!out.ok()) {
    *err = out.status().message();
    return {};
  }
  const Tensor& y = (*out)[0];
  if (y.shape() != Shape{s.n, s.out_c, oh, ow}) {
    *err = "the reference's output shape " + shape_str(y.shape()) + " differs from the kernel's";
    return {};
  }
  std::vector<double> ref = nhwc_from_nchw(y);
  for (int64_t p = 0; p < s.n * oh * ow; ++p)
    for (int64_t o = 0; o < s.out_c; ++o) {
      const double r = c.residual ? half_bits_to_double(residual[static_cast<size_t>(p * ldy + o)]) : 0.0;
      double& v = ref[static_cast<size_t>(p * s.out_c + o)];
      v = reference_epilogue(v, r, c.epi);
    }
  return ref;
}

struct Variant {
  conv::Path path;
  conv::Tile tile;
  int split_k;
};

class ConvTest : public GpuTest, public ::testing::WithParamInterface<ConvCase> {};

TEST_P(ConvTest, MatchesCpuReferenceOnEveryPathAndTile) {
  const ConvCase& c = GetParam();
  const conv::ConvShape& s = c.s;
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  ASSERT_TRUE(conv::check_shape(s).ok()) << conv::check_shape(s).message();
  const int64_t ldx = s.c + c.ldx_pad, ldy = s.out_c + c.ldy_pad;
  const int64_t oh = conv::out_h(s), ow = conv::out_w(s), pixels = s.n * oh * ow;
  constexpr int64_t kGuard = 64;  // poisoned elements after y that must stay untouched

  // Inputs: x with NaN in the pixel padding; weights FP16 values held as FP32 (ONNX layout).
  std::vector<uint16_t> x = random_half(static_cast<size_t>(s.n * s.h * s.w * ldx), rng);
  for (int64_t p = 0; p < s.n * s.h * s.w; ++p)
    for (int64_t ch = s.c; ch < ldx; ++ch) x[static_cast<size_t>(p * ldx + ch)] = kNanHalf;
  const std::vector<uint16_t> w_bits = random_half(static_cast<size_t>(s.out_c * (s.c / s.groups) * s.kernel_h * s.kernel_w), rng);
  std::vector<float> w_onnx(w_bits.size());
  for (size_t i = 0; i < w_bits.size(); ++i) w_onnx[i] = half_to_float(w_bits[i]);
  const auto bias = random_float(static_cast<size_t>(s.out_c), rng);
  const auto residual = random_half(static_cast<size_t>(pixels * ldy), rng);
  std::string err;
  const auto ref = reference_conv(c, ldx, ldy, x, w_onnx, bias, residual, &err);
  ASSERT_FALSE(ref.empty()) << "CPU reference failed: " << err;

  std::vector<__half> packed(static_cast<size_t>(conv::packed_weight_count(s)));
  {
    const Status st = conv::pack_weights(s, w_onnx.data(), packed.data());
    ASSERT_TRUE(st.ok()) << st.message();
  }
  std::vector<uint16_t> packed_bits(packed.size());
  std::memcpy(packed_bits.data(), packed.data(), packed.size() * sizeof(uint16_t));

  DeviceBuffer<__half> dx(x.size()), dw(packed_bits.size()), dres(residual.size()), dy(static_cast<size_t>(pixels * ldy + kGuard));
  DeviceBuffer<float> dbias(bias.size());
  for (auto st : {dx.status(), dw.status(), dres.status(), dy.status(), dbias.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dw.upload(packed_bits), "upload weight"));
  ASSERT_TRUE(cuda_ok(dres.upload(residual), "upload residual"));
  ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));

  // y's elements in the reference's order, and the padding columns and guard that must stay poisoned.
  std::vector<size_t> inside, outside;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t j = 0; j < ldy; ++j) (j < s.out_c ? inside : outside).push_back(static_cast<size_t>(p * ldy + j));
  for (int64_t g = 0; g < kGuard; ++g) outside.push_back(static_cast<size_t>(pixels * ldy + g));

  conv::ConvArgs<__half> args;
  args.shape = s;
  args.x = dx.get();
  args.ldx = ldx;
  args.weight = dw.get();
  args.bias = c.bias ? dbias.get() : nullptr;
  args.residual = c.residual ? dres.get() : nullptr;
  args.y = dy.get();
  args.ldy = ldy;
  args.epilogue = c.epi;
  ASSERT_TRUE(conv::can_implement(args).ok()) << conv::can_implement(args).message();

  int sms = 0;
  ASSERT_TRUE(cuda_ok(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count"));
  const int64_t k_tiles32 = (conv::gemm_k(s) + 31) / 32;

  // Every path that accepts the shape (the general gather accepts all), each tile unsplit, K split
  // in 3 where there are k-tiles for it, and the automatic plan.
  std::vector<Variant> variants = {{conv::Path::kAuto, conv::Tile::kAuto, 0}};
  int paths_run = 0;
  for (conv::Path path : {conv::Path::kGemm, conv::Path::kImplicitVector, conv::Path::kImplicitGeneral}) {
    args.path = path;
    if (!conv::can_implement(args).ok()) continue;
    ++paths_run;
    for (conv::Tile tile : {conv::Tile::k128x128x32, conv::Tile::k128x64x64, conv::Tile::k64x64x64}) {
      variants.push_back({path, tile, 1});
      if (k_tiles32 >= 3) variants.push_back({path, tile, 3});
    }
    variants.push_back({path, conv::Tile::kAuto, 0});
  }
  EXPECT_GE(paths_run, 1);

  for (const Variant& v : variants) {
    args.path = v.path;
    args.tile = v.tile;
    args.split_k = v.split_k;
    const conv::ConvPlan plan = conv::plan(args, sms);
    SCOPED_TRACE(std::string("path ") + conv::path_name(plan.path) + ", tile " +
                 (plan.path == conv::Path::kGemm ? kernels::gemm::tile_name(plan.gemm_tile) : conv::tile_name(plan.tile)) +
                 ", split_k " + std::to_string(plan.split_k));
    if (v.path != conv::Path::kAuto) {
      EXPECT_EQ(plan.path, v.path);
    }
    const size_t ws_bytes = conv::workspace_bytes(args);
    DeviceBuffer<unsigned char> ws(ws_bytes);
    ASSERT_TRUE(cuda_ok(ws.status(), "cudaMalloc workspace"));
    if (ws_bytes) {
      ASSERT_TRUE(cuda_ok(cudaMemset(ws.get(), 0xFF, ws_bytes), "poison workspace"));
    }
    const Status init = conv::initialize_workspace(args, ws.get(), nullptr);
    ASSERT_TRUE(init.ok()) << init.message();
    const int repeats = plan.split_k > 1 ? 2 : 1;  // the split-K counters must come back to zero
    for (int r = 0; r < repeats; ++r) {
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
      const Status st = conv::run(args, ws.get(), nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "conv kernel"));
      std::vector<uint16_t> got;
      ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
      EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
      EXPECT_TRUE(untouched(got, outside));
    }
  }
}

// >= 20 shapes: the MobileNetV2 and ResNet-50 stems (3 channels, stride 2, asymmetric SAME
// padding, 7x7), odd channel counts (1, 3, 7, 33), stride 2 and mixed strides, dilation 2, groups 2
// and 4 (with Cout/groups not a multiple of 8), 5x5 and 7x7, batch 1 and 7, 1x1 (GEMM path, strided,
// grouped), long K (split), single-pixel outputs, oversized padding, padded pixel strides.
std::vector<ConvCase> shape_cases() {
  const std::vector<S> shapes = {
      {1, 224, 224, 3, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0, 0},   // MobileNetV2 stem (TF SAME)
      {1, 64, 64, 3, 64, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 0, 0},     // ResNet-50 stem, smaller image
      {7, 14, 14, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {1, 28, 28, 128, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 7, 7, 512, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},    // K = 4608
      {1, 17, 19, 7, 24, 3, 3, 1, 1, 1, 1, 1, 0, 2, 1, 1, 0, 0},
      {7, 9, 11, 33, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {1, 20, 20, 16, 32, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 0, 0},
      {1, 30, 30, 24, 48, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 0, 0},
      {3, 16, 16, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0},
      {1, 12, 12, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 0},
      {2, 10, 10, 12, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 0},    // Cin/g 3, Cout/g 5
      {1, 23, 23, 8, 16, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 1, 0, 0},
      {7, 14, 14, 64, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0},    // 1x1: GEMM path
      {1, 28, 28, 64, 128, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, 0},   // 1x1 stride 2
      {1, 14, 14, 32, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0},    // grouped 1x1
      {1, 8, 8, 40, 80, 3, 3, 2, 1, 1, 2, 1, 2, 0, 2, 1, 0, 0},      // strides (2, 1), dilations (1, 2)
      {7, 5, 5, 8, 8, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0},        // one output pixel
      {1, 6, 6, 3, 5, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 1, 0, 0},        // padding wider than the kernel reach
      {1, 56, 56, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},    // ResNet-50 conv2
      {1, 13, 13, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {1, 31, 29, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},      // one input channel
      {2, 9, 9, 48, 72, 5, 5, 2, 2, 1, 1, 2, 1, 2, 1, 2, 0, 0},      // Cout/g 36
      {2, 10, 10, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8},    // padded pixel strides
      {1, 12, 12, 20, 36, 3, 3, 1, 1, 1, 1, 0, 1, 1, 0, 1, 3, 5},    // odd pixel strides
      {7, 16, 16, 64, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 16, 8},   // 1x1 GEMM with strides
      {1, 1, 64, 16, 16, 1, 9, 1, 1, 1, 1, 0, 4, 0, 4, 1, 0, 0},     // 1-D (1x9)
      {7, 28, 28, 33, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},     // Cout 7
  };
  const auto epilogues = all_epilogues();
  std::vector<ConvCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ConvCase c = make_case(shapes[i]);
    c.epi = epilogues[i % epilogues.size()];
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

// Every epilogue with bias and residual, both residual orders: on a grouped vector-path shape and
// on an odd-channel general-path shape.
std::vector<ConvCase> epilogue_cases() {
  std::vector<ConvCase> out;
  for (const S& base : {S{3, 12, 12, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0},
                        S{2, 11, 13, 7, 19, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1, 0, 0}}) {
    for (const auto& e : all_epilogues()) {
      for (bool after : {false, true}) {
        ConvCase c = make_case(base);
        c.epi = e;
        c.epi.residual_after_activation = after;
        c.residual = true;
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<ConvCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Epilogues, ConvTest, ::testing::ValuesIn(epilogue_cases()), param_name);

// The residual may be y itself (in-place add), on the implicit path and on the GEMM path.
TEST_F(GpuTest, ConvResidualInPlace) {
  for (const S& v : {S{2, 14, 14, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
                     S{2, 14, 14, 32, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0}}) {
    const uint64_t seed = fresh_seed();
    ConvCase c = make_case(v);
    c.residual = true;
    c.epi.activation = Activation::kRelu;
    SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c));
    std::mt19937_64 rng(seed);
    const conv::ConvShape& s = c.s;
    const int64_t pixels = s.n * conv::out_h(s) * conv::out_w(s);
    const auto x = random_half(static_cast<size_t>(s.n * s.h * s.w * s.c), rng);
    std::vector<float> w_onnx(static_cast<size_t>(s.out_c * s.c * s.kernel_h * s.kernel_w));
    {
      const auto bits = random_half(w_onnx.size(), rng);
      for (size_t i = 0; i < bits.size(); ++i) w_onnx[i] = half_to_float(bits[i]);
    }
    const auto bias = random_float(static_cast<size_t>(s.out_c), rng);
    const auto residual = random_half(static_cast<size_t>(pixels * s.out_c), rng);
    std::string err;
    const auto ref = reference_conv(c, s.c, s.out_c, x, w_onnx, bias, residual, &err);
    ASSERT_FALSE(ref.empty()) << err;
    std::vector<__half> packed(static_cast<size_t>(conv::packed_weight_count(s)));
    ASSERT_TRUE(conv::pack_weights(s, w_onnx.data(), packed.data()).ok());
    std::vector<uint16_t> packed_bits(packed.size());
    std::memcpy(packed_bits.data(), packed.data(), packed.size() * sizeof(uint16_t));
    DeviceBuffer<__half> dx(x.size()), dw(packed_bits.size()), dy(residual.size());
    DeviceBuffer<float> dbias(bias.size());
    ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
    ASSERT_TRUE(cuda_ok(dw.upload(packed_bits), "upload weight"));
    ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));
    ASSERT_TRUE(cuda_ok(dy.upload(residual), "upload residual into y"));
    conv::ConvArgs<__half> args;
    args.shape = s;
    args.x = dx.get();
    args.weight = dw.get();
    args.bias = dbias.get();
    args.y = dy.get();
    args.residual = dy.get();
    args.epilogue = c.epi;
    args.split_k = 1;  // no workspace
    const Status st = conv::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "conv kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
  }
}

// ---- host-side checks (run without a GPU) ----------------------------------------------------

conv::ConvShape small_shape() {
  conv::ConvShape s;
  s.n = 1;
  s.h = s.w = 8;
  s.c = 16;
  s.out_c = 8;
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  return s;
}

TEST(ConvWeights, PackedAsCoutKhKwCinWithAZeroTail) {
  conv::ConvShape s = small_shape();
  s.c = 6;
  s.out_c = 4;
  s.groups = 2;  // Cin/g = 3: K = 27, packed to 32
  s.kernel_h = 3;
  s.kernel_w = 3;
  ASSERT_EQ(conv::gemm_k(s), 27);
  ASSERT_EQ(conv::packed_k(s), 32);
  ASSERT_EQ(conv::packed_weight_count(s), 4 * 32);
  std::vector<float> w(static_cast<size_t>(4 * 3 * 3 * 3));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97) * 0.25f - 5.0f;  // exact in FP16
  std::vector<__half> packed(static_cast<size_t>(conv::packed_weight_count(s)), __float2half(99.0f));
  ASSERT_TRUE(conv::pack_weights(s, w.data(), packed.data()).ok());
  for (int o = 0; o < 4; ++o) {
    for (int ci = 0; ci < 3; ++ci)
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw)
          EXPECT_EQ(__half2float(packed[static_cast<size_t>(o * 32 + (kh * 3 + kw) * 3 + ci)]),
                    w[static_cast<size_t>(((o * 3 + ci) * 3 + kh) * 3 + kw)])
              << "o " << o << " ci " << ci << " kh " << kh << " kw " << kw;
    for (int k = 27; k < 32; ++k) EXPECT_EQ(__half2float(packed[static_cast<size_t>(o * 32 + k)]), 0.0f);
  }
  EXPECT_FALSE(conv::pack_weights(s, nullptr, packed.data()).ok());
}

TEST(ConvArguments, RejectsWhatTheKernelsCannotRun) {
  alignas(16) static __half buf[64];
  conv::ConvArgs<__half> ok;
  ok.shape = small_shape();
  ok.x = ok.weight = buf;
  ok.y = buf;
  EXPECT_TRUE(conv::can_implement(ok).ok()) << conv::can_implement(ok).message();
  auto bad = ok;
  bad.shape.groups = 3;  // divides neither 16 nor 8
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.shape.h = 1;
  bad.shape.pad_top = bad.shape.pad_bottom = 0;  // 1 < 3: no output row
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kShapeError);
  bad = ok;
  bad.shape.dilation_w = 0;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.shape.pad_left = -1;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.weight = nullptr;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.weight = buf + 1;  // 2-byte aligned only
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.ldx = 8;  // smaller than C
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.path = conv::Path::kGemm;  // 3x3
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.shape.c = 12;
  bad.shape.groups = 4;  // Cin/g = 3
  bad.shape.out_c = 8;
  bad.path = conv::Path::kImplicitVector;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad.path = conv::Path::kImplicitGeneral;
  EXPECT_TRUE(conv::can_implement(bad).ok());
  bad = ok;
  bad.shape.n = int64_t{1} << 40;  // N*OH*OW past 32 bits: refused, not overflowed
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.shape.kernel_w = 1 << 21;
  bad.shape.pad_left = bad.shape.pad_right = 1 << 20;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.shape.groups = 0;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(conv::plan(bad, 132).split_k, 1);  // a plan for a bad shape is harmless
  EXPECT_EQ(conv::workspace_bytes(bad, 132), 0u);
  bad = ok;
  bad.split_k = 65;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.epilogue.activation = Activation::kClip;
  bad.epilogue.clip_min = 1.0f;
  bad.epilogue.clip_max = 0.0f;
  EXPECT_EQ(conv::can_implement(bad).code(), StatusCode::kInvalidArgument);
}

// The oracle itself, checked without a GPU: the Conv reference (NCHW, ONNX weights, through the
// layout conversions above) against a direct NHWC loop over the packed weights (pack_weights'
// layout, the one the kernels read), so that the GPU cases compare against the right numbers.
TEST(ConvReference, AgreesWithADirectLoopOverThePackedWeights) {
  int checked = 0;
  for (ConvCase c : shape_cases()) {
    const conv::ConvShape& s = c.s;
    const int64_t oh = conv::out_h(s), ow = conv::out_w(s), cin_g = s.c / s.groups, cout_g = s.out_c / s.groups;
    if (s.n * oh * ow * s.out_c * conv::gemm_k(s) > 20'000'000) continue;  // keep the host test quick
    SCOPED_TRACE(case_name(c));
    c.residual = true;
    std::mt19937_64 rng(fresh_seed());
    const int64_t ldx = s.c + c.ldx_pad, ldy = s.out_c + c.ldy_pad, kp = conv::packed_k(s);
    const auto x = random_half(static_cast<size_t>(s.n * s.h * s.w * ldx), rng);
    std::vector<float> w(static_cast<size_t>(s.out_c * cin_g * s.kernel_h * s.kernel_w));
    for (auto& v : w) v = half_to_float(random_half(1, rng)[0]);
    const auto bias = random_float(static_cast<size_t>(s.out_c), rng);
    const auto residual = random_half(static_cast<size_t>(s.n * oh * ow * ldy), rng);
    std::string err;
    const auto ref = reference_conv(c, ldx, ldy, x, w, bias, residual, &err);
    ASSERT_FALSE(ref.empty()) << err;
    std::vector<__half> packed(static_cast<size_t>(conv::packed_weight_count(s)));
    ASSERT_TRUE(conv::pack_weights(s, w.data(), packed.data()).ok());
    double err2 = 0, ref2 = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo)
          for (int64_t o = 0; o < s.out_c; ++o) {
            const int64_t g = o / cout_g, p = (n * oh + y) * ow + xo;
            double acc = c.bias ? bias[static_cast<size_t>(o)] : 0.0;
            for (int kh = 0; kh < s.kernel_h; ++kh)
              for (int kw = 0; kw < s.kernel_w; ++kw) {
                const int64_t ih = y * s.stride_h - s.pad_top + kh * s.dilation_h;
                const int64_t iw = xo * s.stride_w - s.pad_left + kw * s.dilation_w;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                for (int64_t ci = 0; ci < cin_g; ++ci)
                  acc += half_bits_to_double(x[static_cast<size_t>(((n * s.h + ih) * s.w + iw) * ldx + g * cin_g + ci)]) *
                         static_cast<double>(__half2float(packed[static_cast<size_t>(o * kp + (kh * s.kernel_w + kw) * cin_g + ci)]));
              }
            const double want = reference_epilogue(acc, half_bits_to_double(residual[static_cast<size_t>(p * ldy + o)]), c.epi);
            const double got = ref[static_cast<size_t>(p * s.out_c + o)];
            err2 += (got - want) * (got - want);
            ref2 += want * want;
          }
    ASSERT_GT(ref2, 0.0);
    EXPECT_LE(std::sqrt(err2 / ref2), 1e-6);  // the reference rounds its sums to FP32 once
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

// The A gather's index arithmetic (kernels/conv/gather.cuh), replayed on the host exactly as the
// kernel's loader walks it (every block, thread, row and k-tile of each tile shape, with and
// without split K, the vector and the general walk), against a plain im2col: every element of
// every A tile must be the right input element, or zero in the padding and past K.
::testing::AssertionResult gather_matches_im2col(const conv::ConvShape& s, int64_t ldx, conv::Tile tile, int splits) {
  const conv::GatherGeometry g = conv::gather_geometry(s, ldx);
  const conv::TileShape ts = conv::tile_shape(tile);
  const int chunks = ts.bk / 8, row_step = ts.threads / chunks, rows = ts.bm * chunks / ts.threads;
  const int m = static_cast<int>(s.n * conv::out_h(s) * conv::out_w(s)), k = static_cast<int>(conv::gemm_k(s));
  const int cin_g = static_cast<int>(s.c / s.groups), ohw = g.ohw, ow = g.ow;
  const int k_tiles_all = (k + ts.bk - 1) / ts.bk, per_split = (k_tiles_all + splits - 1) / splits;
  const bool vector = cin_g % 8 == 0 && ldx % 8 == 0;
  // The im2col element (group, row, col) as an offset from x, or -1 for zero.
  auto expected = [&](int group, int row, int col) -> int64_t {
    if (row >= m || col >= k) return -1;
    const int tap = col / cin_g, ch = col % cin_g, kh = tap / s.kernel_w, kw = tap % s.kernel_w;
    const int img = row / ohw, oh = (row % ohw) / ow, owi = row % ow;
    const int64_t ih = int64_t{oh} * s.stride_h - s.pad_top + int64_t{kh} * s.dilation_h;
    const int64_t iw = int64_t{owi} * s.stride_w - s.pad_left + int64_t{kw} * s.dilation_w;
    if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) return -1;
    return ((img * s.h + ih) * s.w + iw) * ldx + int64_t{group} * cin_g + ch;
  };
  for (int group = 0; group < s.groups; ++group)
    for (int block_m = 0; block_m < m; block_m += ts.bm)
      for (int split = 0; split * per_split < k_tiles_all; ++split) {
        const int kt_begin = split * per_split, k_tiles = std::min(k_tiles_all, kt_begin + per_split) - kt_begin;
        for (int tid = 0; tid < ts.threads; ++tid) {
          const int ld_chunk = tid % chunks, ld_row = tid / chunks;
          std::vector<conv::RowCorner> corner(static_cast<size_t>(rows));
          for (int j = 0; j < rows; ++j) corner[j] = conv::row_corner(g, block_m + ld_row + j * row_step, m, group);
          conv::Tap tap = conv::tap_of(g, kt_begin * ts.bk + ld_chunk * 8);
          for (int i = 0; i < k_tiles; ++i) {
            const int col0 = (kt_begin + i) * ts.bk + ld_chunk * 8;
            for (int j = 0; j < rows; ++j) {
              const int row = block_m + ld_row + j * row_step;
              conv::Tap t = tap;
              for (int e = 0; e < 8; ++e) {
                // Vector walk: one predicate and offset for the chunk, elements consecutive.
                const conv::TapOffset o = conv::tap_offset(g, vector ? tap : t);
                const bool in = conv::inside(g, corner[j], o);
                const int64_t got = in ? int64_t{corner[j].off} + o.delta + (vector ? e : 0) : -1;
                const int64_t want = expected(group, row, col0 + e);
                if (got != want)
                  return ::testing::AssertionFailure()
                         << (vector ? "vector" : "general") << " walk, tile " << conv::tile_name(tile) << ", splits "
                         << splits << ": group " << group << " row " << row << " col " << col0 + e << ": offset "
                         << got << ", im2col " << want;
                conv::step_one(g, t);
              }
            }
            conv::advance(g, tap, ts.bk);
          }
        }
      }
  return ::testing::AssertionSuccess();
}

TEST(ConvGather, EveryATileElementIsTheIm2colElement) {
  for (const ConvCase& c : shape_cases()) {
    if (c.s.n * c.s.h * c.s.w * c.s.c > 200000) continue;  // the stems are covered by smaller copies below
    SCOPED_TRACE(case_name(c));
    for (conv::Tile tile : {conv::Tile::k128x128x32, conv::Tile::k128x64x64, conv::Tile::k64x64x64})
      for (int splits : {1, 3}) EXPECT_TRUE(gather_matches_im2col(c.s, c.s.c + c.ldx_pad, tile, splits));
  }
  for (const S& v : {S{2, 33, 31, 3, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0, 0},
                     S{1, 40, 36, 3, 64, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 0, 0},
                     S{1, 9, 9, 24, 16, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, 1, 0, 0},
                     S{2, 6, 7, 16, 16, 3, 3, 3, 2, 1, 1, 2, 0, 0, 2, 2, 0, 0}}) {
    const ConvCase c = make_case(v);
    SCOPED_TRACE(case_name(c));
    for (conv::Tile tile : {conv::Tile::k128x128x32, conv::Tile::k128x64x64, conv::Tile::k64x64x64})
      for (int splits : {1, 2}) EXPECT_TRUE(gather_matches_im2col(c.s, c.s.c + c.ldx_pad, tile, splits));
  }
}

TEST(ConvPlan, RoutesByShapeAndSplitsLongThinProblems) {
  alignas(16) static __half buf[64];
  conv::ConvArgs<__half> a;
  a.x = a.weight = buf;
  a.y = buf;
  // 1x1, stride 1, unpadded: the GEMM.
  a.shape = small_shape();
  a.shape.kernel_h = a.shape.kernel_w = 1;
  a.shape.pad_top = a.shape.pad_left = a.shape.pad_bottom = a.shape.pad_right = 0;
  EXPECT_EQ(conv::plan(a, 132).path, conv::Path::kGemm);
  a.shape.stride_h = a.shape.stride_w = 2;  // strided 1x1: implicit
  EXPECT_EQ(conv::plan(a, 132).path, conv::Path::kImplicitVector);
  a.x = buf + 4;  // 8-byte aligned pixels: no 16-byte gather
  EXPECT_EQ(conv::plan(a, 132).path, conv::Path::kImplicitGeneral);
  a.x = buf;
  // The 3-channel stem: general gather.
  a.shape = small_shape();
  a.shape.c = 3;
  EXPECT_EQ(conv::plan(a, 132).path, conv::Path::kImplicitGeneral);
  // ResNet-50 conv5 3x3 at batch 1 (M = 49, N = 512, K = 4608): 8 tiles of 64x64 on 132 SMs, K split.
  a.shape = small_shape();
  a.shape.h = a.shape.w = 7;
  a.shape.c = a.shape.out_c = 512;
  conv::ConvPlan pl = conv::plan(a, 132);
  EXPECT_EQ(pl.path, conv::Path::kImplicitVector);
  EXPECT_EQ(pl.tile, conv::Tile::k64x64x64);
  EXPECT_GT(pl.split_k, 1);
  EXPECT_GT(conv::workspace_bytes(a, 132), 0u);
  a.split_k = 1;
  EXPECT_EQ(conv::plan(a, 132).split_k, 1);
  EXPECT_EQ(conv::workspace_bytes(a, 132), 0u);
  // ResNet-50 conv2 3x3 at batch 32 (M = 100352, N = 64): many row tiles, the 128-row tile, no split.
  a.split_k = 0;
  a.shape.n = 32;
  a.shape.h = a.shape.w = 56;
  a.shape.c = a.shape.out_c = 64;
  pl = conv::plan(a, 132);
  EXPECT_EQ(pl.tile, conv::Tile::k128x64x64);
  EXPECT_EQ(pl.split_k, 1);
  // A pinned tile is kept.
  a.tile = conv::Tile::k128x128x32;
  EXPECT_EQ(conv::plan(a, 132).tile, conv::Tile::k128x128x32);
}

}  // namespace
}  // namespace quench::gpu_test
