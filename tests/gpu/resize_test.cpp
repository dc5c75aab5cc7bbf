// The NHWC resize kernel (kernels/resize) against quench's CPU reference (ops/: Resize-19, which
// follows ONNX's reference implementation, run in NCHW FP32 on the same FP16 values), for every
// coordinate transformation mode with every nearest mode and with bilinear, on fresh random
// inputs with poisoned outputs. Nearest only copies values, so it must match bit for bit (ties
// included); bilinear within the FP16 tolerance.
#include <cuda_fp16.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/resize/resize.cuh"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {
namespace {

namespace rs = kernels::resize;

struct Geometry {
  int64_t n = 1, c = 1, h = 1, w = 1;
  bool use_scales = false;
  float scale_h = 1, scale_w = 1;  // FP32, as the model's scales tensor holds them
  int64_t out_h = 0, out_w = 0;    // when sizes are given
};

struct Mode {
  rs::ResizeMode mode;
  rs::CoordinateMode coord;
  rs::NearestMode nearest;
};

const char* coord_name(rs::CoordinateMode m) {
  switch (m) {
    case rs::CoordinateMode::kHalfPixel: return "half_pixel";
    case rs::CoordinateMode::kPytorchHalfPixel: return "pytorch_half_pixel";
    case rs::CoordinateMode::kHalfPixelSymmetric: return "half_pixel_symmetric";
    case rs::CoordinateMode::kAlignCorners: return "align_corners";
    case rs::CoordinateMode::kAsymmetric: return "asymmetric";
    case rs::CoordinateMode::kTfHalfPixelForNN: return "tf_half_pixel_for_nn";
  }
  return "?";
}

const char* nearest_name(rs::NearestMode m) {
  switch (m) {
    case rs::NearestMode::kRoundPreferFloor: return "round_prefer_floor";
    case rs::NearestMode::kRoundPreferCeil: return "round_prefer_ceil";
    case rs::NearestMode::kFloor: return "floor";
    case rs::NearestMode::kCeil: return "ceil";
  }
  return "?";
}

std::string mode_label(const Mode& m) {
  return std::string(m.mode == rs::ResizeMode::kLinear ? "linear" : "nearest") + "/" + coord_name(m.coord) +
         (m.mode == rs::ResizeMode::kNearest ? std::string("/") + nearest_name(m.nearest) : "");
}

std::vector<Mode> all_modes() {
  std::vector<Mode> out;
  for (rs::CoordinateMode coord :
       {rs::CoordinateMode::kHalfPixel, rs::CoordinateMode::kPytorchHalfPixel, rs::CoordinateMode::kHalfPixelSymmetric,
        rs::CoordinateMode::kAlignCorners, rs::CoordinateMode::kAsymmetric, rs::CoordinateMode::kTfHalfPixelForNN}) {
    // tf_half_pixel_for_nn shifts N and C too except in these two forms (resize.cuh); the
    // others are refused, as ResizeArguments checks.
    const bool nn = coord == rs::CoordinateMode::kTfHalfPixelForNN;
    if (!nn) out.push_back(Mode{rs::ResizeMode::kLinear, coord, rs::NearestMode::kFloor});
    for (rs::NearestMode nearest : {rs::NearestMode::kRoundPreferFloor, rs::NearestMode::kRoundPreferCeil,
                                    rs::NearestMode::kFloor, rs::NearestMode::kCeil}) {
      if (!nn || nearest == rs::NearestMode::kFloor || nearest == rs::NearestMode::kRoundPreferFloor) {
        out.push_back(Mode{rs::ResizeMode::kNearest, coord, nearest});
      }
    }
  }
  return out;
}

struct Reference {
  int64_t out_h = 0, out_w = 0;
  std::vector<double> nhwc;
};

Reference reference_resize(const Geometry& g, const Mode& m, const std::vector<uint16_t>& x) {
  ops::Attributes attrs;
  attrs.set("mode", attr_string(m.mode == rs::ResizeMode::kLinear ? "linear" : "nearest"));
  attrs.set("coordinate_transformation_mode", attr_string(coord_name(m.coord)));
  attrs.set("nearest_mode", attr_string(nearest_name(m.nearest)));
  std::vector<RefInput> inputs(4);
  inputs[0].value = nchw_from_nhwc_half(x, g.n, g.h, g.w, g.c);
  if (g.use_scales) {
    inputs[2].value = Tensor::from_values(DType::kF32, {4}, std::vector<float>{1.0f, 1.0f, g.scale_h, g.scale_w});
    inputs[2].constant = true;
    inputs.resize(3);
  } else {
    inputs[3].value = Tensor::from_values(DType::kI64, {4}, std::vector<int64_t>{g.n, g.c, g.out_h, g.out_w});
    inputs[3].constant = true;
  }
  auto out = run_reference("Resize", attrs, inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  Reference r;
  if (!out.ok()) return r;
  r.out_h = (*out)[0].shape()[2];
  r.out_w = (*out)[0].shape()[3];
  r.nhwc = nhwc_from_nchw((*out)[0]);
  return r;
}

std::string geometry_name(const Geometry& g) {
  std::ostringstream os;
  os << "n" << g.n << "_c" << g.c << "_h" << g.h << "_w" << g.w;
  if (g.use_scales) {
    os << "_scales" << static_cast<int>(g.scale_h * 1000) << "x" << static_cast<int>(g.scale_w * 1000);
  } else {
    os << "_sizes" << g.out_h << "x" << g.out_w;
  }
  return os.str();
}

class ResizeTest : public GpuTest, public ::testing::WithParamInterface<Geometry> {};

TEST_P(ResizeTest, MatchesCpuReferenceInEveryModeAndVectorWidth) {
  const Geometry& g = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + geometry_name(g) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const auto x = random_half(static_cast<size_t>(g.n * g.h * g.w * g.c), rng);
  const std::vector<Mode> modes = all_modes();
  std::vector<Reference> refs;
  for (const Mode& m : modes) {
    refs.push_back(reference_resize(g, m, x));
    ASSERT_GT(refs.back().out_h, 0) << mode_label(m);
  }
  DeviceBuffer<__half> dx(x.size());
  ASSERT_TRUE(cuda_ok(dx.status(), "cudaMalloc"));
  ASSERT_TRUE(cuda_ok(dx.upload(x), "upload x"));
  constexpr size_t kGuard = 64;
  for (size_t mi = 0; mi < modes.size(); ++mi) {
    const Mode& m = modes[mi];
    const Reference& ref = refs[mi];
    SCOPED_TRACE(mode_label(m));
    const size_t n_out = ref.nhwc.size();
    DeviceBuffer<__half> dy(n_out + kGuard);
    ASSERT_TRUE(cuda_ok(dy.status(), "cudaMalloc"));
    std::vector<size_t> guard(kGuard);
    for (size_t i = 0; i < kGuard; ++i) guard[i] = n_out + i;
    rs::ResizeArgs<__half> args;
    args.mode = m.mode;
    args.coord = m.coord;
    args.nearest = m.nearest;
    args.n = g.n;
    args.h = g.h;
    args.w = g.w;
    args.c = g.c;
    args.out_h = ref.out_h;
    args.out_w = ref.out_w;
    // What the engine passes: the scales tensor's FP32 values, or out / in for sizes.
    args.scale_h = g.use_scales ? static_cast<double>(g.scale_h) : static_cast<double>(g.out_h) / static_cast<double>(g.h);
    args.scale_w = g.use_scales ? static_cast<double>(g.scale_w) : static_cast<double>(g.out_w) / static_cast<double>(g.w);
    args.x = dx.get();
    args.y = dy.get();
    ASSERT_TRUE(rs::can_implement(args).ok()) << rs::can_implement(args).message();
    const auto exact = half_bits_of(ref.nhwc);
    int last_width = 0;
    for (int max_vector : {8, 2, 1}) {
      args.max_vector = max_vector;
      const int width = rs::vector_width(args);
      if (width == last_width) continue;
      last_width = width;
      SCOPED_TRACE("vector width " + std::to_string(width));
      ASSERT_TRUE(cuda_ok(dy.poison(), "poison y"));
      const Status st = rs::run(args, nullptr, nullptr);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "resize kernel"));
      std::vector<uint16_t> got;
      ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
      EXPECT_TRUE(comparison_passes(compare_half(got, ref.nhwc)));
      if (m.mode == rs::ResizeMode::kNearest) {
        EXPECT_TRUE(bits_equal(got, exact));
      }
      EXPECT_TRUE(untouched(got, guard));
    }
  }
}

