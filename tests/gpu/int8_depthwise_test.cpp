// The INT8 NHWC depthwise convolution (kernels/quant/int8_depthwise) against the CPU INT8
// reference op quench.Int8Conv with group = C (ops/quant_conv.cpp, NCHW), bit for bit, on fresh
// random operands, for every channel vector width and strip width, INT8 / FP32 / FP16 outputs and
// every activation; outputs poisoned twice and checked fully written.
#include <cuda_fp16.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/quant/int8_depthwise.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/int8_test_util.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace int8 = kernels::int8;
namespace qdw = kernels::int8::depthwise;

struct Int8DwCase {
  int64_t n = 1, h = 1, w = 1, c = 1;
  int kernel = 3, stride = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
  Output out = Output::kInt8;
  EpilogueParams act;
  bool bias = true, residual = false;
};

std::string case_name(const Int8DwCase& c) {
  std::ostringstream os;
  os << "n" << c.n << "_h" << c.h << "_w" << c.w << "_c" << c.c << "_k" << c.kernel << "_s" << c.stride << "_p" << c.pt
     << c.pl << c.pb << c.pr << "_" << int8_case_label(c.out, c.act, c.bias, c.residual);
  return os.str();
}

class Int8DepthwiseTest : public GpuTest, public ::testing::WithParamInterface<Int8DwCase> {};

