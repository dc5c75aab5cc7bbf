// The pad kernel (kernels/pad) against quench's CPU reference (ops/: Pad-19 run on the same FP16
// or FP32 tensor): constant, reflect, edge and wrap, crops (negative pads), 1-D to 6-D, on fresh
// random inputs with poisoned outputs, for every vector width. Pad only moves values, so the
// output must match bit for bit.
#include <cuda_fp16.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/pad/pad.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace pd = kernels::pad;

struct PadCase {
  Shape dims;
  std::vector<int64_t> begin, end;
  pd::PadMode mode = pd::PadMode::kConstant;
  float value = 0.0f;
  bool fp32 = false;
};

const char* mode_name(pd::PadMode m) {
  switch (m) {
    case pd::PadMode::kConstant: return "constant";
    case pd::PadMode::kReflect: return "reflect";
    case pd::PadMode::kEdge: return "edge";
    case pd::PadMode::kWrap: return "wrap";
  }
  return "?";
}

std::string case_name(const PadCase& c) {
  std::ostringstream os;
  os << mode_name(c.mode) << (c.fp32 ? "_f32" : "_f16") << "_d";
  for (int64_t d : c.dims) os << "_" << d;
  os << "_p";
  for (size_t i = 0; i < c.dims.size(); ++i)
    os << "_" << (c.begin[i] < 0 ? "m" : "") << std::abs(c.begin[i]) << "x" << (c.end[i] < 0 ? "m" : "") << std::abs(c.end[i]);
  return os.str();
}

// The reference on raw bits: an F16 or F32 tensor of the case's dims, the constant in that type.
Result<std::vector<Tensor>> reference_pad(const PadCase& c, const Tensor& x) {
  ops::Attributes attrs;
  attrs.set("mode", attr_string(mode_name(c.mode)));
  std::vector<int64_t> pads = c.begin;
  pads.insert(pads.end(), c.end.begin(), c.end.end());
  std::vector<RefInput> in(3);
  in[0].value = x;
  in[1].value = Tensor::from_values(DType::kI64, {static_cast<int64_t>(pads.size())}, pads);
  in[1].constant = true;
  in[2].value = c.fp32 ? Tensor::from_values(DType::kF32, {}, std::vector<float>{c.value})
                       : Tensor::from_values(DType::kF16, {}, std::vector<uint16_t>{float_to_half(c.value)});
  in[2].constant = true;
  return run_reference("Pad", attrs, in);
}

template <class T, class Bits>
void check_pad(const PadCase& c, std::mt19937_64& rng) {
  const size_t n_in = static_cast<size_t>(shape_numel(c.dims));
  Tensor x;
  std::vector<Bits> x_bits(n_in);
  if constexpr (sizeof(T) == 2) {
    x_bits = random_half(n_in, rng);
    x = f16_tensor(x_bits, c.dims);
  } else {
    const auto v = random_float(n_in, rng);
    std::memcpy(x_bits.data(), v.data(), n_in * sizeof(float));
    x = Tensor::from_values(DType::kF32, c.dims, v);
  }
  auto ref = reference_pad(c, x);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  const Tensor& y = (*ref)[0];
  std::vector<Bits> want(static_cast<size_t>(y.numel()));
  if (!want.empty()) std::memcpy(want.data(), y.data(), want.size() * sizeof(Bits));

  pd::PadArgs<T> args;
  args.mode = c.mode;
  args.rank = static_cast<int>(c.dims.size());
  for (int d = 0; d < args.rank; ++d) {
    args.dims[d] = c.dims[d];
    args.pad_begin[d] = c.begin[d];
    args.pad_end[d] = c.end[d];
  }
  args.value = c.value;
  int64_t out_dims[pd::kMaxDims];
  ASSERT_TRUE(pd::output_dims(args, out_dims).ok());
  for (int d = 0; d < args.rank; ++d) ASSERT_EQ(out_dims[d], y.shape()[d]) << "dim " << d;

  constexpr size_t kGuard = 64;
  DeviceBuffer<T> dx(n_in), dy(want.size() + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x_bits), "upload x"));
  args.x = dx.get();
  args.y = dy.get();
  ASSERT_TRUE(pd::can_implement(args).ok()) << pd::can_implement(args).message();
  int last_width = 0;
  for (int max_vector : {8, 4, 2, 1}) {
    args.max_vector = max_vector;
    const int width = pd::vector_width(args);
    if (width == last_width) continue;
    last_width = width;
    SCOPED_TRACE("vector width " + std::to_string(width));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = pd::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "pad kernel"));
    std::vector<Bits> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(bits_equal(got, want));
    std::vector<Bits> guard(got.begin() + static_cast<std::ptrdiff_t>(want.size()), got.end());
    for (Bits g : guard) ASSERT_EQ(g, static_cast<Bits>(sizeof(Bits) == 2 ? kPoisonHalf : 0x7F7F7F7Fu)) << "guard overwritten";
  }
}

class PadTest : public GpuTest, public ::testing::WithParamInterface<PadCase> {};

TEST_P(PadTest, MatchesCpuReferenceBitForBit) {
  const PadCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  if (c.fp32) {
    check_pad<float, uint32_t>(c, rng);
  } else {
    check_pad<__half, uint16_t>(c, rng);
  }
}

PadCase pad(Shape dims, std::vector<int64_t> begin, std::vector<int64_t> end, pd::PadMode mode, float value = 0.0f,
            bool fp32 = false) {
  PadCase c;
  c.dims = std::move(dims);
  c.begin = std::move(begin);
  c.end = std::move(end);
  c.mode = mode;
  c.value = value;
  c.fp32 = fp32;
  return c;
}

