// Host-side parts of the INT8 kernels, which run with or without a device: the launchers'
// argument checks, the epilogue constants make_epilogue derives, and the epilogue's element
// arithmetic (kernels/quant/int8_epilogue.cuh, compiled for the host here) against the CPU INT8
// reference op on a whole random GEMM, for every output type and activation, bit for bit (on the
// host the smooth activations call the same exp as the reference, so they too must be exact).
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/quant/int8_conv.cuh"
#include "kernels/quant/int8_convert.cuh"
#include "kernels/quant/int8_depthwise.cuh"
#include "kernels/quant/int8_epilogue.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/int8_test_util.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace int8 = kernels::int8;
namespace qgemm = kernels::int8::gemm;
namespace qconv = kernels::int8::conv;
namespace qdw = kernels::int8::depthwise;

alignas(16) int8_t g_bytes[4096];
alignas(16) int32_t g_table[4096];
alignas(16) float g_floats[1024];

int8::Epilogue host_epilogue(int64_t channels, int8::Output out = int8::Output::kInt8, float r_scale = 0) {
  std::vector<float> ws(static_cast<size_t>(channels), 0.01f);
  int8::EpilogueSpec spec;
  spec.x_scale = 0.02f;
  spec.y_scale = out == int8::Output::kInt8 ? 0.1f : 0.0f;
  spec.r_scale = r_scale;
  spec.output = out;
  int8::Epilogue e;
  std::vector<int32_t> table(int8::table_words(channels));
  EXPECT_TRUE(int8::make_epilogue(spec, channels, ws.data(), nullptr, &e, table.data()).ok());
  return e;
}

TEST(Int8Arguments, GemmRejectsWhatTheKernelCannotRun) {
  qgemm::GemmArgs<int8_t> ok;
  ok.m = 4;
  ok.n = 8;
  ok.k = 16;
  ok.x = g_bytes;
  ok.w = g_bytes;
  ok.y = g_bytes;
  ok.channel_table = g_table;
  ok.epilogue = host_epilogue(8);
  EXPECT_TRUE(qgemm::can_implement(ok).ok()) << qgemm::can_implement(ok).message();

  auto bad = ok;
  bad.k = 12;  // ldx = k, not a multiple of 16
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kUnsupported);
  bad.ldx = 16;  // padded rows: accepted
  EXPECT_TRUE(qgemm::can_implement(bad).ok()) << qgemm::can_implement(bad).message();
  bad = ok;
  bad.k = quant::kMaxReduction + 1;
  bad.ldx = (bad.k + 15) / 16 * 16;
  const Status too_long = qgemm::can_implement(bad);
  EXPECT_EQ(too_long.code(), StatusCode::kUnsupported);
  EXPECT_NE(too_long.message().find("overflow"), std::string::npos) << too_long.message();
  bad = ok;
  bad.x = g_bytes + 1;
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.w = nullptr;
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.channel_table = g_table + 1;  // not 16-byte aligned
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.epilogue = host_epilogue(9);  // made for another channel count
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.epilogue = int8::Epilogue{};  // not made at all
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.residual = g_bytes;  // an INT8 residual without r_scale in the spec
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad.epilogue = host_epilogue(8, int8::Output::kInt8, 0.05f);
  EXPECT_TRUE(qgemm::can_implement(bad).ok()) << qgemm::can_implement(bad).message();
  bad = ok;
  bad.split_k = 65;
  EXPECT_EQ(qgemm::can_implement(bad).code(), StatusCode::kInvalidArgument);

  // The epilogue's output type must be the buffer's.
  qgemm::GemmArgs<__half> f;
  f.m = 4;
  f.n = 8;
  f.k = 16;
  f.x = g_bytes;
  f.w = g_bytes;
  f.y = reinterpret_cast<__half*>(g_floats);
  f.channel_table = g_table;
  f.epilogue = host_epilogue(8);
  EXPECT_EQ(qgemm::can_implement(f).code(), StatusCode::kInvalidArgument);
  f.epilogue = host_epilogue(8, int8::Output::kFloat32);
  EXPECT_EQ(qgemm::can_implement(f).code(), StatusCode::kInvalidArgument);
  f.epilogue = host_epilogue(8, int8::Output::kFloat16);
  EXPECT_TRUE(qgemm::can_implement(f).ok()) << qgemm::can_implement(f).message();
}