TEST_P(Int8DepthwiseTest, BitExactAgainstCpuInt8ReferenceForEveryWidth) {
  const Int8DwCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const int64_t oh = (c.h + c.pt + c.pb - c.kernel) / c.stride + 1, ow = (c.w + c.pl + c.pr - c.kernel) / c.stride + 1;
  const int64_t outs = c.n * oh * ow * c.c, taps = int64_t{c.kernel} * c.kernel;
  const bool int8_out = c.out == Output::kInt8;
  const size_t eb = output_bytes(c.out);
  constexpr int64_t kGuard = 64;

  const std::vector<int8_t> x = random_int8(static_cast<size_t>(c.n * c.h * c.w * c.c), rng);
  const std::vector<int8_t> w_onnx = random_int8(static_cast<size_t>(c.c * taps), rng, -127, 127);  // [C,1,k,k]
  const LayerScales sc = layer_scales(c.c, taps, rng);
  const std::vector<int32_t> bias = random_int32(static_cast<size_t>(c.c), rng, -sc.bias_range, sc.bias_range);
  const std::vector<int8_t> res8 = random_int8(static_cast<size_t>(outs), rng);
  const std::vector<uint16_t> res16 = random_half(static_cast<size_t>(outs), rng, -3.0f, 3.0f);

  int8::EpilogueSpec spec;
  spec.x_scale = sc.x_scale;
  spec.y_scale = int8_out ? sc.y_scale : 0.0f;
  spec.r_scale = int8_out && c.residual ? sc.r_scale : 0.0f;
  spec.output = c.out;
  spec.activation = c.act;

  // Reference (NCHW, group = C).
  std::vector<int8_t> x_nchw(x.size());
  for (int64_t b = 0; b < c.n; ++b)
    for (int64_t yy = 0; yy < c.h; ++yy)
      for (int64_t xx = 0; xx < c.w; ++xx)
        for (int64_t ch = 0; ch < c.c; ++ch)
          x_nchw[static_cast<size_t>(((b * c.c + ch) * c.h + yy) * c.w + xx)] = x[static_cast<size_t>(((b * c.h + yy) * c.w + xx) * c.c + ch)];
  std::vector<size_t> order(static_cast<size_t>(outs));
  std::vector<int8_t> res8_nchw(order.size());
  std::vector<float> res_float(order.size()), res_float_nchw(order.size());
  for (int64_t b = 0; b < c.n; ++b)
    for (int64_t yy = 0; yy < oh; ++yy)
      for (int64_t xx = 0; xx < ow; ++xx)
        for (int64_t ch = 0; ch < c.c; ++ch) {
          const size_t e = static_cast<size_t>(((b * oh + yy) * ow + xx) * c.c + ch);
          const size_t r = static_cast<size_t>(((b * c.c + ch) * oh + yy) * ow + xx);
          order[e] = r;
          res8_nchw[r] = res8[e];
          res_float[e] = half_to_float(res16[e]);
          res_float_nchw[r] = res_float[e];
        }
  ops::Attributes attrs = quant_attrs(spec, c.residual);
  attrs.set("kernel_shape", attr_ints({c.kernel, c.kernel}));
  attrs.set("strides", attr_ints({c.stride, c.stride}));
  attrs.set("pads", attr_ints({c.pt, c.pl, c.pb, c.pr}));
  attrs.set("group", attr_int(c.c));
  std::vector<RefInput> in(c.residual ? 5 : (c.bias ? 4 : 3));
  in[0].value = Tensor::from_values(DType::kI8, {c.n, c.c, c.h, c.w}, x_nchw);
  in[1].value = Tensor::from_values(DType::kI8, {c.c, 1, c.kernel, c.kernel}, w_onnx);
  in[1].constant = true;
  in[2].value = Tensor::from_values(DType::kF32, {c.c}, sc.w_scale);
  in[2].constant = true;
  if (c.bias) {
    in[3].value = Tensor::from_values(DType::kI32, {c.c}, bias);
    in[3].constant = true;
  }
  if (c.residual)
    in[4].value = int8_out ? Tensor::from_values(DType::kI8, {c.n, c.c, oh, ow}, res8_nchw)
                           : Tensor::from_values(DType::kF32, {c.n, c.c, oh, ow}, res_float_nchw);
  auto ref = run_reference("Int8Conv", attrs, in, 1, 1, "quench");
  ASSERT_TRUE(ref.ok()) << "CPU reference failed: " << ref.status().message();
  ASSERT_EQ((*ref)[0].shape(), (Shape{c.n, c.c, oh, ow}));
  const std::vector<uint8_t> want = expected_bytes((*ref)[0], c.out, order);
  const std::vector<float> tol_residual = c.residual && !int8_out ? res_float : std::vector<float>{};

  // The kernel's weight layout: [k, k, C].
  std::vector<int8_t> w_khwc(w_onnx.size());
  for (int64_t ch = 0; ch < c.c; ++ch)
    for (int64_t t = 0; t < taps; ++t) w_khwc[static_cast<size_t>(t * c.c + ch)] = w_onnx[static_cast<size_t>(ch * taps + t)];
  DeviceEpilogue de;
  ASSERT_TRUE(make_device_epilogue(spec, c.c, sc.w_scale, c.bias ? &bias : nullptr, &de));
  DeviceBuffer<int8_t> dx(x.size()), dw(w_khwc.size());
  DeviceBuffer<uint8_t> dres(static_cast<size_t>(outs) * eb), dy(static_cast<size_t>(outs + kGuard) * eb);
  for (auto st : {dx.status(), dw.status(), dres.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dw.upload(w_khwc), "upload weight"));
  {
    std::vector<uint8_t> raw(dres.size());
    if (c.out == Output::kInt8) std::memcpy(raw.data(), res8.data(), raw.size());
    if (c.out == Output::kFloat16) std::memcpy(raw.data(), res16.data(), raw.size());
    ASSERT_TRUE(cuda_ok(dres.upload(raw), "upload residual"));
  }
  std::vector<size_t> inside(static_cast<size_t>(outs)), guard;
  for (size_t i = 0; i < inside.size(); ++i) inside[i] = i;
  for (int64_t g = 0; g < kGuard; ++g) guard.push_back(static_cast<size_t>(outs + g));

  with_kernel_output(c.out, [&](auto tag) {
    using Out = decltype(tag);
    qdw::DepthwiseArgs<Out> args;
    args.n = c.n;
    args.h = c.h;
    args.w = c.w;
    args.c = c.c;
    args.kernel = c.kernel;
    args.stride = c.stride;
    args.pad_top = c.pt;
    args.pad_left = c.pl;
    args.pad_bottom = c.pb;
    args.pad_right = c.pr;
    args.x = dx.get();
    args.weight = dw.get();
    args.residual = c.residual ? reinterpret_cast<const Out*>(dres.get()) : nullptr;
    args.y = reinterpret_cast<Out*>(dy.get());
    args.channel_table = de.table.get();
    args.epilogue = de.epi;
    ASSERT_TRUE(qdw::can_implement(args).ok()) << qdw::can_implement(args).message();
    int widths_run = 0;
    for (int max_vector : {8, 4, 1}) {
      args.max_vector = max_vector;
      if (qdw::vector_width(args) != max_vector) continue;  // C does not allow this width
      ++widths_run;
      for (qdw::Strip strip : {qdw::Strip::kNarrow, qdw::Strip::kWide, qdw::Strip::kAuto}) {
        args.strip = strip;
        SCOPED_TRACE("vector " + std::to_string(max_vector) + ", strip " + std::to_string(static_cast<int>(strip)));
        for (int poison : kInt8Poisons) {
          ASSERT_TRUE(cuda_ok(cudaMemset(dy.get(), poison, dy.bytes()), "poison y"));
          const Status st = qdw::run(args, nullptr, nullptr);
          ASSERT_TRUE(st.ok()) << st.message();
          ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "int8 depthwise kernel"));
          std::vector<uint8_t> got;
          ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
          EXPECT_TRUE(outputs_match(got, inside, want, c.out, exact_activation(c.act.activation), tol_residual));
          EXPECT_TRUE(poison_kept(got, guard, c.out, poison));
        }
      }
    }
    // Every width C allows (the buffers are cudaMalloc'd, so aligned for all of them).
    EXPECT_EQ(widths_run, 1 + (c.c % 4 == 0 ? 1 : 0) + (c.c % 8 == 0 ? 1 : 0));
  });
}