Geometry by_scales(int64_t n, int64_t c, int64_t h, int64_t w, float sh, float sw) {
  Geometry g;
  g.n = n;
  g.c = c;
  g.h = h;
  g.w = w;
  g.use_scales = true;
  g.scale_h = sh;
  g.scale_w = sw;
  return g;
}

Geometry by_sizes(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  Geometry g;
  g.n = n;
  g.c = c;
  g.h = h;
  g.w = w;
  g.out_h = oh;
  g.out_w = ow;
  return g;
}

// >= 20 geometries, each run in all 27 supported modes: 2x upsampling (FPN, ties under asymmetric),
// downsampling, mixed, non-integer FP32 scales (0.6, 1/3), single-pixel input and output (the
// L == 1 branches), identity, odd channels (scalar and half2 paths), batch 1 and 7.
std::vector<Geometry> geometries() {
  return {
      by_scales(1, 32, 14, 14, 2.0f, 2.0f),   by_scales(7, 33, 7, 7, 2.0f, 2.0f),    by_sizes(1, 3, 10, 15, 20, 30),
      by_scales(1, 8, 9, 9, 0.5f, 0.5f),      by_sizes(7, 5, 13, 11, 7, 17),         by_scales(1, 16, 5, 7, 3.0f, 1.5f),
      by_sizes(2, 24, 17, 17, 33, 33),        by_sizes(1, 1, 4, 4, 1, 1),            by_sizes(1, 6, 1, 1, 5, 3),
      by_scales(7, 64, 28, 28, 0.6f, 0.6f),   by_scales(1, 2, 6, 8, 1.75f, 2.5f),    by_sizes(3, 40, 12, 9, 12, 9),
      by_sizes(1, 9, 31, 29, 64, 48),         by_scales(1, 256, 7, 7, 2.0f, 2.0f),   by_scales(7, 3, 20, 20, 0.25f, 0.25f),
      by_scales(1, 7, 3, 5, 4.0f, 4.0f),      by_sizes(2, 16, 8, 8, 12, 12),         by_scales(1, 12, 15, 10, 0.5f, 2.0f),
      by_sizes(7, 10, 5, 5, 10, 10),          by_scales(1, 18, 6, 6, 1.0f / 3, 1.0f / 3), by_sizes(1, 4, 11, 13, 3, 29),
      by_scales(1, 2, 1, 9, 3.0f, 0.34f),
  };
}

