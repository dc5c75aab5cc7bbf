// The INT8 implicit-GEMM NHWC convolution (kernels/quant/int8_conv) against the CPU INT8 reference
// op quench.Int8Conv (ops/quant_conv.cpp, NCHW), bit for bit, on fresh random operands, through
// every path that can run each shape (GEMM for 1x1, 16-byte vector gather, byte gather), every
// tile, with and without split K, for INT8 / FP32 / FP16 outputs and every activation; outputs
// poisoned twice and checked fully written, pixel-stride padding untouched.
#include <cuda_fp16.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/quant/int8_conv.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/int8_test_util.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace int8 = kernels::int8;
namespace qconv = kernels::int8::conv;
using kernels::conv::ConvShape;
using kernels::conv::Path;

struct Int8ConvCase {
  ConvShape s;
  int ldx_pad = 0, ldy_pad = 0;  // extra elements per input / output pixel
  Output out = Output::kInt8;
  EpilogueParams act;
  bool bias = true, residual = false;
};

// n, h, w, c, out_c, kh, kw, stride h/w, dilation h/w, pads top/left/bottom/right, groups, pads of ldx/ldy.
struct S {
  int64_t n, h, w, c, out_c;
  int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, ldx_pad, ldy_pad;
};

Int8ConvCase make_case(const S& v) {
  Int8ConvCase c;
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

std::string case_name(const Int8ConvCase& c) {
  const ConvShape& s = c.s;
  std::ostringstream os;
  os << "n" << s.n << "_" << s.h << "x" << s.w << "x" << s.c << "_to" << s.out_c << "_k" << s.kernel_h << "x"
     << s.kernel_w << "_s" << s.stride_h << s.stride_w << "_d" << s.dilation_h << s.dilation_w << "_p" << s.pad_top
     << s.pad_left << s.pad_bottom << s.pad_right << "_g" << s.groups;
  if (c.ldx_pad) os << "_ldxp" << c.ldx_pad;
  if (c.ldy_pad) os << "_ldyp" << c.ldy_pad;
  os << "_" << int8_case_label(c.out, c.act, c.bias, c.residual);
  return os.str();
}

class Int8ConvTest : public GpuTest, public ::testing::WithParamInterface<Int8ConvCase> {};

TEST_P(Int8ConvTest, BitExactAgainstCpuInt8ReferenceOnEveryPathAndTile) {
  const Int8ConvCase& c = GetParam();
  const ConvShape& s = c.s;
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  ASSERT_TRUE(kernels::conv::check_shape(s).ok()) << kernels::conv::check_shape(s).message();
  const int64_t ldx = s.c + c.ldx_pad, ldy = s.out_c + c.ldy_pad, cin_g = s.c / s.groups;
  const int64_t oh = kernels::conv::out_h(s), ow = kernels::conv::out_w(s), pixels = s.n * oh * ow;
  const int64_t k = kernels::conv::gemm_k(s);
  const bool int8_out = c.out == Output::kInt8;
  const size_t eb = output_bytes(c.out);
  constexpr int64_t kGuard = 64;

  // Inputs (the channels past C of each pixel hold random bytes the kernel must never use).
  const std::vector<int8_t> x = random_int8(static_cast<size_t>(s.n * s.h * s.w * ldx), rng);
  const std::vector<int8_t> w = random_int8(static_cast<size_t>(s.out_c * cin_g * s.kernel_h * s.kernel_w), rng, -127, 127);
  const LayerScales sc = layer_scales(s.out_c, k, rng);
  const std::vector<int32_t> bias = random_int32(static_cast<size_t>(s.out_c), rng, -sc.bias_range, sc.bias_range);
  const std::vector<int8_t> res8 = random_int8(static_cast<size_t>(pixels * ldy), rng);
  const std::vector<uint16_t> res16 = random_half(static_cast<size_t>(pixels * ldy), rng, -3.0f, 3.0f);

  int8::EpilogueSpec spec;
  spec.x_scale = sc.x_scale;
  spec.y_scale = int8_out ? sc.y_scale : 0.0f;
  spec.r_scale = int8_out && c.residual ? sc.r_scale : 0.0f;
  spec.output = c.out;
  spec.activation = c.act;

  // The reference: Int8Conv on NCHW. x and the residual are transposed from NHWC here; the
  // output's element (p, o) of the kernel is the reference's (n, o, oh, ow).
  std::vector<int8_t> x_nchw(static_cast<size_t>(s.n * s.c * s.h * s.w));
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t yy = 0; yy < s.h; ++yy)
      for (int64_t xx = 0; xx < s.w; ++xx)
        for (int64_t ch = 0; ch < s.c; ++ch)
          x_nchw[static_cast<size_t>(((b * s.c + ch) * s.h + yy) * s.w + xx)] =
              x[static_cast<size_t>(((b * s.h + yy) * s.w + xx) * ldx + ch)];
  std::vector<size_t> order(static_cast<size_t>(pixels * s.out_c));  // kernel element -> reference index
  std::vector<int8_t> res8_nchw(order.size());
  std::vector<float> res_float_nchw(order.size()), res_float(order.size());
  for (int64_t p = 0; p < pixels; ++p) {
    const int64_t b = p / (oh * ow), yy = (p / ow) % oh, xx = p % ow;
    for (int64_t o = 0; o < s.out_c; ++o) {
      const size_t r = static_cast<size_t>(((b * s.out_c + o) * oh + yy) * ow + xx), e = static_cast<size_t>(p * s.out_c + o);
      const size_t src = static_cast<size_t>(p * ldy + o);
      order[e] = r;
      res8_nchw[r] = res8[src];
      res_float[e] = half_to_float(res16[src]);
      res_float_nchw[r] = res_float[e];
    }
  }
  ops::Attributes attrs = quant_attrs(spec, c.residual);
  attrs.set("kernel_shape", attr_ints({s.kernel_h, s.kernel_w}));
  attrs.set("strides", attr_ints({s.stride_h, s.stride_w}));
  attrs.set("dilations", attr_ints({s.dilation_h, s.dilation_w}));
  attrs.set("pads", attr_ints({s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}));
  attrs.set("group", attr_int(s.groups));
  std::vector<RefInput> in(c.residual ? 5 : (c.bias ? 4 : 3));
  in[0].value = Tensor::from_values(DType::kI8, {s.n, s.c, s.h, s.w}, x_nchw);
  in[1].value = Tensor::from_values(DType::kI8, {s.out_c, cin_g, s.kernel_h, s.kernel_w}, w);
  in[1].constant = true;
  in[2].value = Tensor::from_values(DType::kF32, {s.out_c}, sc.w_scale);
  in[2].constant = true;
  if (c.bias) {
    in[3].value = Tensor::from_values(DType::kI32, {s.out_c}, bias);
    in[3].constant = true;
  }
  if (c.residual)
    in[4].value = int8_out ? Tensor::from_values(DType::kI8, {s.n, s.out_c, oh, ow}, res8_nchw)
                           : Tensor::from_values(DType::kF32, {s.n, s.out_c, oh, ow}, res_float_nchw);
  auto ref = run_reference("Int8Conv", attrs, in, 1, 1, "quench");
  ASSERT_TRUE(ref.ok()) << "CPU reference failed: " << ref.status().message();
  ASSERT_EQ((*ref)[0].shape(), (Shape{s.n, s.out_c, oh, ow})) << "the reference's output shape differs from the kernel's";
  const std::vector<uint8_t> want = expected_bytes((*ref)[0], c.out, order);
  const std::vector<float> tol_residual = c.residual && !int8_out ? res_float : std::vector<float>{};

  std::vector<int8_t> packed(static_cast<size_t>(qconv::packed_weight_count(s)));
  {
    const Status st = qconv::pack_weights(s, w.data(), packed.data());
    ASSERT_TRUE(st.ok()) << st.message();
  }
  DeviceEpilogue de;
  ASSERT_TRUE(make_device_epilogue(spec, s.out_c, sc.w_scale, c.bias ? &bias : nullptr, &de));
  DeviceBuffer<int8_t> dx(x.size()), dw(packed.size());
  DeviceBuffer<uint8_t> dres(static_cast<size_t>(pixels * ldy) * eb), dy(static_cast<size_t>(pixels * ldy + kGuard) * eb);
  for (auto st : {dx.status(), dw.status(), dres.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dw.upload(packed), "upload weight"));
  {
    std::vector<uint8_t> raw(dres.size());
    if (c.out == Output::kInt8) std::memcpy(raw.data(), res8.data(), raw.size());
    if (c.out == Output::kFloat16) std::memcpy(raw.data(), res16.data(), raw.size());
    ASSERT_TRUE(cuda_ok(dres.upload(raw), "upload residual"));
  }
  std::vector<size_t> inside, outside;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t j = 0; j < ldy; ++j) (j < s.out_c ? inside : outside).push_back(static_cast<size_t>(p * ldy + j));
  for (int64_t g = 0; g < kGuard; ++g) outside.push_back(static_cast<size_t>(pixels * ldy + g));

  int sms = 0;
  ASSERT_TRUE(cuda_ok(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count"));
  with_kernel_output(c.out, [&](auto tag) {
    using Out = decltype(tag);
    qconv::ConvArgs<Out> args;
    args.shape = s;
    args.x = dx.get();
    args.ldx = ldx;
    args.weight = dw.get();
    args.residual = c.residual ? reinterpret_cast<const Out*>(dres.get()) : nullptr;
    args.y = reinterpret_cast<Out*>(dy.get());
    args.ldy = ldy;
    args.channel_table = de.table.get();
    args.epilogue = de.epi;
    ASSERT_TRUE(qconv::can_implement(args).ok()) << qconv::can_implement(args).message();

    struct Variant {
      Path path;
      qconv::Tile tile;
      int split_k;
    };
    std::vector<Variant> variants = {{Path::kAuto, qconv::Tile::kAuto, 0}};
    int paths_run = 0;
    for (Path path : {Path::kGemm, Path::kImplicitVector, Path::kImplicitGeneral}) {
      args.path = path;
      if (!qconv::can_implement(args).ok()) continue;
      ++paths_run;
      for (qconv::Tile tile : {qconv::Tile::k128x128x64, qconv::Tile::k128x64x128, qconv::Tile::k64x64x128}) {
        variants.push_back({path, tile, 1});
        if (k > 3 * 128) variants.push_back({path, tile, 3});
      }
    }
    EXPECT_GE(paths_run, 1);
    for (const Variant& v : variants) {
      args.path = v.path;
      args.tile = v.tile;
      args.split_k = v.split_k;
      const qconv::ConvPlan plan = qconv::plan(args, sms);
      SCOPED_TRACE(std::string("path ") + kernels::conv::path_name(plan.path) + ", tile " +
                   (plan.path == Path::kGemm ? int8::gemm::tile_name(plan.gemm_tile) : qconv::tile_name(plan.tile)) +
                   ", split_k " + std::to_string(plan.split_k));
      if (v.path != Path::kAuto) {
        EXPECT_EQ(plan.path, v.path);
      }
      const size_t ws_bytes = qconv::workspace_bytes(args);
      DeviceBuffer<unsigned char> ws(ws_bytes);
      ASSERT_TRUE(cuda_ok(ws.status(), "cudaMalloc workspace"));
      if (ws_bytes) {
        ASSERT_TRUE(cuda_ok(cudaMemset(ws.get(), 0xFF, ws_bytes), "poison workspace"));
      }
      const Status init = qconv::initialize_workspace(args, ws.get(), nullptr);
      ASSERT_TRUE(init.ok()) << init.message();
      for (int poison : kInt8Poisons) {
        ASSERT_TRUE(cuda_ok(cudaMemset(dy.get(), poison, dy.bytes()), "poison y"));
        const Status st = qconv::run(args, ws.get(), nullptr);
        ASSERT_TRUE(st.ok()) << st.message();
        ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "int8 conv kernel"));
        std::vector<uint8_t> got;
        ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
        EXPECT_TRUE(outputs_match(got, inside, want, c.out, exact_activation(c.act.activation), tol_residual));
        EXPECT_TRUE(poison_kept(got, outside, c.out, poison));
      }
    }
  });
}

