// The NHWC transposed convolution (kernels/conv_transpose) against quench's CPU reference
// (ops/: ConvTranspose, run in NCHW FP32 on the same FP16 values, FP64 accumulation), on fresh
// random inputs with poisoned outputs, for every output- and input-channel vector width, with
// strides, asymmetric pads, output_padding, output_shape (negative pads), dilation, groups and
// the fused activations.
#include <cuda_fp16.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv_transpose/conv_transpose.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

using kernels::Activation;
using kernels::EpilogueParams;
namespace kt = kernels::conv_transpose;

struct CtCase {
  int64_t n = 1, c = 1, h = 1, w = 1, m = 1;  // m: output channels
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
  int oph = 0, opw = 0;        // output_padding
  int64_t out_shape_h = 0, out_shape_w = 0;  // > 0: output_shape given instead of pads
  int groups = 1;
  bool bias = true;
  EpilogueParams epi;
};

std::string case_name(const CtCase& c) {
  std::ostringstream os;
  os << "n" << c.n << "_c" << c.c << "_h" << c.h << "_w" << c.w << "_m" << c.m << "_k" << c.kh << "x" << c.kw << "_s"
     << c.sh << "x" << c.sw << "_d" << c.dh << "x" << c.dw << "_p" << c.pt << c.pl << c.pb << c.pr << "_op" << c.oph
     << c.opw << "_g" << c.groups;
  if (c.out_shape_h > 0) os << "_os" << c.out_shape_h << "x" << c.out_shape_w;
  os << "_" << epilogue_label(c.epi) << (c.bias ? "_bias" : "");
  return os.str();
}

Tensor f32_tensor(const std::vector<float>& v, const Shape& shape) {
  Tensor t = Tensor::zeros(DType::kF32, shape);
  std::memcpy(t.mutable_data(), v.data(), v.size() * sizeof(float));
  return t;
}

struct Reference {
  int64_t out_h = 0, out_w = 0;
  std::vector<double> nhwc;  // with the epilogue applied
};

Reference reference_conv_transpose(const CtCase& c, const std::vector<uint16_t>& x, const std::vector<uint16_t>& w,
                                   const std::vector<float>& bias) {
  ops::Attributes attrs;
  attrs.set("kernel_shape", attr_ints({c.kh, c.kw}));
  attrs.set("strides", attr_ints({c.sh, c.sw}));
  attrs.set("dilations", attr_ints({c.dh, c.dw}));
  attrs.set("group", attr_int(c.groups));
  if (c.out_shape_h > 0) {
    attrs.set("output_shape", attr_ints({c.out_shape_h, c.out_shape_w}));
  } else {
    attrs.set("pads", attr_ints({c.pt, c.pl, c.pb, c.pr}));
    attrs.set("output_padding", attr_ints({c.oph, c.opw}));
  }
  std::vector<RefInput> in = {{nchw_from_nhwc_half(x, c.n, c.h, c.w, c.c)},
                              {f32_from_half(w, {c.c, c.m / c.groups, c.kh, c.kw})}};
  if (c.bias) in.push_back({f32_tensor(bias, {c.m})});
  auto out = run_reference("ConvTranspose", attrs, in);
  EXPECT_TRUE(out.ok()) << out.status().message();
  Reference r;
  if (!out.ok()) return r;
  r.out_h = (*out)[0].shape()[2];
  r.out_w = (*out)[0].shape()[3];
  r.nhwc = nhwc_from_nchw((*out)[0]);
  for (double& v : r.nhwc) v = reference_activation(v, c.epi);
  return r;
}

class ConvTransposeTest : public GpuTest, public ::testing::WithParamInterface<CtCase> {};

