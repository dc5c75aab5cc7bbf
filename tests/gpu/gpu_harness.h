// Shared harness for the GPU kernel tests: device buffers, fresh random inputs, poisoned outputs,
// and the comparison against an FP64 reference.
//
// The references in these tests are naive FP64 loops written here, next to the cases. The engine's
// own CPU reference operators (ops/) are being written separately; once they exist, the kernel
// tests keep these small loops and the whole-model GPU-vs-engine-CPU comparison joins later.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/epilogue.cuh"

namespace quench::gpu_test {

// FP16 storage: relative L2 error of the output against the FP64 reference computed from the
// same FP16-rounded inputs (the output's own rounding alone gives about 3e-4).
inline constexpr double kFp16RelL2Tolerance = 2e-3;

// Every output buffer is filled with this NaN pattern (bytes 0x7F) before each run, so that an
// element the kernel did not write is both detectable and a NaN.
inline constexpr uint16_t kPoisonHalf = 0x7F7F;
inline constexpr int kPoisonByte = 0x7F;

bool cuda_device_available();
std::string cuda_device_description();

// Base fixture: skips the test, saying why, when there is no CUDA device.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

::testing::AssertionResult cuda_ok(cudaError_t err, const char* what);

// Owns cudaMalloc'd memory for `count` elements of T; move-only.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) : count_(count) {
    if (count > 0) status_ = cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    swap(o);
    return *this;
  }

  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }
  cudaError_t status() const { return status_; }

  // Host data of the same size in bytes per element (uint16_t for __half).
  template <class H>
  cudaError_t upload(const std::vector<H>& host) {
    static_assert(sizeof(H) == sizeof(T), "host and device element sizes differ");
    if (host.size() > count_) return cudaErrorInvalidValue;
    return cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  template <class H>
  cudaError_t download(std::vector<H>& host) const {
    static_assert(sizeof(H) == sizeof(T), "host and device element sizes differ");
    host.resize(count_);
    return cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost);
  }
  cudaError_t poison() { return cudaMemset(ptr_, kPoisonByte, bytes()); }

 private:
  void swap(DeviceBuffer& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(count_, o.count_);
    std::swap(status_, o.status_);
  }
  T* ptr_ = nullptr;
  size_t count_ = 0;
  cudaError_t status_ = cudaSuccess;
};

// A seed never used before in this process (random_device mixed with a counter and the clock);
// each case prints it (SCOPED_TRACE) so that a failure can be replayed.
uint64_t fresh_seed();

// FP16 bit patterns of values uniform in [lo, hi], with magnitudes of at least `min_abs` (no zeros).
std::vector<uint16_t> random_half(size_t count, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f,
                                  float min_abs = 1.0f / 64);
std::vector<float> random_float(size_t count, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f);
double half_bits_to_double(uint16_t h);

// The epilogue in FP64, mirroring kernels/common/epilogue.cuh.
double reference_activation(double x, const kernels::EpilogueParams& p);
double reference_epilogue(double acc_plus_bias, double residual, const kernels::EpilogueParams& p);
std::string epilogue_label(const kernels::EpilogueParams& p);
// The activations tests cycle through (ReLU6 and a narrow Clip both included).
std::vector<kernels::EpilogueParams> all_epilogues();

// Runs f(i) for i in [0, n) on all host cores.
void parallel_for(size_t n, const std::function<void(size_t)>& f);

struct Comparison {
  size_t count = 0;       // elements compared
  size_t nan_count = 0;   // NaN or Inf outputs (never pass)
  size_t unwritten = 0;   // still holding the poison pattern
  double rel_l2 = 0;      // ||got - ref|| / ||ref||
  double ref_norm = 0;
  size_t worst = 0;       // index of the largest absolute error
  double worst_got = 0, worst_ref = 0;
  std::vector<size_t> first_bad;  // a few indices of NaN/unwritten elements
};

// Compares got[index[i]] with ref[i] for the elements `index` lists (all when index is empty).
Comparison compare_half(const std::vector<uint16_t>& got, const std::vector<double>& ref,
                        const std::vector<size_t>& index = {});

// Passes when nothing is NaN or unwritten, the reference is not all zero and rel_l2 <= tol;
// otherwise says what went wrong, with the worst element.
::testing::AssertionResult comparison_passes(const Comparison& c, double tol = kFp16RelL2Tolerance);

// Every element of `got` at the listed indices still holds the poison (guards, padding columns).
::testing::AssertionResult untouched(const std::vector<uint16_t>& got, const std::vector<size_t>& index);

}  // namespace quench::gpu_test
