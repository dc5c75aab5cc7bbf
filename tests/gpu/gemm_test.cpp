// The tensor-core GEMM (kernels/gemm) against a naive FP64 loop, on fresh random inputs, with
// poisoned outputs, for every compiled tile shape and every epilogue.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.cuh"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace gemm = kernels::gemm;

struct GemmCase {
  int64_t m = 0, n = 0, k = 0;
  int lda_pad = 0, ldc_pad = 0;  // extra elements per row of A / of C and the residual
  bool bias = true, residual = false;
  EpilogueParams epi;
};

GemmCase shape(int64_t m, int64_t n, int64_t k, int lda_pad = 0, int ldc_pad = 0) {
  GemmCase c;
  c.m = m;
  c.n = n;
  c.k = k;
  c.lda_pad = lda_pad;
  c.ldc_pad = ldc_pad;
  return c;
}

std::string case_name(const GemmCase& c) {
  std::ostringstream os;
  os << "m" << c.m << "_n" << c.n << "_k" << c.k;
  if (c.lda_pad) os << "_lda+" << c.lda_pad;
  if (c.ldc_pad) os << "_ldc+" << c.ldc_pad;
  os << "_" << epilogue_label(c.epi) << (c.bias ? "_bias" : "") << (c.residual ? "_res" : "");
  std::string s = os.str();
  for (char& ch : s)
    if (ch == '+') ch = 'p';
  return s;
}

// C = epilogue(A . B^T) in FP64 from the FP16 inputs; rows of `ld` elements.
std::vector<double> reference_gemm(const GemmCase& c, int64_t lda, int64_t ldc, const std::vector<uint16_t>& a,
                                   const std::vector<uint16_t>& b, const std::vector<float>& bias,
                                   const std::vector<uint16_t>& residual) {
  std::vector<double> ad(a.size()), bd(b.size());
  for (size_t i = 0; i < a.size(); ++i) ad[i] = half_bits_to_double(a[i]);
  for (size_t i = 0; i < b.size(); ++i) bd[i] = half_bits_to_double(b[i]);
  std::vector<double> out(static_cast<size_t>(c.m * c.n));
  parallel_for(static_cast<size_t>(c.m), [&](size_t i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double acc = 0;
      const double* ar = &ad[i * lda];
      const double* br = &bd[j * c.k];
      for (int64_t kk = 0; kk < c.k; ++kk) acc += ar[kk] * br[kk];
      if (c.bias) acc += bias[j];
      const double r = c.residual ? half_bits_to_double(residual[i * ldc + j]) : 0.0;
      out[i * c.n + j] = reference_epilogue(acc, r, c.epi);
    }
  });
  return out;
}

class GemmTest : public GpuTest, public ::testing::WithParamInterface<GemmCase> {};

