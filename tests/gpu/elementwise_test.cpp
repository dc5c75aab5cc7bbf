// The elementwise kernels (kernels/elementwise) against quench's CPU reference (ops/: Add, Sub,
// Mul, Div, Max, Min, Pow with numpy broadcasting) followed by the FP64 activation, on fresh random
// FP16 inputs, with poisoned outputs, for every vector width the arguments allow.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/fast_divmod.cuh"
#include "kernels/elementwise/elementwise.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace ew = kernels::elementwise;

struct BinaryCase {
  ew::BinaryOp op = ew::BinaryOp::kAdd;
  Shape a, b;
  EpilogueParams act;
};

const char* onnx_name(ew::BinaryOp op) {
  switch (op) {
    case ew::BinaryOp::kAdd: return "Add";
    case ew::BinaryOp::kSub: return "Sub";
    case ew::BinaryOp::kMul: return "Mul";
    case ew::BinaryOp::kDiv: return "Div";
    case ew::BinaryOp::kMax: return "Max";
    case ew::BinaryOp::kMin: return "Min";
    case ew::BinaryOp::kPow: return "Pow";
  }
  return "?";
}

std::string shape_label(const Shape& s) {
  std::ostringstream os;
  os << "s";
  for (int64_t d : s) os << "_" << d;
  return os.str();
}

std::string case_name(const BinaryCase& c) {
  return std::string(ew::binary_op_name(c.op)) + "_a" + shape_label(c.a) + "_b" + shape_label(c.b) + "_" +
         epilogue_label(c.act);
}

ew::Dims dims_of(const Shape& s) {
  ew::Dims d;
  d.rank = static_cast<int>(s.size());
  for (size_t i = 0; i < s.size(); ++i) d.d[i] = s[i];
  return d;
}

// Operands for `op`: Pow gets a positive base (a negative one with a fractional exponent is NaN)
// and exponents in [-2, 2]; Div a divisor of magnitude >= 1/64 (random_half's default).
void make_operands(ew::BinaryOp op, size_t na, size_t nb, std::mt19937_64& rng, std::vector<uint16_t>& a,
                   std::vector<uint16_t>& b) {
  if (op == ew::BinaryOp::kPow) {
    a = random_half(na, rng, 0.25f, 2.0f);
    b = random_half(nb, rng, -2.0f, 2.0f);
  } else {
    a = random_half(na, rng);
    b = random_half(nb, rng);
  }
}

// An activation that maps every input of a tiny output to 0 leaves a reference of zeros, which
// proves nothing (and comparison_passes refuses it): outputs of fewer than this many elements get
// one that is never 0 on a non-zero input.
constexpr int64_t kTinyOutput = 64;

EpilogueParams never_zero(const EpilogueParams& e, int64_t count) {
  using kernels::Activation;
  const bool may_zero = e.activation == Activation::kRelu || e.activation == Activation::kHardSwish ||
                        (e.activation == Activation::kClip && e.clip_min <= 0 && e.clip_max >= 0);
  if (count >= kTinyOutput || !may_zero) return e;
  EpilogueParams leaky;
  leaky.activation = Activation::kLeakyRelu;
  leaky.alpha = 0.1f;
  return leaky;
}

// ops/ computes the op (FP64, rounded to FP32 for F32 tensors); the activation follows in FP64.
std::vector<double> reference_binary(const BinaryCase& c, const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  auto out = run_reference(onnx_name(c.op), {}, {{f32_from_half(a, c.a)}, {f32_from_half(b, c.b)}});
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return {};
  std::vector<double> ref = doubles_of((*out)[0]);
  for (double& v : ref) v = reference_activation(v, c.act);
  return ref;
}

class BinaryTest : public GpuTest, public ::testing::WithParamInterface<BinaryCase> {};

TEST_P(BinaryTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const BinaryCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  ew::BinaryArgs<__half> args;
  args.op = c.op;
  args.a_shape = dims_of(c.a);
  args.b_shape = dims_of(c.b);
  args.activation = c.act;
  ew::Dims out_shape;
  ASSERT_TRUE(ew::broadcast_shape(args.a_shape, args.b_shape, &out_shape).ok());
  const size_t na = static_cast<size_t>(shape_numel(c.a)), nb = static_cast<size_t>(shape_numel(c.b));
  const size_t n = static_cast<size_t>(out_shape.numel());
  std::vector<uint16_t> a, b;
  make_operands(c.op, na, nb, rng, a, b);
  const auto ref = reference_binary(c, a, b);
  ASSERT_EQ(ref.size(), n);

  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> da(na), db(nb), dy(n + kGuard);
  for (auto st : {da.status(), db.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(da.upload(a), "upload a"));
  ASSERT_TRUE(cuda_ok(db.upload(b), "upload b"));
  args.a = da.get();
  args.b = db.get();
  args.y = dy.get();
  ASSERT_TRUE(ew::can_implement(args).ok()) << ew::can_implement(args).message();
  EXPECT_EQ(ew::workspace_bytes(args), 0u);
  std::vector<size_t> inside(n), guard(kGuard);
  for (size_t i = 0; i < n; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n + i;

  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = ew::vector_width(args);
    if (width == last_width) continue;  // the same kernel again
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width) + ", merged rank " + std::to_string(ew::merged_rank(args)));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = ew::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "binary kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
    EXPECT_TRUE(untouched(got, guard));
  }
}

