// The reductions (kernels/reduce: sum, mean, max, min over any axes) against quench's CPU
// reference (ops/: ReduceSum / ReduceMean / ReduceMax / ReduceMin, FP64 accumulation, on the same
// FP16 values), on fresh random inputs with poisoned outputs, over ONNX-order data and over NHWC
// data in the forms the CUDA op runs natively (ops/reduce_gpu.cpp). Max and min only select
// values, so they must match bit for bit; sums and means within the FP16 tolerance.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/reduce/reduce.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace kr = kernels::reduce;
using kr::ReduceKind;

struct ReduceCase {
  ReduceKind kind = ReduceKind::kSum;
  Shape shape;                // logical (ONNX) shape
  std::vector<int64_t> axes;  // empty: every axis
  bool keepdims = true;
  bool nhwc = false;          // 4-D input held NHWC
};

std::string case_name(const ReduceCase& c) {
  std::ostringstream os;
  os << kr::reduce_kind_name(c.kind) << "_s";
  for (int64_t d : c.shape) os << d << "x";
  os << "_a";
  for (int64_t a : c.axes) os << (a < 0 ? "m" : "") << (a < 0 ? -a : a);
  os << (c.keepdims ? "_keep" : "") << (c.nhwc ? "_nhwc" : "");
  return os.str();
}

const char* op_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::kSum: return "ReduceSum";
    case ReduceKind::kMean: return "ReduceMean";
    case ReduceKind::kMax: return "ReduceMax";
    case ReduceKind::kMin: return "ReduceMin";
  }
  return "";
}

class ReduceTest : public GpuTest, public ::testing::WithParamInterface<ReduceCase> {};