std::string geometry_param_name(const ::testing::TestParamInfo<Geometry>& info) { return geometry_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Geometries, ResizeTest, ::testing::ValuesIn(geometries()), geometry_param_name);

TEST(ResizeArguments, RejectsWhatTheKernelCannotRun) {
  alignas(16) static __half buf[256];
  rs::ResizeArgs<__half> ok;
  ok.n = 1;
  ok.h = ok.w = 2;
  ok.c = 8;
  ok.out_h = ok.out_w = 4;
  ok.scale_h = ok.scale_w = 2.0;
  ok.x = buf;
  ok.y = buf + 64;
  EXPECT_TRUE(rs::can_implement(ok).ok());
  EXPECT_EQ(rs::vector_width(ok), 8);
  auto bad = ok;
  bad.scale_h = 0;
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.scale_w = INFINITY;
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.mode = static_cast<rs::ResizeMode>(2);  // cubic
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.coord = static_cast<rs::CoordinateMode>(9);  // tf_crop_and_resize is not there
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.coord = rs::CoordinateMode::kTfHalfPixelForNN;
  bad.nearest = rs::NearestMode::kFloor;
  EXPECT_TRUE(rs::can_implement(bad).ok());
  bad.nearest = rs::NearestMode::kRoundPreferCeil;  // would move channel c to c + 1
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kUnsupported);
  bad.mode = rs::ResizeMode::kLinear;
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kUnsupported);
  bad = ok;
  bad.out_w = 0;
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = buf + 16;  // overlaps x
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.y = nullptr;
  EXPECT_EQ(rs::can_implement(bad).code(), StatusCode::kInvalidArgument);
  ok.c = 6;
  EXPECT_EQ(rs::vector_width(ok), 2);
  ok.c = 3;
  EXPECT_EQ(rs::vector_width(ok), 1);
}

}  // namespace
}  // namespace quench::gpu_test