// >= 20 broadcast patterns: equal shapes (flat, odd sizes with a tail), NHWC bias and SE-style
// scaling, NCHW per-channel, scalars (rank 0 and [1]), both operands broadcast, 6-D, batch 1 and 7.
std::vector<BinaryCase> binary_cases() {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{7, 33, 3}, {7, 33, 3}},                   // equal, odd: flat with a tail
      {{1, 56, 56, 144}, {1, 56, 56, 144}},       // equal, MobileNetV2 residual add
      {{1, 56, 56, 144}, {144}},                  // NHWC per-channel
      {{7, 14, 14, 96}, {7, 1, 1, 96}},           // squeeze-excitation scale, NHWC
      {{7, 14, 14, 33}, {7, 1, 1, 33}},           // the same, odd channels
      {{1, 3, 224, 224}, {1, 3, 1, 1}},           // NCHW per-channel (inner dim broadcast)
      {{7, 7, 33}, {7, 1, 33}},                   // middle dim broadcast
      {{2, 5, 9}, {}},                            // rank-0 scalar
      {{}, {4, 8}},                               // scalar first
      {{1}, {7, 3, 5}},                           // [1]
      {{5, 1, 7}, {1, 6, 1}},                     // both broadcast
      {{33, 1}, {1, 17}},                         // outer product
      {{2, 3, 1, 5, 1, 7}, {1, 3, 4, 1, 6, 7}},   // 6-D, alternating
      {{2, 3, 4, 5, 6, 8}, {8}},                  // 6-D, innermost only
      {{7, 1, 1, 1, 1, 1}, {7, 2, 3, 2, 3, 2}},   // 6-D, outermost only
      {{1, 1}, {1, 1}},                           // one element
      {{7, 28, 28, 32}, {28, 1, 32}},             // lower rank in the middle
      {{1, 1000}, {1, 1000}},                     // classifier logits
      {{3, 1, 16}, {3, 10, 16}},                  // broadcast a, vectorizable
      {{7, 9, 2}, {7, 1, 2}},                     // half2 only
      {{1, 4097}, {4097}},                        // long odd flat row
      {{2, 64, 1}, {2, 64, 24}},                  // NCHW-like inner broadcast of a
  };
  const auto epilogues = all_epilogues();
  const ew::BinaryOp ops[] = {ew::BinaryOp::kAdd, ew::BinaryOp::kSub, ew::BinaryOp::kMul, ew::BinaryOp::kDiv,
                              ew::BinaryOp::kMax, ew::BinaryOp::kMin, ew::BinaryOp::kPow};
  std::vector<BinaryCase> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    BinaryCase c;
    c.op = ops[i % 7];
    c.a = shapes[i].first;
    c.b = shapes[i].second;
    ew::Dims out_shape;
    const bool ok = ew::broadcast_shape(dims_of(c.a), dims_of(c.b), &out_shape).ok();
    c.act = never_zero(epilogues[(i / 7 + i) % epilogues.size()], ok ? out_shape.numel() : 0);
    out.push_back(c);
  }
  // Every op on one broadcast pattern, and every activation on the residual-add pattern.
  for (ew::BinaryOp op : ops) {
    BinaryCase c;
    c.op = op;
    c.a = {7, 10, 10, 24};
    c.b = {7, 1, 10, 24};
    out.push_back(c);
  }
  for (const auto& e : epilogues) {
    BinaryCase c;
    c.a = {7, 12, 12, 40};
    c.b = {7, 12, 12, 40};
    c.act = e;
    out.push_back(c);
  }
  return out;
}

std::string binary_param_name(const ::testing::TestParamInfo<BinaryCase>& info) {
  return case_name(info.param) + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Broadcast, BinaryTest, ::testing::ValuesIn(binary_cases()), binary_param_name);