// >= 20 shapes: the 3-channel stems (stride 2, asymmetric SAME padding, 7x7), odd channel counts,
// Cin_g multiples of 16 (vector gather) and not, stride 2 and mixed strides, dilation, groups
// (Cout_g not a multiple of 8), 5x5 and 7x7, batch 1 and 7, 1x1 (GEMM path, strided, grouped),
// long K (split), one-pixel outputs, padding wider than the kernel reach, padded pixel strides.
std::vector<Int8ConvCase> shape_cases() {
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
      {3, 16, 16, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0},    // Cin_g 16: vector path, grouped
      {1, 12, 12, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 0},
      {2, 10, 10, 12, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 0},    // Cin/g 3, Cout/g 5
      {1, 23, 23, 16, 16, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 1, 0, 0},
      {7, 14, 14, 64, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0},    // 1x1: GEMM path
      {1, 28, 28, 64, 128, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, 0},   // 1x1 stride 2
      {1, 14, 14, 32, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0},    // grouped 1x1
      {1, 8, 8, 40, 80, 3, 3, 2, 1, 1, 2, 1, 2, 0, 2, 1, 0, 0},      // strides (2, 1), dilations (1, 2)
      {7, 5, 5, 16, 8, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0},       // one output pixel
      {1, 6, 6, 3, 5, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 1, 0, 0},        // padding wider than the kernel reach
      {1, 56, 56, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},    // ResNet-50 conv2
      {1, 13, 13, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {1, 31, 29, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},      // one input channel
      {2, 9, 9, 48, 72, 5, 5, 2, 2, 1, 1, 2, 1, 2, 1, 2, 0, 0},      // Cout/g 36
      {2, 10, 10, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 16, 8},   // padded pixel strides
      {1, 12, 12, 20, 36, 3, 3, 1, 1, 1, 1, 0, 1, 1, 0, 1, 3, 5},    // odd pixel strides
      {7, 16, 16, 64, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 16, 8},   // 1x1 GEMM with strides
      {1, 1, 64, 16, 16, 1, 9, 1, 1, 1, 1, 0, 4, 0, 4, 1, 0, 0},     // 1-D (1x9)
      {7, 28, 28, 33, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},     // Cout 7
      {1, 10, 10, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 0, 0},   // depthwise as a grouped conv
  };
  const auto acts = int8_activations();
  const Output outs[] = {Output::kInt8, Output::kInt8, Output::kFloat16, Output::kInt8, Output::kFloat16};
  std::vector<Int8ConvCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Int8ConvCase c = make_case(shapes[i]);
    c.out = outs[i % 5];
    c.act = acts[i % acts.size()];
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

// Every activation with bias and residual on each output type (both residual orders for floats),
// on a grouped vector-path shape and an odd-channel general-path shape.
std::vector<Int8ConvCase> epilogue_cases() {
  std::vector<Int8ConvCase> out;
  for (const S& base : {S{3, 12, 12, 64, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0},
                        S{2, 11, 13, 7, 19, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1, 0, 0}}) {
    for (Output o : {Output::kInt8, Output::kFloat16}) {
      for (const auto& a : int8_activations()) {
        for (bool after : {false, true}) {
          if (after && o == Output::kInt8) continue;
          Int8ConvCase c = make_case(base);
          c.out = o;
          c.act = a;
          c.act.residual_after_activation = after;
          c.residual = true;
          out.push_back(c);
        }
      }
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Int8ConvCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Int8Shapes, Int8ConvTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Int8Epilogues, Int8ConvTest, ::testing::ValuesIn(epilogue_cases()), param_name);

}  // namespace
}  // namespace quench::gpu_test
