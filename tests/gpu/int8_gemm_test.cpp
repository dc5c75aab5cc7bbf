// The INT8 tensor-core GEMM (kernels/quant/int8_gemm) against the CPU INT8 reference op
// quench.Int8Gemm (ops/quant_gemm.cpp), bit for bit, on fresh random operands, for every tile,
// with and without split K, for INT8 / FP32 / FP16 outputs and every activation; outputs poisoned
// (twice, with two patterns) before every run and checked fully written, padding untouched.
#include <cuda_fp16.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

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

struct Int8GemmCase {
  int64_t m = 0, n = 0, k = 0;
  int ldx_pad = 0, ldy_pad = 0;  // extra bytes per X row beyond packed_k(k) / elements per y row
  bool w_nk = true;               // W given as [N, K] (transB = 1) or [K, N]
  Output out = Output::kInt8;
  EpilogueParams act;
  bool bias = true, residual = false;
};

std::string case_name(const Int8GemmCase& c) {
  std::ostringstream os;
  os << "m" << c.m << "_n" << c.n << "_k" << c.k;
  if (c.ldx_pad) os << "_ldxp" << c.ldx_pad;
  if (c.ldy_pad) os << "_ldyp" << c.ldy_pad;
  os << (c.w_nk ? "_nk_" : "_kn_") << int8_case_label(c.out, c.act, c.bias, c.residual);
  return os.str();
}

// Output element bytes of the three types, handled together as raw bytes.
class Int8GemmTest : public GpuTest, public ::testing::WithParamInterface<Int8GemmCase> {};

