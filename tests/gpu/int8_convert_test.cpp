// INT8 quantize / dequantize (kernels/quant/int8_convert) against the CPU INT8 reference ops
// quench.Int8Quantize / Int8Dequantize (ops/quant_convert.cpp), bit for bit, on fresh random
// values plus every rounding tie, saturation and NaN the scale allows, for FP32 and FP16, vector
// and scalar paths, sizes that leave a tail; outputs poisoned twice and checked fully written.
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/quant/int8_convert.cuh"
#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"
#include "tests/gpu/int8_test_util.h"

namespace quench::gpu_test {
namespace {

namespace int8 = kernels::int8;

struct ConvertCase {
  int64_t count = 0;
  bool half = false;  // FP16 float side (else FP32)
  int offset = 0;     // elements the buffers start past a 256-byte boundary (misaligns the vectors)
};

std::string case_name(const ConvertCase& c) {
  std::ostringstream os;
  os << (c.half ? "f16" : "f32") << "_n" << c.count << "_off" << c.offset;
  return os.str();
}

// Values around the INT8 grid of `scale`: exact ties k + 0.5 (both parities), saturating
// magnitudes, infinities and NaN, then uniform values; as FP16 when `half` (only values FP16
// holds, so the reference sees the same input).
std::vector<float> convert_inputs(size_t count, float scale, bool half, std::mt19937_64& rng) {
  std::vector<float> v(count);
  std::uniform_real_distribution<float> d(-160.0f, 160.0f);
  std::uniform_int_distribution<int> k(-140, 140);
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) {
    float q = 0;
    switch (i % 8) {
      case 0: q = static_cast<float>(k(rng)) + 0.5f; break;  // a tie at x / scale
      case 1: q = d(rng) * 8; break;                          // mostly saturating
      case 2: q = i % 16 == 2 ? inf : -inf; break;
      case 3: q = i % 24 == 3 ? std::numeric_limits<float>::quiet_NaN() : d(rng); break;
      default: q = d(rng); break;
    }
    float x = std::isfinite(q) ? q * scale : q;
    if (half) x = half_to_float(float_to_half(x));
    v[i] = x;
  }
  return v;
}

class Int8ConvertTest : public GpuTest, public ::testing::WithParamInterface<ConvertCase> {};

TEST_P(Int8ConvertTest, QuantizeBitExactAgainstCpuReference) {
  const ConvertCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  // A power of two makes x / scale exact, so the ties above are real ties; a random scale tests
  // the division's rounding.
  for (float scale : {0.0625f, random_scales(1, rng, 0.001f, 10.0f)[0]}) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    const std::vector<float> x = convert_inputs(static_cast<size_t>(c.count), scale, c.half, rng);
    ops::Attributes attrs;
    attrs.set("scale", attr_float(scale));
    std::vector<RefInput> in(1);
    in[0].value = Tensor::from_values(DType::kF32, {c.count}, x);
    auto ref = run_reference("Int8Quantize", attrs, in, 1, 1, "quench");
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::vector<size_t> order(static_cast<size_t>(c.count));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const std::vector<uint8_t> want = expected_bytes((*ref)[0], Output::kInt8, order);

    const size_t fb = c.half ? 2 : 4;
    DeviceBuffer<uint8_t> dx(static_cast<size_t>(c.count + c.offset) * fb), dy(static_cast<size_t>(c.count + c.offset + 64));
    ASSERT_TRUE(cuda_ok(dx.status(), "cudaMalloc"));
    ASSERT_TRUE(cuda_ok(dy.status(), "cudaMalloc"));
    std::vector<uint8_t> raw(dx.size(), 0);
    for (size_t i = 0; i < x.size(); ++i) {
      if (c.half) {
        const uint16_t h = float_to_half(x[i]);
        std::memcpy(&raw[(i + c.offset) * 2], &h, 2);
      } else {
        std::memcpy(&raw[(i + c.offset) * 4], &x[i], 4);
      }
    }
    ASSERT_TRUE(cuda_ok(dx.upload(raw), "upload x"));
    std::vector<size_t> inside(static_cast<size_t>(c.count)), outside;
    for (size_t i = 0; i < inside.size(); ++i) inside[i] = i + c.offset;
    for (int i = 0; i < c.offset; ++i) outside.push_back(static_cast<size_t>(i));
    for (int64_t g = 0; g < 64; ++g) outside.push_back(static_cast<size_t>(c.count + c.offset + g));
    for (int max_vector : {8, 1}) {
      for (int poison : kInt8Poisons) {
        ASSERT_TRUE(cuda_ok(cudaMemset(dy.get(), poison, dy.bytes()), "poison y"));
        Status st;
        int8_t* y = reinterpret_cast<int8_t*>(dy.get()) + c.offset;
        if (c.half) {
          int8::QuantizeArgs<__half> a;
          a.count = c.count;
          a.x = reinterpret_cast<const __half*>(dx.get()) + c.offset;
          a.y = y;
          a.scale = scale;
          a.max_vector = max_vector;
          st = int8::quantize(a, nullptr);
        } else {
          int8::QuantizeArgs<float> a;
          a.count = c.count;
          a.x = reinterpret_cast<const float*>(dx.get()) + c.offset;
          a.y = y;
          a.scale = scale;
          a.max_vector = max_vector;
          st = int8::quantize(a, nullptr);
        }
        ASSERT_TRUE(st.ok()) << st.message();
        ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "quantize kernel"));
        std::vector<uint8_t> got;
        ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
        EXPECT_TRUE(outputs_match(got, inside, want, Output::kInt8, true, {})) << "max_vector " << max_vector;
        EXPECT_TRUE(poison_kept(got, outside, Output::kInt8, poison));
      }
    }
  }
}

