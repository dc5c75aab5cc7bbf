// The transpose kernels (kernels/transpose) against quench's CPU reference (ops/: Transpose run on
// the same FP16 or FP32 tensor), 1-D to 6-D, on fresh random inputs with poisoned outputs, on the
// path the launcher picks (copy, rows, tiled) and on the element gather that serves any
// permutation. Transpose only moves values, so the output must match bit for bit.
#include <cuda_fp16.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/transpose/transpose.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace tp = kernels::transpose;

struct TransposeCase {
  Shape dims;
  std::vector<int64_t> perm;
  bool fp32 = false;
  tp::TransposePath expected = tp::TransposePath::kAuto;  // the path kAuto must pick
};

std::string case_name(const TransposeCase& c) {
  std::ostringstream os;
  os << (c.fp32 ? "f32" : "f16") << "_d";
  for (int64_t d : c.dims) os << "_" << d;
  os << "_perm";
  for (int64_t p : c.perm) os << p;
  return os.str();
}

template <class T, class Bits>
void check_transpose(const TransposeCase& c, std::mt19937_64& rng) {
  const size_t n = static_cast<size_t>(shape_numel(c.dims));
  std::vector<Bits> x_bits(n);
  Tensor x;
  if constexpr (sizeof(T) == 2) {
    x_bits = random_half(n, rng);
    x = f16_tensor(x_bits, c.dims);
  } else {
    const auto v = random_float(n, rng);
    std::memcpy(x_bits.data(), v.data(), n * sizeof(float));
    x = Tensor::from_values(DType::kF32, c.dims, v);
  }
  ops::Attributes attrs;
  attrs.set("perm", attr_ints(c.perm));
  auto ref = run_reference("Transpose", attrs, {{x}});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  std::vector<Bits> want(n);
  if (n) std::memcpy(want.data(), (*ref)[0].data(), n * sizeof(Bits));

  tp::TransposeArgs<T> args;
  args.rank = static_cast<int>(c.dims.size());
  for (int d = 0; d < args.rank; ++d) {
    args.dims[d] = c.dims[d];
    args.perm[d] = static_cast<int>(c.perm[d]);
  }
  constexpr size_t kGuard = 64;
  DeviceBuffer<T> dx(n), dy(n + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x_bits), "upload x"));
  args.x = dx.get();
  args.y = dy.get();
  EXPECT_EQ(tp::chosen_path(args), c.expected);
  for (tp::TransposePath path : {tp::TransposePath::kAuto, tp::TransposePath::kGather}) {
    args.path = path;
    for (int max_vector : {8, 1}) {
      if (path == tp::TransposePath::kGather && max_vector != 1) continue;
      args.max_vector = max_vector;
      SCOPED_TRACE("path " + std::to_string(static_cast<int>(tp::chosen_path(args))) + ", max vector " +
                   std::to_string(max_vector));
      ASSERT_TRUE(tp::can_implement(args).ok()) << tp::can_implement(args).message();
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
      const Status st = tp::run(args, nullptr, nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "transpose kernel"));
      std::vector<Bits> got;
      ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
      EXPECT_TRUE(bits_equal(got, want));
      for (size_t i = n; i < got.size(); ++i)
        ASSERT_EQ(got[i], static_cast<Bits>(sizeof(Bits) == 2 ? kPoisonHalf : 0x7F7F7F7Fu)) << "guard overwritten";
    }
  }
}

class TransposeTest : public GpuTest, public ::testing::WithParamInterface<TransposeCase> {};

TEST_P(TransposeTest, MatchesCpuReferenceBitForBit) {
  const TransposeCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  if (c.fp32) {
    check_transpose<float, uint32_t>(c, rng);
  } else {
    check_transpose<__half, uint16_t>(c, rng);
  }
}

TransposeCase tc(Shape dims, std::vector<int64_t> perm, tp::TransposePath expected, bool fp32 = false) {
  TransposeCase c;
  c.dims = std::move(dims);
  c.perm = std::move(perm);
  c.expected = expected;
  c.fp32 = fp32;
  return c;
}

