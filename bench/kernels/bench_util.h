// Helpers for the kernel microbenchmarks: device memory, random fills, and timing by CUDA-graph
// replay over rotating buffer sets (so that small problems are not measured out of L2).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace quench::bench {

// Returns false and fills *err with "what: message" unless err == cudaSuccess.
bool cuda_ok(cudaError_t e, const char* what, std::string* err);

class DeviceMemory {
 public:
  DeviceMemory() = default;
  explicit DeviceMemory(size_t bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  cudaError_t status() const { return status_; }
  template <class T>
  T* as(size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  cudaError_t status_ = cudaSuccess;
};

// Uniform values in [lo, hi] with |x| >= min_abs (never zero): a hash of (seed, index).
cudaError_t fill_random_half(__half* p, size_t count, uint64_t seed, float lo, float hi, cudaStream_t stream);
cudaError_t fill_random_float(float* p, size_t count, uint64_t seed, float lo, float hi, cudaStream_t stream);
// Uniform INT8 values in [-127, 127] (zero included).
cudaError_t fill_random_int8(int8_t* p, size_t count, uint64_t seed, cudaStream_t stream);

// Number of buffer sets of `set_bytes` to rotate among so that one pass touches at least
// `footprint` bytes (e.g. twice the L2), between 1 and max_sets.
int rotation_sets(size_t set_bytes, size_t footprint, int max_sets = 1024);

struct Timing {
  double median_us = 0;  // per launch
  double min_us = 0;
  int launches_per_sample = 0;
  int samples = 0;
  bool graph = false;    // replayed from a CUDA graph (else launched from the host loop)
};

// Times launch(set, stream) for set = 0, 1, ..., sets-1, 0, 1, ...: warm-up, then `samples`
// samples of L back-to-back launches (L >= sets, sized to about target_sample_us), each sample
// between two events; captured once into a CUDA graph and replayed when capture works.
// launch returns false (with *err) on failure.
using LaunchFn = std::function<bool(int set, cudaStream_t stream, std::string* err)>;
bool time_launches(const LaunchFn& launch, int sets, cudaStream_t stream, Timing* out, std::string* err,
                   int samples = 15, double target_sample_us = 2000);

}  // namespace quench::bench