// >= 20 cases: NHWC spatial padding (vector path along untouched channels), asymmetric pads, odd
// channels, every mode, reflect and wrap past one period, a single element to reflect, crops
// (alone, with reflect, and down to nothing under a constant), channel padding 3 -> 8, NCHW
// spatial padding (padded innermost dim), 1-D, 6-D, no padding at all, batch 1 and 7, FP32.
std::vector<PadCase> pad_cases() {
  using M = pd::PadMode;
  return {
      pad({1, 7, 7, 32}, {0, 1, 1, 0}, {0, 1, 1, 0}, M::kConstant),
      pad({7, 13, 17, 33}, {0, 2, 0, 0}, {0, 0, 3, 0}, M::kReflect),
      pad({1, 5, 5, 3}, {0, 2, 2, 0}, {0, 2, 2, 0}, M::kEdge),
      pad({7, 6, 9, 24}, {0, 3, 2, 0}, {0, 1, 4, 0}, M::kWrap),
      pad({33, 17}, {1, 3}, {2, 4}, M::kConstant, -1.5f),
      pad({1, 10, 10, 16}, {0, -2, 1, 0}, {0, 1, -3, 0}, M::kConstant, 0.75f),
      pad({2, 9, 8, 8}, {0, -1, 2, 0}, {0, 3, -2, 0}, M::kReflect),
      pad({1, 3, 3, 8}, {0, 5, 4, 0}, {0, 5, 6, 0}, M::kReflect),
      pad({1, 1, 4, 8}, {0, 2, 0, 0}, {0, 2, 0, 0}, M::kReflect),
      pad({2, 3, 4, 5, 6, 8}, {0, 1, 0, 2, 0, 0}, {0, 2, 0, 1, 0, 0}, M::kEdge),
      pad({7, 9, 9, 3}, {0, 0, 0, 0}, {0, 0, 0, 5}, M::kConstant),
      pad({1, 3, 224, 224}, {0, 0, 1, 1}, {0, 0, 1, 1}, M::kConstant),
      pad({1000}, {3}, {5}, M::kEdge),
      pad({4, 6, 8}, {0, 0, 0}, {0, 0, 0}, M::kReflect),
      pad({7, 28, 28, 144}, {0, 0, 0, 0}, {0, 1, 1, 0}, M::kConstant),
      pad({1, 2, 3, 4}, {0, 0, 7, 0}, {0, 0, 8, 0}, M::kWrap),
      pad({1, 4, 4, 8}, {0, -4, 0, 0}, {0, 2, 0, 0}, M::kConstant, 2.0f),
      pad({3, 5, 7, 2}, {0, 4, 6, 0}, {0, 4, 6, 0}, M::kReflect),
      pad({1, 56, 56, 24}, {0, 1, 1, 0}, {0, 1, 1, 0}, M::kEdge),
      pad({7, 1, 1, 12}, {0, 1, 2, 0}, {0, 3, 0, 0}, M::kEdge),
      pad({2, 5, 6, 7, 3}, {1, 0, 2, 0, 1}, {0, 1, 0, 2, 1}, M::kWrap),
      pad({1, 7, 7, 32}, {0, 1, 1, 0}, {0, 1, 1, 0}, M::kConstant, 0.5f, true),
      pad({7, 13, 17, 33}, {0, 2, 0, 0}, {0, 0, 3, 0}, M::kReflect, 0.0f, true),
      pad({2, 3, 4, 5, 6, 8}, {0, 1, 0, 2, 0, 0}, {0, 2, 0, 1, 0, 0}, M::kWrap, 0.0f, true),
      pad({5, 12}, {-1, 0}, {2, 0}, M::kEdge, 0.0f, true),
  };
}

std::string pad_name(const ::testing::TestParamInfo<PadCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Cases, PadTest, ::testing::ValuesIn(pad_cases()), pad_name);

TEST(PadArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[256];
  pd::PadArgs<__half> ok;
  ok.rank = 2;
  ok.dims[0] = 4;
  ok.dims[1] = 8;
  ok.pad_begin[0] = 1;
  ok.pad_end[0] = 1;
  ok.x = buf;
  ok.y = buf + 64;
  EXPECT_TRUE(pd::can_implement(ok).ok());
  EXPECT_EQ(pd::vector_width(ok), 8);  // the innermost dim is untouched
  auto bad = ok;
  bad.pad_begin[0] = -6;  // with pad_end 1: 4 - 6 + 1 < 0
  EXPECT_EQ(pd::can_implement(bad).code(), StatusCode::kShapeError);
  bad = ok;
  bad.pad_begin[0] = -4;
  bad.mode = pd::PadMode::kReflect;  // nothing left to reflect
  EXPECT_EQ(pd::can_implement(bad).code(), StatusCode::kShapeError);
  bad.mode = pd::PadMode::kConstant;  // a constant needs no input
  EXPECT_TRUE(pd::can_implement(bad).ok());
  bad = ok;
  bad.rank = 7;
  EXPECT_EQ(pd::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 8;  // overlaps x
  EXPECT_EQ(pd::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.mode = static_cast<pd::PadMode>(9);
  EXPECT_EQ(pd::can_implement(bad).code(), StatusCode::kInvalidArgument);
  auto inner = ok;
  inner.pad_end[1] = 2;  // the innermost dim padded: one element per thread
  EXPECT_EQ(pd::vector_width(inner), 1);
}

}  // namespace
}  // namespace quench::gpu_test