TEST_P(Int8GemmTest, BitExactAgainstCpuInt8Reference) {
  const Int8GemmCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const int64_t kp = qgemm::packed_k(c.k), ldx = kp + c.ldx_pad, ldy = c.n + c.ldy_pad;
  const bool int8_out = c.out == Output::kInt8;
  const size_t eb = output_bytes(c.out);
  constexpr int64_t kGuard = 64;  // poisoned elements after y that must stay untouched

  // Operands. X's bytes past K are random too: they meet the packed weight's zeros.
  const std::vector<int8_t> x = random_int8(static_cast<size_t>(c.m * ldx), rng);
  const std::vector<int8_t> w = random_int8(static_cast<size_t>(c.n * c.k), rng, -127, 127);  // [n,k] or [k,n]
  const LayerScales sc = layer_scales(c.n, c.k, rng);
  const std::vector<int32_t> bias = random_int32(static_cast<size_t>(c.n), rng, -sc.bias_range, sc.bias_range);
  const std::vector<int8_t> res8 = random_int8(static_cast<size_t>(c.m * ldy), rng);
  const std::vector<uint16_t> res16 = random_half(static_cast<size_t>(c.m * ldy), rng, -3.0f, 3.0f);

  int8::EpilogueSpec spec;
  spec.x_scale = sc.x_scale;
  spec.y_scale = int8_out ? sc.y_scale : 0.0f;
  spec.r_scale = int8_out && c.residual ? sc.r_scale : 0.0f;
  spec.output = c.out;
  spec.activation = c.act;

  // The CPU reference: Int8Gemm on dense X [m, k], W as given, the residual as the output's dtype.
  std::vector<int8_t> x_dense(static_cast<size_t>(c.m * c.k));
  for (int64_t i = 0; i < c.m; ++i) std::memcpy(&x_dense[i * c.k], &x[i * ldx], static_cast<size_t>(c.k));
  std::vector<float> res_float(static_cast<size_t>(c.m * c.n));  // the residual the reference sees, [m, n]
  std::vector<int8_t> res8_dense(static_cast<size_t>(c.m * c.n));
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      const size_t s = static_cast<size_t>(i * ldy + j), d = static_cast<size_t>(i * c.n + j);
      res8_dense[d] = res8[s];
      res_float[d] = half_to_float(res16[s]);
    }
  ops::Attributes attrs = quant_attrs(spec, c.residual);
  if (c.w_nk) attrs.set("transB", attr_int(1));
  std::vector<RefInput> in(c.residual ? 5 : (c.bias ? 4 : 3));
  in[0].value = Tensor::from_values(DType::kI8, {c.m, c.k}, x_dense);
  in[1].value = Tensor::from_values(DType::kI8, c.w_nk ? Shape{c.n, c.k} : Shape{c.k, c.n}, w);
  in[1].constant = true;
  in[2].value = Tensor::from_values(DType::kF32, {c.n}, sc.w_scale);
  in[2].constant = true;
  if (c.bias) {
    in[3].value = Tensor::from_values(DType::kI32, {c.n}, bias);
    in[3].constant = true;
  }
  if (c.residual)
    in[4].value = int8_out ? Tensor::from_values(DType::kI8, {c.m, c.n}, res8_dense)
                           : Tensor::from_values(DType::kF32, {c.m, c.n}, res_float);
  auto ref = run_reference("Int8Gemm", attrs, in, 1, 1, "quench");
  ASSERT_TRUE(ref.ok()) << "CPU reference failed: " << ref.status().message();
  std::vector<size_t> dense_order(static_cast<size_t>(c.m * c.n));
  for (size_t i = 0; i < dense_order.size(); ++i) dense_order[i] = i;
  const std::vector<uint8_t> want = expected_bytes((*ref)[0], c.out, dense_order);
  const std::vector<float> tol_residual = c.residual && !int8_out ? res_float : std::vector<float>{};

  // Device operands.
  std::vector<int8_t> packed(static_cast<size_t>(c.n * kp));
  {
    const Status st = qgemm::pack_weights(c.n, c.k, w.data(), c.w_nk, packed.data());
    ASSERT_TRUE(st.ok()) << st.message();
  }
  DeviceEpilogue de;
  ASSERT_TRUE(make_device_epilogue(spec, c.n, sc.w_scale, c.bias ? &bias : nullptr, &de));
  DeviceBuffer<int8_t> dx(x.size()), dw(packed.size());
  DeviceBuffer<uint8_t> dres(static_cast<size_t>(c.m * ldy) * eb), dy(static_cast<size_t>(c.m * ldy + kGuard) * eb);
  for (auto st : {dx.status(), dw.status(), dres.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload X"));
  ASSERT_TRUE(cuda_ok(dw.upload(packed), "upload W"));
  {
    std::vector<uint8_t> raw(dres.size());
    if (c.out == Output::kInt8) std::memcpy(raw.data(), res8.data(), raw.size());
    if (c.out == Output::kFloat16) std::memcpy(raw.data(), res16.data(), raw.size());
    ASSERT_TRUE(cuda_ok(dres.upload(raw), "upload residual"));
  }
  std::vector<size_t> inside, outside;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < ldy; ++j) (j < c.n ? inside : outside).push_back(static_cast<size_t>(i * ldy + j));
  for (int64_t g = 0; g < kGuard; ++g) outside.push_back(static_cast<size_t>(c.m * ldy + g));

  int sms = 0;
  ASSERT_TRUE(cuda_ok(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count"));
  with_kernel_output(c.out, [&](auto tag) {
    using Out = decltype(tag);
    qgemm::GemmArgs<Out> args;
    args.m = c.m;
    args.n = c.n;
    args.k = c.k;
    args.x = dx.get();
    args.ldx = ldx;
    args.w = dw.get();
    args.y = reinterpret_cast<Out*>(dy.get());
    args.ldy = ldy;
    args.residual = c.residual ? reinterpret_cast<const Out*>(dres.get()) : nullptr;
    args.channel_table = de.table.get();
    args.epilogue = de.epi;
    ASSERT_TRUE(qgemm::can_implement(args).ok()) << qgemm::can_implement(args).message();
    struct Variant {
      qgemm::Tile tile;
      int split_k;
    };
    std::vector<Variant> variants = {{qgemm::Tile::kAuto, 0}};
    for (qgemm::Tile t : {qgemm::Tile::k128x128x128, qgemm::Tile::k128x64x128, qgemm::Tile::k64x64x128}) {
      variants.push_back({t, 1});
      if (kp > 2 * 128) variants.push_back({t, 3});
    }
    for (const Variant& v : variants) {
      args.tile = v.tile;
      args.split_k = v.split_k;
      const qgemm::GemmPlan plan = qgemm::plan(args, sms);
      SCOPED_TRACE(std::string("tile ") + qgemm::tile_name(plan.tile) + ", split_k " + std::to_string(plan.split_k));
      const size_t ws_bytes = qgemm::workspace_bytes(args);
      DeviceBuffer<unsigned char> ws(ws_bytes);
      ASSERT_TRUE(cuda_ok(ws.status(), "cudaMalloc workspace"));
      if (ws_bytes) {
        ASSERT_TRUE(cuda_ok(cudaMemset(ws.get(), 0xFF, ws_bytes), "poison workspace"));
      }
      const Status init = qgemm::initialize_workspace(args, ws.get(), nullptr);
      ASSERT_TRUE(init.ok()) << init.message();
      for (int poison : kInt8Poisons) {  // also: the split-K counters must come back to zero
        ASSERT_TRUE(cuda_ok(cudaMemset(dy.get(), poison, dy.bytes()), "poison y"));
        const Status st = qgemm::run(args, ws.get(), nullptr);
        ASSERT_TRUE(st.ok()) << st.message();
        ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "int8 gemm kernel"));
        std::vector<uint8_t> got;
        ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
        EXPECT_TRUE(outputs_match(got, inside, want, c.out, exact_activation(c.act.activation), tol_residual));
        EXPECT_TRUE(poison_kept(got, outside, c.out, poison));
      }
    }
  });
}