TEST_F(GpuTest, BinaryInPlaceOverTheFullShapeOperand) {
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  BinaryCase c;
  c.op = ew::BinaryOp::kAdd;
  c.a = {7, 14, 14, 64};
  c.b = {64};
  c.act.activation = Activation::kRelu;
  const auto a = random_half(static_cast<size_t>(shape_numel(c.a)), rng);
  const auto b = random_half(64, rng);
  const auto ref = reference_binary(c, a, b);
  DeviceBuffer<__half> da(a.size()), db(b.size());
  ASSERT_TRUE(cuda_ok(da.upload(a), "upload a"));
  ASSERT_TRUE(cuda_ok(db.upload(b), "upload b"));
  ew::BinaryArgs<__half> args;
  args.a_shape = dims_of(c.a);
  args.b_shape = dims_of(c.b);
  args.a = da.get();
  args.b = db.get();
  args.y = da.get();
  args.activation = c.act;
  const Status st = ew::run(args, nullptr, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "binary kernel"));
  std::vector<uint16_t> got;
  ASSERT_TRUE(cuda_ok(da.download(got), "download y"));
  EXPECT_TRUE(comparison_passes(compare_half(got, ref)));
}

// ---- unary ------------------------------------------------------------------------------------

struct UnaryCase {
  int64_t count = 0;
  int offset = 0;  // elements past an aligned allocation: misaligned pointers take narrower vectors
  EpilogueParams act;
};

std::string unary_name(const ::testing::TestParamInfo<UnaryCase>& info) {
  const UnaryCase& c = info.param;
  std::ostringstream os;  // (not "n" + std::to_string(...): GCC 12 warns falsely about that)
  os << "n" << c.count << "_off" << c.offset << "_" << epilogue_label(c.act);
  return os.str();
}

class UnaryTest : public GpuTest, public ::testing::WithParamInterface<UnaryCase> {};

TEST_P(UnaryTest, MatchesFp64ActivationOnEveryVectorWidth) {
  const UnaryCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const size_t n = static_cast<size_t>(c.count);
  // Inputs over [-8, 8]: every activation's bends (0, +-3, 6) and saturations are exercised.
  const auto x = random_half(n, rng, -8.0f, 8.0f);
  std::vector<double> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = reference_activation(half_bits_to_double(x[i]), c.act);
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(n + 8), dy(n + 8 + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  std::vector<uint16_t> padded(n + 8, 0);
  std::copy(x.begin(), x.end(), padded.begin() + c.offset);
  ASSERT_TRUE(cuda_ok(dx.upload(padded), "upload x"));
  std::vector<size_t> inside(n), outside;
  for (size_t i = 0; i < n; ++i) inside[i] = i + c.offset;
  for (size_t i = 0; i < static_cast<size_t>(c.offset); ++i) outside.push_back(i);
  for (size_t i = n + c.offset; i < dy.size(); ++i) outside.push_back(i);
  ew::UnaryArgs<__half> args;
  args.count = c.count;
  args.x = dx.get() + c.offset;
  args.y = dy.get() + c.offset;
  args.activation = c.act;
  int last_width = 0;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int width = ew::vector_width(args);
    if (width == last_width) continue;
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = ew::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "unary kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
    EXPECT_TRUE(untouched(got, outside));
  }
}