TEST_P(GemmTest, MatchesFp64ReferenceOnEveryTile) {
  const GemmCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const int64_t lda = c.k + c.lda_pad, ldc = c.n + c.ldc_pad;
  constexpr int64_t kGuard = 64;  // poisoned elements after C that must stay untouched

  const auto a = random_half(static_cast<size_t>(c.m * lda), rng);
  const auto b = random_half(static_cast<size_t>(c.n * c.k), rng);
  const auto bias = random_float(static_cast<size_t>(c.n), rng);
  const auto residual = random_half(static_cast<size_t>(c.m * ldc), rng);
  const auto ref = reference_gemm(c, lda, ldc, a, b, bias, residual);

  DeviceBuffer<__half> da(a.size()), db(b.size()), dres(residual.size()), dc(static_cast<size_t>(c.m * ldc + kGuard));
  DeviceBuffer<float> dbias(bias.size());
  for (auto st : {da.status(), db.status(), dres.status(), dc.status(), dbias.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(da.upload(a), "upload A"));
  ASSERT_TRUE(cuda_ok(db.upload(b), "upload B"));
  ASSERT_TRUE(cuda_ok(dres.upload(residual), "upload residual"));
  ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));

  // Where C's elements are, and where the padding columns and the guard are.
  std::vector<size_t> inside, outside;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < ldc; ++j) (j < c.n ? inside : outside).push_back(static_cast<size_t>(i * ldc + j));
  for (int64_t g = 0; g < kGuard; ++g) outside.push_back(static_cast<size_t>(c.m * ldc + g));

  gemm::GemmArgs<__half> args;
  args.m = c.m;
  args.n = c.n;
  args.k = c.k;
  args.a = da.get();
  args.b = db.get();
  args.c = dc.get();
  args.lda = lda;
  args.ldc = ldc;
  args.bias = c.bias ? dbias.get() : nullptr;
  args.residual = c.residual ? dres.get() : nullptr;
  args.epilogue = c.epi;
  ASSERT_TRUE(gemm::can_implement(args).ok()) << gemm::can_implement(args).message();

  // Every tile shape, unsplit and with K split in 3 (where K has the k-tiles), and the automatic plan.
  struct Variant {
    gemm::Tile tile;
    int split_k;
  };
  std::vector<Variant> variants = {{gemm::Tile::kAuto, 0}};
  for (gemm::Tile tile : {gemm::Tile::k128x128x64, gemm::Tile::k128x64x64, gemm::Tile::k64x64x64}) {
    variants.push_back({tile, 1});
    if (c.k > 2 * 64) variants.push_back({tile, 3});
  }
  for (const Variant& v : variants) {
    args.tile = v.tile;
    args.split_k = v.split_k;
    int sms = 0;
    ASSERT_TRUE(cuda_ok(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count"));
    const gemm::GemmPlan plan = gemm::plan(args, sms);
    SCOPED_TRACE(std::string("tile ") + gemm::tile_name(plan.tile) + ", split_k " + std::to_string(plan.split_k));
    const size_t ws_bytes = gemm::workspace_bytes(args);
    DeviceBuffer<unsigned char> ws(ws_bytes);
    ASSERT_TRUE(cuda_ok(ws.status(), "cudaMalloc workspace"));
    if (ws_bytes) {
      ASSERT_TRUE(cuda_ok(cudaMemset(ws.get(), 0xFF, ws_bytes), "poison workspace"));
    }
    const Status init = gemm::initialize_workspace(args, ws.get(), nullptr);
    ASSERT_TRUE(init.ok()) << init.message();
    for (int repeat = 0; repeat < 3; ++repeat) {  // the split-K counters must come back to zero
      ASSERT_TRUE(cuda_ok(dc.poison(), "poison C"));
      const Status st = gemm::run(args, ws.get(), nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "gemm kernel"));
      std::vector<uint16_t> got;
      ASSERT_TRUE(cuda_ok(dc.download(got), "download C"));
      EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
      EXPECT_TRUE(untouched(got, outside));
    }
  }
}

// >= 20 shapes: M and N odd, tiny, and around and between the tile sizes; K from one 8-vector to
// 1288 (not a multiple of the 32-deep k-tile). The epilogue cycles through every activation.
std::vector<GemmCase> shape_cases() {
  struct S {
    int64_t m, n, k;
    int lda_pad, ldc_pad;
  };
  const std::vector<S> shapes = {
      {1, 16, 8, 0, 0},        {1, 1000, 1280, 0, 0},  {7, 24, 32, 0, 0},      {7, 1001, 144, 0, 0},
      {49, 96, 576, 0, 0},     {49, 1000, 1280, 0, 0}, {196, 24, 144, 0, 0},   {196, 96, 32, 0, 0},
      {196, 1000, 576, 0, 0},  {3136, 16, 32, 0, 0},   {3136, 24, 144, 0, 0},  {3136, 96, 8, 0, 0},
      {3136, 1000, 40, 0, 0},  {127, 129, 72, 0, 0},   {129, 127, 264, 0, 0},  {255, 257, 1280, 0, 0},
      {64, 64, 64, 0, 0},      {128, 128, 32, 0, 0},   {1000, 7, 576, 0, 0},   {3, 3, 16, 0, 0},
      {513, 17, 1288, 0, 0},   {1, 1, 8, 0, 0},        {7, 33, 24, 0, 0},      {777, 250, 352, 0, 0},
      {49, 96, 144, 8, 5},     {200, 40, 64, 16, 8},   {3136, 24, 96, 0, 0},   {96, 3136, 24, 0, 0},
  };
  const auto epilogues = all_epilogues();
  std::vector<GemmCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    GemmCase c = shape(shapes[i].m, shapes[i].n, shapes[i].k, shapes[i].lda_pad, shapes[i].ldc_pad);
    c.epi = epilogues[i % epilogues.size()];
    // A handful of outputs through ReLU or Clip can all be zero, and an all-zero reference proves
    // nothing (the harness rejects it): tiny outputs keep the identity.
    if (c.m * c.n < 16) c.epi = EpilogueParams{};
    c.bias = i % 4 != 3;
    c.residual = i % 2 == 1;
    out.push_back(c);
  }
  return out;
}