TEST_P(ReduceTest, MatchesCpuReference) {
  const ReduceCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const int rank = static_cast<int>(c.shape.size());
  ASSERT_TRUE(!c.nhwc || rank == 4);
  const auto x = random_half(static_cast<size_t>(shape_numel(c.shape)), rng);  // memory order

  // Reference: ONNX order in, ONNX order out (opset 12: axes are an attribute for every kind).
  ops::Attributes attrs;
  if (!c.axes.empty()) attrs.set("axes", attr_ints(c.axes));
  attrs.set("keepdims", attr_int(c.keepdims ? 1 : 0));
  const Tensor in = c.nhwc ? nchw_from_nhwc_half(x, c.shape[0], c.shape[2], c.shape[3], c.shape[1])
                           : f32_from_half(x, c.shape);
  auto out = run_reference(op_name(c.kind), attrs, {{in}}, 12);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& r = (*out)[0];
  // The kernel writes the kept dims in memory order: NHWC for a 4-D NHWC output, otherwise the
  // ONNX order (the cases keep the kept dims' order the same in both, as the op requires).
  const std::vector<double> ref = c.nhwc && r.shape().size() == 4 ? nhwc_from_nchw(r) : doubles_of(r);

  kr::ReduceArgs<__half> args;
  args.kind = c.kind;
  args.rank = rank;
  static constexpr int kNhwcOf[4] = {0, 3, 1, 2};  // ONNX axis -> NHWC memory axis
  for (int d = 0; d < rank; ++d) {
    const int phys = c.nhwc ? kNhwcOf[d] : d;
    args.dims[phys] = c.shape[d];
  }
  for (int d = 0; d < rank; ++d) {
    bool reduced = c.axes.empty();
    for (int64_t a : c.axes) reduced = reduced || (a < 0 ? a + rank : a) == d;
    if (reduced) args.reduced |= 1u << (c.nhwc ? kNhwcOf[d] : d);
  }
  const size_t n_out = ref.size();
  ASSERT_EQ(static_cast<int64_t>(n_out), kr::output_count(args));

  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(x.size()), dy(n_out + kGuard);
  for (auto st : {dx.status(), dy.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  std::vector<size_t> inside(n_out), guard(kGuard);
  for (size_t i = 0; i < n_out; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n_out + i;
  args.x = dx.get();
  args.y = dy.get();
  ASSERT_TRUE(kr::can_implement(args).ok()) << kr::can_implement(args).message();
  EXPECT_EQ(kr::workspace_bytes(args), 0u);
  SCOPED_TRACE(kr::uses_rows(args) ? "row kernel" : "column kernel");

  ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
  const Status st = kr::run(args, nullptr, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "reduce kernel"));
  std::vector<uint16_t> got;
  ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
  EXPECT_TRUE(comparison_passes(compare_half(got, ref, inside)));
  if (c.kind == ReduceKind::kMax || c.kind == ReduceKind::kMin) {
    std::vector<uint16_t> head(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n_out));
    EXPECT_TRUE(bits_equal(head, half_bits_of(ref)));
  }
  EXPECT_TRUE(untouched(got, guard));
}

ReduceCase rc(ReduceKind k, Shape shape, std::vector<int64_t> axes, bool keepdims = true, bool nhwc = false) {
  return ReduceCase{k, std::move(shape), std::move(axes), keepdims, nhwc};
}

// >= 20 shapes: PP-OCR recognizer's LayerNorm means ([1, 40, 120] over the last axis) at batch 1
// and 7, reductions over leading, middle and trailing axes (row and column kernels), several
// non-adjacent axes up to rank 8, every axis, size-1 dims, long rows, odd sizes, and NHWC inputs
// reduced over H and W, over C, and with keepdims.
std::vector<ReduceCase> reduce_cases() {
  constexpr auto kSum = ReduceKind::kSum;
  constexpr auto kMean = ReduceKind::kMean;
  constexpr auto kMax = ReduceKind::kMax;
  constexpr auto kMin = ReduceKind::kMin;
  return {
      rc(kMean, {1, 40, 120}, {-1}),
      rc(kMean, {7, 40, 120}, {-1}),
      rc(kSum, {7, 40, 120}, {-1}, false),
      rc(kMean, {3, 5, 7}, {1}),
      rc(kMax, {3, 5, 7}, {0, 2}),
      rc(kMean, {2, 3, 4, 5}, {2, 3}, true, true),
      rc(kSum, {2, 3, 4, 5}, {1}, false, true),
      rc(kMax, {7, 33, 9, 9}, {1}, true, true),
      rc(kMin, {2, 8, 6, 6}, {1, 3}),
      rc(kMean, {1, 1000}, {1}),
      rc(kSum, {4096}, {}),
      rc(kMean, {5, 1, 7}, {1}),
      rc(kMean, {6, 7, 8, 9, 2}, {0, 2, 4}, false),
      rc(kMax, {3, 4}, {}),
      rc(kSum, {17, 3, 1}, {0}),
      rc(kMean, {2, 3, 4, 5, 6, 7}, {1, 3, 5}),
      rc(kMean, {7, 64, 7, 7}, {2, 3}, false, true),
      rc(kMean, {1, 3, 48, 320}, {1}, true, true),
      rc(kMax, {9, 129}, {0}),
      rc(kSum, {2, 2, 2, 2, 2, 2, 2, 2}, {0, 2, 4, 6}),
      rc(kMin, {33, 31}, {1}),
      rc(kSum, {1, 40, 6625}, {2}),
      rc(kMin, {7, 5, 11, 13}, {0, 2}, true, true),
      rc(kMean, {7, 17, 3, 5}, {0, 1, 2, 3}, false, true),
  };
}

std::string reduce_name(const ::testing::TestParamInfo<ReduceCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, ReduceTest, ::testing::ValuesIn(reduce_cases()), reduce_name);

// Host-side checks: these run without a GPU too.
TEST(ReduceArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[1024];
  kr::ReduceArgs<__half> ok;
  ok.kind = ReduceKind::kMean;
  ok.rank = 3;
  ok.dims[0] = 2;
  ok.dims[1] = 3;
  ok.dims[2] = 4;
  ok.reduced = 0b100;
  ok.x = buf;
  ok.y = buf + 512;
  EXPECT_TRUE(kr::can_implement(ok).ok()) << kr::can_implement(ok).message();
  EXPECT_EQ(kr::output_count(ok), 6);
  EXPECT_TRUE(kr::uses_rows(ok));
  auto bad = ok;
  bad.reduced = 0b1000;  // beyond the rank
  EXPECT_FALSE(kr::can_implement(bad).ok());
  bad = ok;
  bad.y = buf + 4;  // overlaps x
  EXPECT_FALSE(kr::can_implement(bad).ok());
  bad = ok;
  bad.rank = kr::kMaxDims + 1;
  EXPECT_EQ(kr::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.dims[1] = int64_t{1} << 31;
  EXPECT_EQ(kr::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.x = nullptr;
  EXPECT_FALSE(kr::can_implement(bad).ok());
  auto cols = ok;
  cols.reduced = 0b001;
  EXPECT_FALSE(kr::uses_rows(cols));
}

}  // namespace
}  // namespace quench::gpu_test