TEST_P(ConvTransposeTest, MatchesCpuReferenceOnEveryVectorWidth) {
  const CtCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const auto x = random_half(static_cast<size_t>(c.n * c.h * c.w * c.c), rng);
  const auto w = random_half(static_cast<size_t>(c.c * (c.m / c.groups) * c.kh * c.kw), rng);
  const auto bias = random_float(static_cast<size_t>(c.m), rng);
  const Reference ref = reference_conv_transpose(c, x, w, bias);
  ASSERT_GT(ref.out_h, 0);

  kt::ConvTransposeArgs<__half> args;
  kt::ConvTransposeShape& s = args.shape;
  s.n = c.n;
  s.h = c.h;
  s.w = c.w;
  s.c = c.c;
  s.out_c = c.m;
  s.out_h = ref.out_h;  // the caller's output size (output_padding / output_shape decided by ops/)
  s.out_w = ref.out_w;
  s.kernel_h = c.kh;
  s.kernel_w = c.kw;
  s.stride_h = c.sh;
  s.stride_w = c.sw;
  s.dilation_h = c.dh;
  s.dilation_w = c.dw;
  s.groups = c.groups;
  if (c.out_shape_h > 0) {  // ONNX: pads = full - output_shape, split evenly (the cases keep it even)
    s.pad_top = static_cast<int>(kt::onnx_out_size(c.h, c.kh, c.sh, c.dh, 0, 0, 0) - c.out_shape_h) / 2;
    s.pad_left = static_cast<int>(kt::onnx_out_size(c.w, c.kw, c.sw, c.dw, 0, 0, 0) - c.out_shape_w) / 2;
  } else {
    s.pad_top = c.pt;
    s.pad_left = c.pl;
    ASSERT_EQ(ref.out_h, kt::onnx_out_size(c.h, c.kh, c.sh, c.dh, c.pt, c.pb, c.oph));
    ASSERT_EQ(ref.out_w, kt::onnx_out_size(c.w, c.kw, c.sw, c.dw, c.pl, c.pr, c.opw));
  }
  args.epilogue = c.epi;

  std::vector<float> wf(w.size());
  for (size_t i = 0; i < w.size(); ++i) wf[i] = static_cast<float>(half_bits_to_double(w[i]));
  std::vector<__half> packed(static_cast<size_t>(kt::packed_weight_count(s)));
  ASSERT_TRUE(kt::pack_weights<__half>(s, wf.data(), packed.data()).ok());
  std::vector<uint16_t> packed_bits(packed.size());
  std::memcpy(packed_bits.data(), packed.data(), packed.size() * sizeof(uint16_t));

  const size_t n_out = ref.nhwc.size();
  constexpr size_t kGuard = 64;
  DeviceBuffer<__half> dx(x.size()), dw(packed_bits.size()), dy(n_out + kGuard);
  DeviceBuffer<float> db(bias.size());
  for (auto st : {dx.status(), dw.status(), dy.status(), db.status()}) ASSERT_TRUE(cuda_ok(st, "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  ASSERT_TRUE(cuda_ok(dw.upload(packed_bits), "upload weight"));
  ASSERT_TRUE(cuda_ok(db.upload(bias), "upload bias"));
  std::vector<size_t> inside(n_out), guard(kGuard);
  for (size_t i = 0; i < n_out; ++i) inside[i] = i;
  for (size_t i = 0; i < kGuard; ++i) guard[i] = n_out + i;

  args.x = dx.get();
  args.weight = dw.get();
  args.bias = c.bias ? db.get() : nullptr;
  args.y = dy.get();
  ASSERT_TRUE(kt::can_implement(args).ok()) << kt::can_implement(args).message();
  EXPECT_EQ(kt::workspace_bytes(args), 0u);

  int last = -1;
  for (int max_vector : {8, 2, 1}) {
    args.max_vector = max_vector;
    const int vo = kt::out_vector_width(args), vi = kt::in_vector_width(args);
    if (vo * 16 + vi == last) continue;
    last = vo * 16 + vi;
    SCOPED_TRACE("vector widths out " + std::to_string(vo) + ", in " + std::to_string(vi));
    ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
    const Status st = kt::run(args, nullptr, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "conv_transpose kernel"));
    std::vector<uint16_t> got;
    ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
    EXPECT_TRUE(comparison_passes(compare_half(got, ref.nhwc, inside)));
    EXPECT_TRUE(untouched(got, guard));
  }
}

CtCase ct(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int kh, int kw, int sh, int sw,
          std::initializer_list<int> pads, int oph = 0, int opw = 0, int groups = 1, int dh = 1, int dw = 1) {
  CtCase k;
  k.n = n;
  k.c = c;
  k.h = h;
  k.w = w;
  k.m = m;
  k.kh = kh;
  k.kw = kw;
  k.sh = sh;
  k.sw = sw;
  const int* p = pads.begin();
  k.pt = p[0];
  k.pl = p[1];
  k.pb = p[2];
  k.pr = p[3];
  k.oph = oph;
  k.opw = opw;
  k.groups = groups;
  k.dh = dh;
  k.dw = dw;
  return k;
}

CtCase with(CtCase c, const EpilogueParams& e, bool bias = true) {
  c.epi = e;
  c.bias = bias;
  return c;
}

CtCase with_output_shape(CtCase c, int64_t oh, int64_t ow) {
  c.out_shape_h = oh;
  c.out_shape_w = ow;
  return c;
}

// >= 20 shapes: PP-OCR's detection head (2x2 stride 2, 24 -> 24 and 24 -> 1), batch 1 and 7, odd
// channel counts (scalar and half2 paths), stride 1, 2 and 3 (outputs no tap reaches), asymmetric
// pads, output_padding, output_shape beyond the full output (negative pads), dilation, groups
// (grouped and depthwise-like), rectangular kernels, every activation, with and without bias.
std::vector<CtCase> ct_cases() {
  const auto e = all_epilogues();
  auto act = [&](size_t i) { return e[i % e.size()]; };
  return {
      ct(1, 24, 40, 40, 24, 2, 2, 2, 2, {0, 0, 0, 0}),
      ct(1, 24, 40, 40, 1, 2, 2, 2, 2, {0, 0, 0, 0}),
      ct(7, 16, 9, 11, 8, 2, 2, 2, 2, {0, 0, 0, 0}),
      ct(1, 3, 7, 5, 5, 3, 3, 1, 1, {1, 1, 1, 1}),
      ct(1, 5, 6, 7, 7, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 1),
      ct(2, 8, 5, 6, 16, 3, 3, 2, 2, {0, 1, 2, 1}),
      ct(1, 8, 7, 7, 8, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 0, 2),
      ct(1, 32, 6, 6, 64, 2, 2, 2, 2, {0, 0, 0, 0}, 0, 0, 4),
      ct(1, 16, 8, 8, 16, 4, 4, 2, 2, {1, 1, 1, 1}, 0, 0, 16),
      ct(1, 6, 9, 8, 10, 3, 3, 1, 1, {2, 2, 2, 2}, 0, 0, 1, 2, 2),
      ct(1, 4, 5, 5, 4, 2, 2, 3, 3, {0, 0, 0, 0}),
      ct(1, 12, 6, 9, 9, 3, 1, 2, 1, {1, 0, 0, 0}),
      ct(7, 33, 5, 6, 17, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 1),
      with(ct(2, 64, 8, 8, 32, 4, 4, 2, 2, {1, 1, 1, 1}), act(1)),
      ct(1, 1, 13, 13, 1, 5, 5, 1, 1, {2, 2, 2, 2}),
      ct(1, 8, 6, 5, 8, 3, 3, 2, 2, {1, 0, 0, 1}, 1, 1, 1, 2, 2),
      with(ct(1, 128, 14, 14, 64, 2, 2, 2, 2, {0, 0, 0, 0}), act(2)),
      ct(7, 40, 6, 7, 24, 3, 3, 1, 1, {0, 0, 0, 0}),
      with_output_shape(ct(1, 8, 5, 5, 8, 2, 2, 2, 2, {0, 0, 0, 0}), 12, 12),
      with(ct(7, 2, 6, 5, 6, 3, 3, 2, 2, {0, 0, 1, 1}, 0, 0, 2), act(3)),
      with(ct(1, 24, 12, 10, 24, 2, 2, 2, 2, {0, 0, 0, 0}), act(4), false),
      with(ct(2, 24, 32, 32, 24, 2, 2, 2, 2, {0, 0, 0, 0}), act(5)),
      with(ct(1, 10, 7, 7, 6, 3, 3, 3, 2, {2, 1, 0, 1}, 2, 1), act(6)),
      with(ct(7, 9, 4, 4, 3, 4, 4, 2, 2, {1, 2, 2, 1}, 1, 1), act(7), false),
  };
}

std::string ct_name(const ::testing::TestParamInfo<CtCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTransposeTest, ::testing::ValuesIn(ct_cases()), ct_name);

// Host-side checks: these run without a GPU too.
TEST(ConvTransposeArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[4096];
  kt::ConvTransposeArgs<__half> ok;
  ok.shape.n = 1;
  ok.shape.h = ok.shape.w = 4;
  ok.shape.c = 8;
  ok.shape.out_c = 8;
  ok.shape.out_h = ok.shape.out_w = 8;
  ok.shape.kernel_h = ok.shape.kernel_w = 2;
  ok.shape.stride_h = ok.shape.stride_w = 2;
  ok.x = buf;
  ok.weight = buf + 1024;
  ok.y = buf + 2048;
  EXPECT_TRUE(kt::can_implement(ok).ok()) << kt::can_implement(ok).message();
  auto bad = ok;
  bad.shape.groups = 3;
  EXPECT_FALSE(kt::can_implement(bad).ok());
  bad = ok;
  bad.y = buf + 10;  // overlaps x
  EXPECT_FALSE(kt::can_implement(bad).ok());
  bad = ok;
  bad.weight = nullptr;
  EXPECT_FALSE(kt::can_implement(bad).ok());
  bad = ok;
  bad.shape.out_h = 0;
  EXPECT_FALSE(kt::can_implement(bad).ok());
  bad = ok;
  bad.shape.stride_w = 1 << 20;
  EXPECT_EQ(kt::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.max_vector = 4;
  EXPECT_FALSE(kt::can_implement(bad).ok());
  // The packing: ONNX [c][m][kh][kw] -> [kh][kw][c][m].
  kt::ConvTransposeShape s = ok.shape;
  s.c = 2;
  s.out_c = 3;
  std::vector<float> onnx(static_cast<size_t>(2 * 3 * 2 * 2));
  for (size_t i = 0; i < onnx.size(); ++i) onnx[i] = static_cast<float>(i);
  std::vector<__half> packed(static_cast<size_t>(kt::packed_weight_count(s)));
  ASSERT_TRUE(kt::pack_weights<__half>(s, onnx.data(), packed.data()).ok());
  // tap (1, 0) = 2, channel c = 1, m = 2: ONNX index ((1 * 3 + 2) * 2 + 1) * 2 + 0 = 22.
  EXPECT_EQ(__half2float(packed[(2 * 2 + 1) * 3 + 2]), 22.0f);
}

}  // namespace
}  // namespace quench::gpu_test