TEST_P(Int8ConvertTest, DequantizeBitExactAgainstCpuReference) {
  const ConvertCase& c = GetParam();
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", case " + case_name(c) + ", device " + cuda_device_description());
  std::mt19937_64 rng(seed);
  const Output out = c.half ? Output::kFloat16 : Output::kFloat32;
  for (float scale : {0.0625f, random_scales(1, rng, 0.001f, 10.0f)[0]}) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    const std::vector<int8_t> q = random_int8(static_cast<size_t>(c.count), rng);
    ops::Attributes attrs;
    attrs.set("scale", attr_float(scale));
    std::vector<RefInput> in(1);
    in[0].value = Tensor::from_values(DType::kI8, {c.count}, q);
    auto ref = run_reference("Int8Dequantize", attrs, in, 1, 1, "quench");
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::vector<size_t> order(static_cast<size_t>(c.count));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const std::vector<uint8_t> want = expected_bytes((*ref)[0], out, order);

    const size_t fb = output_bytes(out);
    DeviceBuffer<int8_t> dx(static_cast<size_t>(c.count + c.offset));
    DeviceBuffer<uint8_t> dy(static_cast<size_t>(c.count + c.offset + 64) * fb);
    ASSERT_TRUE(cuda_ok(dx.status(), "cudaMalloc"));
    ASSERT_TRUE(cuda_ok(dy.status(), "cudaMalloc"));
    std::vector<int8_t> raw(dx.size(), 0);
    std::memcpy(raw.data() + c.offset, q.data(), q.size());
    ASSERT_TRUE(cuda_ok(dx.upload(raw), "upload x"));
    std::vector<size_t> inside(static_cast<size_t>(c.count)), outside;
    for (size_t i = 0; i < inside.size(); ++i) inside[i] = i + c.offset;
    for (int i = 0; i < c.offset; ++i) outside.push_back(static_cast<size_t>(i));
    for (int64_t g = 0; g < 64; ++g) outside.push_back(static_cast<size_t>(c.count + c.offset + g));
    for (int max_vector : {8, 1}) {
      for (int poison : kInt8Poisons) {
        ASSERT_TRUE(cuda_ok(cudaMemset(dy.get(), poison, dy.bytes()), "poison y"));
        Status st;
        const int8_t* x = dx.get() + c.offset;
        if (c.half) {
          int8::DequantizeArgs<__half> a;
          a.count = c.count;
          a.x = x;
          a.y = reinterpret_cast<__half*>(dy.get()) + c.offset;
          a.scale = scale;
          a.max_vector = max_vector;
          st = int8::dequantize(a, nullptr);
        } else {
          int8::DequantizeArgs<float> a;
          a.count = c.count;
          a.x = x;
          a.y = reinterpret_cast<float*>(dy.get()) + c.offset;
          a.scale = scale;
          a.max_vector = max_vector;
          st = int8::dequantize(a, nullptr);
        }
        ASSERT_TRUE(st.ok()) << st.message();
        ASSERT_TRUE(cuda_ok(cudaDeviceSynchronize(), "dequantize kernel"));
        std::vector<uint8_t> got;
        ASSERT_TRUE(cuda_ok(dy.download(got), "download y"));
        EXPECT_TRUE(outputs_match(got, inside, want, out, true, {})) << "max_vector " << max_vector;
        EXPECT_TRUE(poison_kept(got, outside, out, poison));
      }
    }
  }
}

// >= 20 cases: tiny, one vector, one vector and a tail, sizes of real activations, odd sizes,
// FP32 and FP16, aligned and misaligned starts (which take the scalar path).
std::vector<ConvertCase> convert_cases() {
  std::vector<ConvertCase> out;
  const int64_t counts[] = {1, 7, 8, 9, 15, 64, 1000, 4097, 150528, 200704, 1 << 20};
  for (int64_t n : counts)
    for (bool half : {false, true}) out.push_back({n, half, 0});
  for (bool half : {false, true}) {
    out.push_back({1003, half, 1});
    out.push_back({4096, half, 3});
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<ConvertCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Int8Sizes, Int8ConvertTest, ::testing::ValuesIn(convert_cases()), param_name);

}  // namespace
}  // namespace quench::gpu_test