TEST(Int8Arguments, PlansLikeTheFp16GemmAndSplitsLongThinProblems) {
  qgemm::GemmArgs<int8_t> a;
  a.m = a.n = a.k = 4096;
  EXPECT_EQ(qgemm::plan(a, 132).tile, qgemm::Tile::k128x128x128);
  EXPECT_EQ(qgemm::plan(a, 132).split_k, 1);
  EXPECT_EQ(qgemm::workspace_bytes(a, 132), 0u);
  a.m = 1;
  a.n = 1000;
  a.k = 2048;
  const qgemm::GemmPlan p = qgemm::plan(a, 132);
  EXPECT_EQ(p.tile, qgemm::Tile::k64x64x128);
  EXPECT_GT(p.split_k, 1);
  EXPECT_GT(qgemm::workspace_bytes(a, 132), 0u);
}

TEST(Int8Arguments, ConvDepthwiseAndConvertRejectWhatTheyCannotRun) {
  qconv::ConvArgs<int8_t> c;
  c.shape.n = 1;
  c.shape.h = c.shape.w = 8;
  c.shape.c = 3;
  c.shape.out_c = 8;
  c.shape.kernel_h = c.shape.kernel_w = 3;
  c.x = g_bytes;
  c.weight = g_bytes;
  c.y = g_bytes;
  c.channel_table = g_table;
  c.epilogue = host_epilogue(8);
  EXPECT_TRUE(qconv::can_implement(c).ok()) << qconv::can_implement(c).message();
  EXPECT_EQ(qconv::plan(c, 132).path, kernels::conv::Path::kImplicitGeneral);
  auto bad = c;
  bad.path = kernels::conv::Path::kImplicitVector;  // C = 3 is not a multiple of 16
  EXPECT_EQ(qconv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad.shape.c = 16;
  EXPECT_TRUE(qconv::can_implement(bad).ok()) << qconv::can_implement(bad).message();
  bad = c;
  bad.path = kernels::conv::Path::kGemm;  // 3x3
  EXPECT_EQ(qconv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = c;
  bad.shape.c = 20000;  // K = 9 * 20000 > kMaxReduction
  EXPECT_EQ(qconv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = c;
  bad.weight = g_bytes + 8;
  EXPECT_EQ(qconv::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = c;
  bad.shape.groups = 2;  // does not divide C = 3
  EXPECT_EQ(qconv::can_implement(bad).code(), StatusCode::kInvalidArgument);
  c.shape.c = 32;
  c.shape.kernel_h = c.shape.kernel_w = 1;
  EXPECT_EQ(qconv::plan(c, 132).path, kernels::conv::Path::kGemm);
  EXPECT_EQ(qconv::packed_k(c.shape), 32);
  c.shape.c = 3;
  c.shape.kernel_h = c.shape.kernel_w = 3;
  EXPECT_EQ(qconv::packed_k(c.shape), 32);  // 27 rounded up to 16

  qdw::DepthwiseArgs<int8_t> d;
  d.n = 1;
  d.h = d.w = 8;
  d.c = 24;
  d.x = g_bytes;
  d.weight = g_bytes;
  d.y = g_bytes;
  d.channel_table = g_table;
  d.epilogue = host_epilogue(24);
  EXPECT_TRUE(qdw::can_implement(d).ok()) << qdw::can_implement(d).message();
  EXPECT_EQ(qdw::vector_width(d), 8);
  d.c = 20;
  d.epilogue = host_epilogue(20);
  EXPECT_EQ(qdw::vector_width(d), 4);
  auto dbad = d;
  dbad.kernel = 7;
  EXPECT_EQ(qdw::can_implement(dbad).code(), StatusCode::kUnsupported);
  dbad = d;
  dbad.stride = 3;
  EXPECT_EQ(qdw::can_implement(dbad).code(), StatusCode::kUnsupported);
  dbad = d;
  dbad.h = 1;  // 1 + 0 padding < 3
  EXPECT_EQ(qdw::can_implement(dbad).code(), StatusCode::kShapeError);
  dbad = d;
  dbad.epilogue = host_epilogue(24);
  EXPECT_EQ(qdw::can_implement(dbad).code(), StatusCode::kInvalidArgument);

  int8::QuantizeArgs<float> q;
  q.count = 16;
  q.x = g_floats;
  q.y = g_bytes;
  q.scale = 0.5f;
  EXPECT_TRUE(int8::can_implement(q).ok());
  q.scale = 0;
  EXPECT_EQ(int8::can_implement(q).code(), StatusCode::kInvalidArgument);
  q.scale = std::numeric_limits<float>::infinity();
  EXPECT_EQ(int8::can_implement(q).code(), StatusCode::kInvalidArgument);
  int8::DequantizeArgs<__half> dq;
  dq.count = 0;
  dq.x = g_bytes;
  dq.y = reinterpret_cast<__half*>(g_floats);
  dq.scale = 1;
  EXPECT_EQ(int8::can_implement(dq).code(), StatusCode::kInvalidArgument);
}

TEST(Int8Epilogue, MakeEpilogueDerivesTheReferenceConstants) {
  std::mt19937_64 rng(7);
  const int64_t n = 13;
  const std::vector<float> ws = random_scales(n, rng, 1e-4f, 1.0f);
  const std::vector<int32_t> bias = random_int32(n, rng, -100000, 100000);
  int8::EpilogueSpec spec;
  spec.x_scale = 0.037f;
  spec.y_scale = 0.11f;
  spec.r_scale = 0.09f;
  spec.activation = EpilogueParams::relu6();
  int8::Epilogue e;
  std::vector<int32_t> table(int8::table_words(n), -1);
  ASSERT_TRUE(int8::make_epilogue(spec, n, ws.data(), bias.data(), &e, table.data()).ok());
  EXPECT_TRUE(e.int_clamp);
  EXPECT_TRUE(e.int8_residual);
  EXPECT_EQ(e.channels, n);
  int32_t lo = 0, hi = 0;
  quant::clamp_bounds(0.0f, 6.0f, spec.y_scale, &lo, &hi);
  EXPECT_EQ(e.lo, lo);
  EXPECT_EQ(e.hi, hi);
  const int64_t st = int8::table_stride(n);
  EXPECT_EQ(st, 16);
  for (int64_t c = 0; c < n; ++c) {
    quant::Multiplier m, k;
    ASSERT_TRUE(quant::multiplier_from_real(quant::requant_real(spec.x_scale, ws[c], spec.y_scale), &m));
    ASSERT_TRUE(quant::multiplier_from_real(quant::residual_real(spec.r_scale, spec.x_scale, ws[c]), &k));
    const float d = quant::dequant_scale(spec.x_scale, ws[c]);
    int32_t d_bits = 0;
    std::memcpy(&d_bits, &d, 4);
    EXPECT_EQ(table[int8::kBias * st + c], bias[c]);
    EXPECT_EQ(table[int8::kRequantMult * st + c], m.mult);
    EXPECT_EQ(table[int8::kRequantShift * st + c], m.shift);
    EXPECT_EQ(table[int8::kResidualMult * st + c], k.mult);
    EXPECT_EQ(table[int8::kResidualShift * st + c], k.shift);
    EXPECT_EQ(table[int8::kDequant * st + c], d_bits);
  }
  for (int64_t c = n; c < st; ++c) EXPECT_EQ(table[int8::kBias * st + c], 0) << "padding must be zero";

  // Refusals, each naming what is wrong.
  auto refuses = [&](int8::EpilogueSpec s, const std::vector<float>& scales, StatusCode code) {
    int8::Epilogue out;
    const Status r = int8::make_epilogue(s, static_cast<int64_t>(scales.size()), scales.data(), nullptr, &out, table.data());
    EXPECT_EQ(r.code(), code) << r.message();
  };
  auto s = spec;
  s.x_scale = 0;
  refuses(s, ws, StatusCode::kInvalidArgument);
  s = spec;
  s.y_scale = std::numeric_limits<float>::quiet_NaN();
  refuses(s, ws, StatusCode::kInvalidArgument);
  s = spec;
  s.output = int8::Output::kFloat32;  // r_scale is for INT8 outputs only
  refuses(s, ws, StatusCode::kInvalidArgument);
  s = spec;
  s.activation.activation = Activation::kSigmoid;
  s.activation.residual_after_activation = true;  // an INT8 residual comes before the activation
  refuses(s, ws, StatusCode::kUnsupported);
  std::vector<float> bad_scales = ws;
  bad_scales[5] = -1;
  refuses(spec, bad_scales, StatusCode::kInvalidArgument);
  bad_scales[5] = std::numeric_limits<float>::infinity();
  refuses(spec, bad_scales, StatusCode::kInvalidArgument);
  s = spec;
  s.activation.activation = Activation::kClip;
  s.activation.clip_min = 1;
  s.activation.clip_max = 0;
  refuses(s, ws, StatusCode::kInvalidArgument);
}

// The kernels' element arithmetic, applied on the host to exact dot products, against the CPU
// INT8 reference op on the same GEMM: every output type, every activation, with and without a
// residual and bias, both residual orders for float outputs.
TEST(Int8Epilogue, ElementArithmeticMatchesTheCpuReferenceBitForBit) {
  std::mt19937_64 rng(12345);
  const int64_t m = 37, n = 29, k = 150;
  for (Output out : {Output::kInt8, Output::kFloat32, Output::kFloat16}) {
    for (const auto& act : int8_activations()) {
      for (int variant = 0; variant < 3; ++variant) {
        const bool residual = variant > 0, after = variant == 2;
        if (after && out == Output::kInt8) continue;
        SCOPED_TRACE(int8_case_label(out, act, true, residual) + (after ? "_after" : ""));
        const auto x = random_int8(static_cast<size_t>(m * k), rng);
        const auto w = random_int8(static_cast<size_t>(n * k), rng, -127, 127);
        const LayerScales sc = layer_scales(n, k, rng);
        const auto bias = random_int32(static_cast<size_t>(n), rng, -sc.bias_range, sc.bias_range);
        const auto res8 = random_int8(static_cast<size_t>(m * n), rng);
        std::vector<float> resf = random_float(static_cast<size_t>(m * n), rng, -3.0f, 3.0f);
        if (out == Output::kFloat16)
          for (float& r : resf) r = half_to_float(float_to_half(r));  // an FP16 residual, widened
        int8::EpilogueSpec spec;
        spec.x_scale = sc.x_scale;
        spec.y_scale = out == Output::kInt8 ? sc.y_scale : 0.0f;
        spec.r_scale = out == Output::kInt8 && residual ? sc.r_scale : 0.0f;
        spec.output = out;
        spec.activation = act;
        spec.activation.residual_after_activation = after;

        ops::Attributes attrs = quant_attrs(spec, residual);
        attrs.set("transB", attr_int(1));
        std::vector<RefInput> in(residual ? 5 : 4);
        in[0].value = Tensor::from_values(DType::kI8, {m, k}, x);
        in[1].value = Tensor::from_values(DType::kI8, {n, k}, w);
        in[2].value = Tensor::from_values(DType::kF32, {n}, sc.w_scale);
        in[3].value = Tensor::from_values(DType::kI32, {n}, bias);
        if (residual)
          in[4].value = out == Output::kInt8 ? Tensor::from_values(DType::kI8, {m, n}, res8)
                                             : Tensor::from_values(DType::kF32, {m, n}, resf);
        auto ref = run_reference("Int8Gemm", attrs, in, 1, 1, "quench");
        ASSERT_TRUE(ref.ok()) << ref.status().message();

        int8::Epilogue e;
        std::vector<int32_t> table(int8::table_words(n));
        ASSERT_TRUE(int8::make_epilogue(spec, n, sc.w_scale.data(), bias.data(), &e, table.data()).ok());
        const int64_t st = int8::table_stride(n);
        size_t mismatches = 0, nonzero = 0;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            int32_t dot = 0;
            for (int64_t t = 0; t < k; ++t) dot += int32_t{x[i * k + t]} * int32_t{w[j * k + t]};
            int8::Channel ch;
            ch.bias = table[int8::kBias * st + j];
            ch.requant = {table[int8::kRequantMult * st + j], table[int8::kRequantShift * st + j]};
            ch.residual = {table[int8::kResidualMult * st + j], table[int8::kResidualShift * st + j]};
            std::memcpy(&ch.dequant, &table[int8::kDequant * st + j], 4);
            const size_t idx = static_cast<size_t>(i * n + j);
            bool same = false;
            if (out == Output::kInt8) {
              const int8_t got = e.int_clamp ? int8::element_int8_clamp(dot, ch, res8[idx], residual, e)
                                             : int8::element_int8_act(dot, ch, res8[idx], residual, e);
              const int8_t want = (*ref)[0].data_as<int8_t>()[idx];
              same = got == want;
              nonzero += want != 0;
            } else {
              const float got = int8::element_float(dot, ch, resf[idx], residual, e);
              const float want = (*ref)[0].data_as<float>()[idx];
              same = std::memcmp(&got, &want, 4) == 0;
              nonzero += want != 0;
            }
            if (!same && mismatches++ == 0) ADD_FAILURE() << "first mismatch at (" << i << ", " << j << ")";
          }
        }
        EXPECT_EQ(mismatches, 0u);
        EXPECT_GT(nonzero, static_cast<size_t>(m * n / 4)) << "too few non-zero outputs for the case to mean much";
      }
    }
  }
}

}  // namespace
}  // namespace quench::gpu_test