// >= 20 shapes: M from 1 to 3136, N odd / tiny / beyond a tile (1000, 257), K from 1 to 2304, not
// multiples of the 128-byte k-tile nor of 16 (X rows then padded); both W layouts; outputs and
// activations cycle, residual and bias alternate.
std::vector<Int8GemmCase> shape_cases() {
  struct S {
    int64_t m, n, k;
    int ldx_pad, ldy_pad;
  };
  const std::vector<S> shapes = {
      {1, 16, 16, 0, 0},      {1, 1000, 1280, 0, 0},  {7, 24, 32, 0, 0},     {7, 1001, 144, 0, 0},
      {49, 96, 576, 0, 0},    {49, 1000, 2048, 0, 0}, {196, 24, 144, 0, 0},  {196, 96, 40, 0, 0},
      {3136, 16, 32, 0, 0},   {3136, 24, 144, 0, 0},  {3136, 96, 1, 0, 0},   {127, 129, 72, 0, 0},
      {129, 127, 264, 0, 0},  {255, 257, 1280, 0, 0}, {64, 64, 128, 0, 0},   {128, 128, 27, 16, 0},
      {1000, 7, 576, 0, 3},   {3, 3, 17, 0, 0},       {513, 17, 1288, 0, 0}, {2, 5, 1, 0, 0},
      {7, 33, 24, 32, 5},     {777, 250, 352, 0, 0},  {200, 40, 2304, 0, 8}, {96, 3136, 24, 0, 0},
  };
  const auto acts = int8_activations();
  const Output outs[] = {Output::kInt8, Output::kInt8, Output::kFloat16, Output::kInt8, Output::kFloat16};
  std::vector<Int8GemmCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Int8GemmCase c;
    c.m = shapes[i].m;
    c.n = shapes[i].n;
    c.k = shapes[i].k;
    c.ldx_pad = shapes[i].ldx_pad;
    c.ldy_pad = shapes[i].ldy_pad;
    c.w_nk = i % 3 != 2;
    c.out = outs[i % 5];
    c.act = acts[i % acts.size()];
    // A handful of outputs through ReLU or Clip can all be zero, which proves nothing.
    if (c.m * c.n < 16) c.act = EpilogueParams{};
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

// Every activation with bias and residual on each output type, both residual orders for floats.
std::vector<Int8GemmCase> epilogue_cases() {
  std::vector<Int8GemmCase> out;
  for (Output o : {Output::kInt8, Output::kFloat16}) {
    for (const auto& a : int8_activations()) {
      for (bool after : {false, true}) {
        if (after && o == Output::kInt8) continue;  // an INT8 residual comes before the activation
        Int8GemmCase c;
        c.m = 150;
        c.n = 72;
        c.k = 200;
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

std::string param_name(const ::testing::TestParamInfo<Int8GemmCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Int8Shapes, Int8GemmTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Int8Epilogues, Int8GemmTest, ::testing::ValuesIn(epilogue_cases()), param_name);

// The residual may be y itself (in-place add): each element is read before it is written.
class Int8GpuTest : public GpuTest {};  // so that --gtest_filter='Int8*' selects it too

TEST_F(Int8GpuTest, GemmResidualInPlace) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t m = 300, n = 72, k = 96;
  const auto x = random_int8(static_cast<size_t>(m * k), rng);
  const auto w = random_int8(static_cast<size_t>(n * k), rng, -127, 127);
  const auto res = random_int8(static_cast<size_t>(m * n), rng);
  const LayerScales sc = layer_scales(n, k, rng);
  int8::EpilogueSpec spec;
  spec.x_scale = sc.x_scale;
  spec.y_scale = sc.y_scale;
  spec.r_scale = sc.r_scale;
  spec.activation.activation = Activation::kRelu;
  ops::Attributes attrs = quant_attrs(spec, true);
  attrs.set("transB", attr_int(1));
  std::vector<RefInput> in(5);
  in[0].value = Tensor::from_values(DType::kI8, {m, k}, x);
  in[1].value = Tensor::from_values(DType::kI8, {n, k}, w);
  in[2].value = Tensor::from_values(DType::kF32, {n}, sc.w_scale);
  in[4].value = Tensor::from_values(DType::kI8, {m, n}, res);
  auto ref = run_reference("Int8Gemm", attrs, in, 1, 1, "quench");
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  std::vector<size_t> order(static_cast<size_t>(m * n));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto want = expected_bytes((*ref)[0], Output::kInt8, order);

  std::vector<int8_t> packed(static_cast<size_t>(n * k));
  ASSERT_TRUE(qgemm::pack_weights(n, k, w.data(), true, packed.data()).ok());
  DeviceEpilogue de;
  ASSERT_TRUE(make_device_epilogue(spec, n, sc.w_scale, nullptr, &de));
  DeviceBuffer<int8_t> dx(x.size()), dw(packed.size()), dy(res.size());
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload X"));
  ASSERT_TRUE(cuda_ok(dw.upload(packed), "upload W"));
  for (qgemm::Tile tile : {qgemm::Tile::k128x128x128, qgemm::Tile::k64x64x128}) {
    ASSERT_TRUE(cuda_ok(dy.upload(res), "upload residual into y"));
    qgemm::GemmArgs<int8_t> args;
    args.m = m;
    args.n = n;
    args.k = k;
    args.x = dx.get();
    args.w = dw.get();
    args.y = dy.get();
    args.residual = dy.get();
    args.channel_table = de.table.get();
    args.epilogue = de.epi;
    args.tile = tile;
    const Status st = qgemm::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "int8 gemm kernel"));
    std::vector<int8_t> got8;
    ASSERT_TRUE(cuda_ok(dy.download(got8), "download y"));
    std::vector<uint8_t> got(got8.size());
    std::memcpy(got.data(), got8.data(), got.size());
    EXPECT_TRUE(outputs_match(got, order, want, Output::kInt8, true, {}));
  }
}

}  // namespace
}  // namespace quench::gpu_test