// >= 20 shapes: MobileNetV2's depthwise layers (smaller images), odd channel counts (1, 17, 19, 33),
// C % 8 != 0 but % 4 == 0 (12, 20, 36), stride 2 with odd sizes, asymmetric padding (TF SAME),
// 5x5, batch 1 and 7, one-pixel outputs.
std::vector<Int8DwCase> shape_cases() {
  struct D {
    int64_t n, h, w, c;
    int k, s, pt, pl, pb, pr;
  };
  const std::vector<D> shapes = {
      {1, 28, 28, 32, 3, 1, 1, 1, 1, 1},  {1, 28, 28, 96, 3, 2, 1, 1, 1, 1},  {7, 14, 14, 144, 3, 1, 1, 1, 1, 1},
      {1, 14, 14, 144, 3, 2, 0, 0, 1, 1}, {1, 7, 7, 960, 3, 1, 1, 1, 1, 1},   {7, 15, 15, 17, 3, 1, 1, 1, 1, 1},
      {1, 13, 11, 19, 5, 2, 2, 1, 1, 2},  {1, 9, 9, 12, 3, 1, 1, 1, 1, 1},    {2, 10, 12, 20, 5, 1, 2, 2, 2, 2},
      {1, 7, 9, 40, 5, 2, 2, 2, 2, 2},    {3, 5, 5, 8, 5, 1, 0, 0, 0, 0},     {1, 1, 1, 33, 3, 1, 1, 1, 1, 1},
      {1, 6, 6, 36, 3, 2, 1, 1, 1, 1},    {7, 8, 8, 64, 3, 2, 0, 0, 1, 1},    {1, 17, 17, 1, 3, 1, 1, 1, 1, 1},
      {1, 12, 20, 24, 5, 1, 2, 2, 2, 2},  {2, 11, 11, 576, 3, 2, 1, 1, 1, 1}, {1, 19, 23, 48, 3, 1, 0, 1, 2, 1},
      {1, 4, 4, 160, 5, 1, 2, 2, 2, 2},   {7, 3, 3, 24, 3, 2, 1, 1, 1, 1},    {1, 30, 30, 16, 3, 1, 1, 1, 1, 1},
      {2, 14, 14, 384, 3, 1, 1, 1, 1, 1},
  };
  const auto acts = int8_activations();
  const Output outs[] = {Output::kInt8, Output::kInt8, Output::kFloat16, Output::kInt8, Output::kFloat16};
  std::vector<Int8DwCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const D& d = shapes[i];
    Int8DwCase c;
    c.n = d.n;
    c.h = d.h;
    c.w = d.w;
    c.c = d.c;
    c.kernel = d.k;
    c.stride = d.s;
    c.pt = d.pt;
    c.pl = d.pl;
    c.pb = d.pb;
    c.pr = d.pr;
    c.out = outs[i % 5];
    c.act = acts[i % acts.size()];
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

std::vector<Int8DwCase> epilogue_cases() {
  std::vector<Int8DwCase> out;
  for (Output o : {Output::kInt8, Output::kFloat16}) {
    for (const auto& a : int8_activations()) {
      for (bool after : {false, true}) {
        if (after && o == Output::kInt8) continue;
        Int8DwCase c;
        c.n = 2;
        c.h = 9;
        c.w = 13;
        c.c = 40;
        c.kernel = 3;
        c.stride = 2;
        c.pt = c.pl = c.pb = c.pr = 1;
        c.out = o;
        c.act = a;
        c.act.residual_after_activation = after;
        c.residual = true;
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Int8DwCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Int8Shapes, Int8DepthwiseTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Int8Epilogues, Int8DepthwiseTest, ::testing::ValuesIn(epilogue_cases()), param_name);

}  // namespace
}  // namespace quench::gpu_test