std::vector<UnaryCase> unary_cases() {
  const std::pair<int64_t, int> sizes[] = {{1, 0},    {7, 0},     {8, 0},      {33, 1},     {1000, 0},
                                           {1001, 2}, {4096, 3},  {65537, 0},  {802816, 0}, {1 << 20, 1},
                                           {3, 1},    {96, 2},    {12545, 0},  {150528, 4}};
  const auto epilogues = all_epilogues();
  std::vector<UnaryCase> out;
  size_t i = 0;
  for (auto [count, offset] : sizes) {
    UnaryCase c;
    c.count = count;
    c.offset = offset;
    c.act = never_zero(epilogues[i++ % epilogues.size()], count);
    out.push_back(c);
  }
  for (const auto& e : epilogues) {
    UnaryCase c;
    c.count = 7 * 14 * 14 * 96 + 5;
    c.act = e;
    out.push_back(c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Activations, UnaryTest, ::testing::ValuesIn(unary_cases()), unary_name);

TEST_F(GpuTest, ElementwiseEmptyOutputLaunchesNothing) {
  ew::BinaryArgs<__half> args;
  args.a_shape = ew::Dims::of({0, 5});
  args.b_shape = ew::Dims::of({5});
  EXPECT_TRUE(ew::run(args, nullptr, nullptr).ok());
  ew::UnaryArgs<__half> u;
  EXPECT_TRUE(ew::run(u, nullptr, nullptr).ok());
  EXPECT_TRUE(cuda_ok(cudaDeviceSynchronize(), "nothing launched"));
}

// Host-side checks: these run without a GPU too.
TEST(ElementwiseArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[256];
  ew::BinaryArgs<__half> ok;
  ok.a_shape = ew::Dims::of({4, 8});
  ok.b_shape = ew::Dims::of({8});
  ok.a = buf;
  ok.b = buf + 64;
  ok.y = buf + 128;
  EXPECT_TRUE(ew::can_implement(ok).ok());
  EXPECT_EQ(ew::merged_rank(ok), 2);
  EXPECT_EQ(ew::vector_width(ok), 8);
  auto bad = ok;
  bad.b_shape = ew::Dims::of({3});
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kShapeError);
  bad = ok;
  bad.a_shape = ew::Dims::of({1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(bad.a_shape.rank, -1);
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.b = nullptr;
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 64;  // in place over the broadcast operand b: a race
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 1;  // partial overlap with a
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  auto in_place = ok;
  in_place.y = buf;
  EXPECT_TRUE(ew::can_implement(in_place).ok());
  bad = ok;
  bad.max_vector = 4;
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.op = static_cast<ew::BinaryOp>(42);
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.activation.activation = Activation::kClip;
  bad.activation.clip_min = 2;
  bad.activation.clip_max = 1;
  EXPECT_EQ(ew::can_implement(bad).code(), StatusCode::kInvalidArgument);

  // Merging: NHWC [N,H,W,C] * [N,1,1,C] is [N, H*W, C]; equal shapes and scalars are flat.
  auto se = ok;
  se.a_shape = ew::Dims::of({2, 3, 3, 8});
  se.b_shape = ew::Dims::of({2, 1, 1, 8});
  se.y = buf + 144;
  se.a = buf;
  se.b = buf + 80;
  EXPECT_EQ(ew::merged_rank(se), 3);
  se.b_shape = ew::Dims::of({2, 3, 3, 8});
  EXPECT_EQ(ew::merged_rank(se), 1);
  se.b_shape = ew::Dims::of({});
  EXPECT_EQ(ew::merged_rank(se), 1);
  // Vector width follows the innermost dim and the alignment of the operands read as vectors.
  auto odd = ok;
  odd.a_shape = ew::Dims::of({4, 6});
  odd.b_shape = ew::Dims::of({6});
  EXPECT_EQ(ew::vector_width(odd), 2);
  odd.a_shape = ew::Dims::of({4, 7});
  odd.b_shape = ew::Dims::of({7});
  EXPECT_EQ(ew::vector_width(odd), 1);
  auto misaligned = ok;
  misaligned.a = buf + 2;
  EXPECT_EQ(ew::vector_width(misaligned), 2);
  misaligned.a_shape = ew::Dims::of({4, 1});  // a broadcast along the innermost dim: read as one value
  misaligned.b_shape = ew::Dims::of({1, 8});
  EXPECT_EQ(ew::vector_width(misaligned), 8);
}

// The multiply-shift division the index arithmetic relies on, on the host (the same code runs on
// the device): exact for every divisor and dividend below 2^31.
TEST(FastDivmod, MatchesIntegerDivision) {
  std::mt19937_64 rng(fresh_seed());
  std::vector<uint32_t> divisors = {1, 2, 3, 5, 7, 8, 9, 31, 32, 33, 96, 144, 1000, 4097, 65535, 65536, 65537,
                                    (1u << 20) + 1, 802816, 0x7ffffffeu, 0x7fffffffu, 1u << 30, (1u << 30) + 1};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + static_cast<uint32_t>(rng() % 0x7fffffffu));
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + static_cast<uint32_t>(rng() % 5000));
  for (uint32_t d : divisors) {
    const kernels::FastDivmod f(d);
    std::vector<uint32_t> ns = {0, 1, d - 1, d, d + 1, 0x7fffffffu, 0x7ffffffeu, 2 * d - 1, 2 * d};
    for (int i = 0; i < 2000; ++i) ns.push_back(static_cast<uint32_t>(rng() % 0x80000000u));
    for (uint32_t n : ns) {
      if (n >= kernels::kFastDivmodLimit) continue;
      uint32_t q = 0, r = 0;
      f.divmod(n, q, r);
      ASSERT_EQ(q, n / d) << n << " / " << d;
      ASSERT_EQ(r, n % d) << n << " % " << d;
    }
  }
}

}  // namespace
}  // namespace quench::gpu_test