// Every epilogue with bias and residual, both residual orders, on two shapes with ragged edges.
std::vector<GemmCase> epilogue_cases() {
  std::vector<GemmCase> out;
  for (const GemmCase& base : {shape(196, 96, 144), shape(7, 1001, 72)}) {
    for (const auto& e : all_epilogues()) {
      for (bool after : {false, true}) {
        GemmCase c = base;
        c.epi = e;
        c.epi.residual_after_activation = after;
        c.bias = true;
        c.residual = true;
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<GemmCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, GemmTest, ::testing::ValuesIn(shape_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Epilogues, GemmTest, ::testing::ValuesIn(epilogue_cases()), param_name);

// The residual may be C itself (in-place add): each element is read before it is written.
TEST_F(GpuTest, GemmResidualInPlace) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  GemmCase c = shape(300, 72, 96);
  c.residual = true;
  c.epi.activation = Activation::kRelu;
  const auto a = random_half(static_cast<size_t>(c.m * c.k), rng);
  const auto b = random_half(static_cast<size_t>(c.n * c.k), rng);
  const auto bias = random_float(static_cast<size_t>(c.n), rng);
  const auto residual = random_half(static_cast<size_t>(c.m * c.n), rng);
  const auto ref = reference_gemm(c, c.k, c.n, a, b, bias, residual);
  DeviceBuffer<__half> da(a.size()), db(b.size()), dc(residual.size());
  DeviceBuffer<float> dbias(bias.size());
  ASSERT_TRUE(cuda_ok(da.upload(a), "upload A"));
  ASSERT_TRUE(cuda_ok(db.upload(b), "upload B"));
  ASSERT_TRUE(cuda_ok(dbias.upload(bias), "upload bias"));
  for (gemm::Tile tile : {gemm::Tile::k128x128x64, gemm::Tile::k64x64x64}) {
    ASSERT_TRUE(cuda_ok(dc.upload(residual), "upload residual into C"));
    gemm::GemmArgs<__half> args;
    args.m = c.m;
    args.n = c.n;
    args.k = c.k;
    args.a = da.get();
    args.b = db.get();
    args.c = dc.get();
    args.bias = dbias.get();
    args.residual = dc.get();
    args.epilogue = c.epi;
    args.tile = tile;
    const Status st = gemm::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "gemm kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dc.download(got), "download C"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
  }
}

// can_implement is host logic (it looks at values and pointer alignment, never dereferences), so
// these run with or without a device.
TEST(GemmArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[64];
  gemm::GemmArgs<__half> ok;
  ok.m = 4;
  ok.n = 4;
  ok.k = 8;
  ok.a = buf;
  ok.b = buf;
  ok.c = buf;
  EXPECT_TRUE(gemm::can_implement(ok).ok());

  auto bad = ok;
  bad.k = 12;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.a = buf + 1;  // 2-byte aligned only
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.b = nullptr;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.m = 0;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.ldc = 3;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.epilogue.activation = Activation::kClip;
  bad.epilogue.clip_min = 1.0f;
  bad.epilogue.clip_max = 0.0f;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.lda = 12;
  EXPECT_EQ(gemm::can_implement(bad).code(), StatusCode::kUnsupported);
}

TEST(GemmArguments, PlansLargeTilesForLargeProblemsAndSplitsLongThinOnes) {
  gemm::GemmArgs<__half> a;
  a.m = a.n = a.k = 4096;
  EXPECT_EQ(gemm::plan(a, 132).tile, gemm::Tile::k128x128x64);
  EXPECT_EQ(gemm::plan(a, 132).split_k, 1);
  EXPECT_EQ(gemm::workspace_bytes(a, 132), 0u);
  a.m = 49;
  a.n = 512;
  a.k = 2048;
  const gemm::GemmPlan p = gemm::plan(a, 132);
  EXPECT_EQ(p.tile, gemm::Tile::k64x64x64);
  EXPECT_GT(p.split_k, 1);
  EXPECT_GT(gemm::workspace_bytes(a, 132), 0u);
  a.split_k = 1;
  EXPECT_EQ(gemm::plan(a, 132).split_k, 1);
  a.split_k = 1000;  // clamped to the number of k-tiles by plan(), rejected by can_implement()
  EXPECT_LE(gemm::plan(a, 132).split_k, 32);
  a.tile = gemm::Tile::k128x64x64;
  EXPECT_EQ(gemm::plan(a, 132).tile, gemm::Tile::k128x64x64);
}

}  // namespace
}  // namespace quench::gpu_test
