#include "tests/gpu/gpu_harness.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "quench/float16.h"

namespace quench::gpu_test {

bool cuda_device_available() {
  static const bool available = [] {
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  }();
  return available;
}

std::string cuda_device_description() {
  if (!cuda_device_available()) return "no CUDA device";
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    return "unknown CUDA device";
  std::ostringstream os;
  os << prop.name << " (sm_" << prop.major << prop.minor << ", " << prop.multiProcessorCount << " SMs)";
  return os.str();
}

void GpuTest::SetUp() {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount reports none): GPU test skipped";
}

::testing::AssertionResult cuda_ok(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ")";
}

uint64_t fresh_seed() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  const uint64_t t = static_cast<uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
  uint64_t s = (uint64_t{rd()} << 32) ^ rd() ^ (t * 0x9E3779B97F4A7C15ull) ^ (counter.fetch_add(1) << 17);
  return s == 0 ? 1 : s;
}

std::vector<uint16_t> random_half(size_t count, std::mt19937_64& rng, float lo, float hi, float min_abs) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<uint16_t> out(count);
  for (auto& v : out) {
    float x = dist(rng);
    while (std::fabs(x) < min_abs) x = dist(rng);
    v = float_to_half(x);
  }
  return out;
}

std::vector<float> random_float(size_t count, std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(count);
  for (auto& v : out) v = dist(rng);
  return out;
}

double half_bits_to_double(uint16_t h) { return static_cast<double>(half_to_float(h)); }

double reference_activation(double x, const kernels::EpilogueParams& p) {
  using kernels::Activation;
  switch (p.activation) {
    case Activation::kNone: return x;
    case Activation::kRelu: return std::max(x, 0.0);
    case Activation::kClip: return std::min(std::max(x, double{p.clip_min}), double{p.clip_max});
    case Activation::kHardSwish: return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    case Activation::kSilu: return x / (1.0 + std::exp(-x));
    case Activation::kLeakyRelu: return x >= 0 ? x : double{p.alpha} * x;
    case Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return x;
}

double reference_epilogue(double acc_plus_bias, double residual, const kernels::EpilogueParams& p) {
  if (p.residual_after_activation) return reference_activation(acc_plus_bias, p) + residual;
  return reference_activation(acc_plus_bias + residual, p);
}

std::string epilogue_label(const kernels::EpilogueParams& p) {
  std::ostringstream os;
  os << kernels::activation_name(p.activation);
  if (p.activation == kernels::Activation::kClip) {
    if (p.clip_min == 0.0f && p.clip_max == 6.0f) {
      os.str("");
      os << "relu6";
    } else {
      os << "m" << static_cast<int>(std::lround(-p.clip_min * 100)) << "_" << static_cast<int>(std::lround(p.clip_max * 100));
    }
  }
  if (p.activation == kernels::Activation::kLeakyRelu) os << static_cast<int>(std::lround(p.alpha * 100));
  if (p.residual_after_activation) os << "_resafter";
  return os.str();
}

std::vector<kernels::EpilogueParams> all_epilogues() {
  using kernels::Activation;
  std::vector<kernels::EpilogueParams> out;
  kernels::EpilogueParams p;
  for (Activation a : {Activation::kNone, Activation::kRelu, Activation::kHardSwish, Activation::kSilu,
                       Activation::kSigmoid}) {
    p.activation = a;
    out.push_back(p);
  }
  out.push_back(kernels::EpilogueParams::relu6());
  p.activation = Activation::kClip;
  p.clip_min = -0.5f;
  p.clip_max = 0.75f;
  out.push_back(p);
  p = {};
  p.activation = Activation::kLeakyRelu;
  p.alpha = 0.1f;
  out.push_back(p);
  return out;
}

void parallel_for(size_t n, const std::function<void(size_t)>& f) {
  const size_t threads = std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), n));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) f(i);
    });
  }
  for (auto& th : pool) th.join();
}

Comparison compare_half(const std::vector<uint16_t>& got, const std::vector<double>& ref, const std::vector<size_t>& index) {
  Comparison c;
  c.count = ref.size();
  double err2 = 0, ref2 = 0, worst_abs = -1;
  for (size_t i = 0; i < ref.size(); ++i) {
    const size_t gi = index.empty() ? i : index[i];
    const uint16_t bits = got[gi];
    const double g = half_bits_to_double(bits);
    if (bits == kPoisonHalf) {
      ++c.unwritten;
      if (c.first_bad.size() < 8) c.first_bad.push_back(gi);
      continue;
    }
    if (!std::isfinite(g)) {
      ++c.nan_count;
      if (c.first_bad.size() < 8) c.first_bad.push_back(gi);
      continue;
    }
    const double e = g - ref[i];
    err2 += e * e;
    ref2 += ref[i] * ref[i];
    if (std::fabs(e) > worst_abs) {
      worst_abs = std::fabs(e);
      c.worst = gi;
      c.worst_got = g;
      c.worst_ref = ref[i];
    }
  }
  c.ref_norm = std::sqrt(ref2);
  c.rel_l2 = c.ref_norm > 0 ? std::sqrt(err2) / c.ref_norm : (err2 > 0 ? INFINITY : 0.0);
  return c;
}

::testing::AssertionResult comparison_passes(const Comparison& c, double tol) {
  std::ostringstream why;
  bool ok = true;
  if (c.unwritten) {
    ok = false;
    why << c.unwritten << " of " << c.count << " outputs never written; ";
  }
  if (c.nan_count) {
    ok = false;
    why << c.nan_count << " outputs are NaN/Inf; ";
  }
  if (c.ref_norm == 0) {
    ok = false;
    why << "the reference is all zero (the case proves nothing); ";
  }
  if (!(c.rel_l2 <= tol)) {
    ok = false;
    why << "relative L2 error " << c.rel_l2 << " > " << tol << "; ";
  }
  if (ok) return ::testing::AssertionSuccess() << "rel_l2 " << c.rel_l2;
  why << "worst element [" << c.worst << "]: got " << c.worst_got << ", reference " << c.worst_ref;
  if (!c.first_bad.empty()) {
    why << "; first bad indices:";
    for (size_t i : c.first_bad) why << ' ' << i;
  }
  return ::testing::AssertionFailure() << why.str();
}

::testing::AssertionResult untouched(const std::vector<uint16_t>& got, const std::vector<size_t>& index) {
  size_t bad = 0, first = 0;
  for (size_t i : index) {
    if (got[i] != kPoisonHalf) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " elements outside the output were overwritten (first at " << first << ")";
}

}  // namespace quench::gpu_test