// >= 20 cases: NCHW <-> NHWC at model sizes and odd ones (3, 7, 33 channels; tiles cut by the
// edges), 2-D, permutations that keep the innermost dim (rows path, vectorized or not), 6-D,
// size-1 dims that merge away, identity (copy), batch 1 and 7, FP32.
std::vector<TransposeCase> transpose_cases() {
  using P = tp::TransposePath;
  return {
      tc({1, 3, 224, 224}, {0, 2, 3, 1}, P::kTiled),
      tc({7, 33, 7, 7}, {0, 2, 3, 1}, P::kTiled),
      tc({1, 56, 56, 24}, {0, 3, 1, 2}, P::kTiled),
      tc({7, 13, 11, 7}, {0, 3, 1, 2}, P::kTiled),
      tc({33, 17}, {1, 0}, P::kTiled),
      tc({1, 1000}, {1, 0}, P::kCopy),  // a size-1 dim: nothing moves
      tc({2, 3, 4, 8}, {1, 0, 2, 3}, P::kRows),
      tc({5, 7, 3}, {1, 0, 2}, P::kRows),
      tc({2, 3, 4, 5, 6, 8}, {5, 4, 3, 2, 1, 0}, P::kTiled),
      tc({2, 3, 4, 5, 6, 8}, {1, 0, 3, 2, 4, 5}, P::kRows),
      tc({2, 3, 4, 5, 6, 7}, {0, 2, 4, 1, 3, 5}, P::kRows),
      tc({3, 1, 5, 1, 7}, {4, 1, 2, 3, 0}, P::kTiled),
      tc({4, 6, 8}, {0, 1, 2}, P::kCopy),
      tc({7, 64, 28, 28}, {0, 2, 3, 1}, P::kTiled),
      tc({1, 100, 1, 3}, {0, 3, 2, 1}, P::kTiled),
      tc({64, 64}, {1, 0}, P::kTiled),
      tc({31, 33, 2}, {2, 1, 0}, P::kTiled),
      tc({7, 2, 1025}, {2, 0, 1}, P::kTiled),
      tc({6, 4, 2, 3}, {1, 0, 2, 3}, P::kRows),
      tc({1, 5, 3, 3}, {0, 1, 3, 2}, P::kTiled),
      tc({3, 224, 224}, {1, 2, 0}, P::kTiled),
      tc({7, 33, 7, 7}, {0, 2, 3, 1}, P::kTiled, true),
      tc({2, 3, 4, 8}, {1, 0, 2, 3}, P::kRows, true),
      tc({2, 3, 4, 5, 6, 7}, {3, 0, 5, 1, 4, 2}, P::kTiled, true),
      tc({8}, {0}, P::kCopy, true),
  };
}

std::string transpose_name(const ::testing::TestParamInfo<TransposeCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Cases, TransposeTest, ::testing::ValuesIn(transpose_cases()), transpose_name);

// The launcher's choice for every case above (host only: runs without a GPU).
TEST(TransposeArguments, PicksThePathEachCaseExpects) {
  alignas(16) static float buf[4];
  for (const TransposeCase& c : transpose_cases()) {
    tp::TransposeArgs<float> a;
    a.rank = static_cast<int>(c.dims.size());
    for (int d = 0; d < a.rank; ++d) {
      a.dims[d] = c.dims[d];
      a.perm[d] = static_cast<int>(c.perm[d]);
    }
    a.x = buf;
    a.y = buf + 2;
    EXPECT_EQ(tp::chosen_path(a), c.expected) << case_name(c);
  }
}

TEST(TransposeArguments, MergesDimsAndRejectsWhatItCannotRun) {
  alignas(16) static __half buf[512];
  tp::TransposeArgs<__half> a;
  a.rank = 4;
  const int64_t dims[] = {2, 3, 4, 5};
  const int nchw_to_nhwc[] = {0, 2, 3, 1};
  for (int d = 0; d < 4; ++d) {
    a.dims[d] = dims[d];
    a.perm[d] = nchw_to_nhwc[d];
  }
  a.x = buf;
  a.y = buf + 256;
  EXPECT_TRUE(tp::can_implement(a).ok());
  EXPECT_EQ(tp::merged_rank(a), 3);  // [N, C, H*W] -> [N, H*W, C]
  EXPECT_EQ(tp::chosen_path(a), tp::TransposePath::kTiled);
  auto bad = a;
  bad.perm[1] = 3;  // 3 twice
  EXPECT_EQ(tp::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = a;
  bad.path = tp::TransposePath::kRows;  // the innermost dim moves
  EXPECT_EQ(tp::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = a;
  bad.y = buf + 100;  // overlaps x
  EXPECT_EQ(tp::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = a;
  bad.rank = 0;
  EXPECT_EQ(tp::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = a;
  bad.dims[2] = -1;
  EXPECT_EQ(tp::can_implement(bad).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quench::gpu_test
