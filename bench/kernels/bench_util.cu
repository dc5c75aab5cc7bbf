#include <algorithm>
#include <cmath>
#include <vector>

#include "bench/kernels/bench_util.h"

namespace quench::bench {
namespace {

__device__ __forceinline__ float hash_uniform(uint64_t seed, uint64_t i) {
  uint64_t x = seed ^ (i * 0x9E3779B97F4A7C15ull);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<float>(x >> 40) * (1.0f / 16777216.0f);  // [0, 1)
}

__device__ __forceinline__ float nonzero_uniform(uint64_t seed, uint64_t i, float lo, float hi) {
  float v = lo + (hi - lo) * hash_uniform(seed, i);
  if (fabsf(v) < 1.0f / 64) v = v < 0 ? -1.0f / 64 : 1.0f / 64;
  return v;
}

__global__ void fill_half_kernel(__half* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    p[i] = __float2half_rn(nonzero_uniform(seed, i, lo, hi));
}

__global__ void fill_float_kernel(float* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    p[i] = nonzero_uniform(seed, i, lo, hi);
}

__global__ void fill_int8_kernel(int8_t* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    p[i] = static_cast<int8_t>(static_cast<int>(hash_uniform(seed, i) * 255.0f) - 127);
}

unsigned fill_blocks(size_t n) { return static_cast<unsigned>(std::min<size_t>((n + 255) / 256, 132 * 64)); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One sample: L launches between two events; returns microseconds per launch.
bool sample_eager(const LaunchFn& launch, int sets, int launches, int* next_set, cudaStream_t stream, cudaEvent_t start,
                  cudaEvent_t stop, double* us, std::string* err) {
  if (!cuda_ok(cudaEventRecord(start, stream), "cudaEventRecord", err)) return false;
  for (int i = 0; i < launches; ++i) {
    if (!launch(*next_set, stream, err)) return false;
    *next_set = (*next_set + 1) % sets;
  }
  if (!cuda_ok(cudaEventRecord(stop, stream), "cudaEventRecord", err)) return false;
  if (!cuda_ok(cudaEventSynchronize(stop), "kernel (eager sample)", err)) return false;
  float ms = 0;
  if (!cuda_ok(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime", err)) return false;
  *us = ms * 1000.0 / launches;
  return true;
}

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  ~Events() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
};

struct Graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ~Graph() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

}  // namespace

bool cuda_ok(cudaError_t e, const char* what, std::string* err) {
  if (e == cudaSuccess) return true;
  if (err) *err = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return false;
}

DeviceMemory::DeviceMemory(size_t bytes) : bytes_(bytes) {
  if (bytes) status_ = cudaMalloc(&ptr_, bytes);
}
DeviceMemory::~DeviceMemory() {
  if (ptr_) cudaFree(ptr_);
}

cudaError_t fill_random_half(__half* p, size_t count, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  fill_half_kernel<<<fill_blocks(count), 256, 0, stream>>>(p, count, seed, lo, hi);
  return cudaGetLastError();
}

cudaError_t fill_random_float(float* p, size_t count, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  fill_float_kernel<<<fill_blocks(count), 256, 0, stream>>>(p, count, seed, lo, hi);
  return cudaGetLastError();
}

cudaError_t fill_random_int8(int8_t* p, size_t count, uint64_t seed, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  fill_int8_kernel<<<fill_blocks(count), 256, 0, stream>>>(p, count, seed);
  return cudaGetLastError();
}

int rotation_sets(size_t set_bytes, size_t footprint, int max_sets) {
  if (set_bytes == 0) return 1;
  const size_t sets = (footprint + set_bytes - 1) / set_bytes;
  return static_cast<int>(std::clamp<size_t>(sets, 1, static_cast<size_t>(max_sets)));
}

bool time_launches(const LaunchFn& launch, int sets, cudaStream_t stream, Timing* out, std::string* err, int samples,
                   double target_sample_us) {
  Events ev;
  if (!cuda_ok(cudaEventCreate(&ev.start), "cudaEventCreate", err)) return false;
  if (!cuda_ok(cudaEventCreate(&ev.stop), "cudaEventCreate", err)) return false;

  // Warm-up over every set, then a first estimate of the time per launch.
  int next = 0;
  double est_us = 0;
  if (!sample_eager(launch, sets, sets, &next, stream, ev.start, ev.stop, &est_us, err)) return false;
  if (!sample_eager(launch, sets, std::max(sets, 8), &next, stream, ev.start, ev.stop, &est_us, err)) return false;
  int launches = static_cast<int>(std::ceil(target_sample_us / std::max(est_us, 0.5)));
  launches = std::clamp(launches, 8, 2000);
  launches = std::max(launches, sets);

  // Capture one sample's launches into a graph; fall back to host launches if capture fails.
  Graph g;
  bool graph = false;
  {
    std::string capture_err;
    int set = 0;
    bool ok = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    for (int i = 0; ok && i < launches; ++i) {
      ok = launch(set, stream, &capture_err);
      set = (set + 1) % sets;
    }
    cudaGraph_t captured = nullptr;
    const cudaError_t end = cudaStreamEndCapture(stream, &captured);
    g.graph = captured;
    if (ok && end == cudaSuccess && captured &&
        cudaGraphInstantiate(&g.exec, captured, 0) == cudaSuccess) {
      graph = true;
    }
    cudaGetLastError();  // a failed capture leaves its error behind; the fallback path reports its own
  }

  std::vector<double> per_launch;
  if (graph) {
    if (!cuda_ok(cudaGraphLaunch(g.exec, stream), "cudaGraphLaunch (warm-up)", err)) return false;
    for (int s = 0; s < samples; ++s) {
      if (!cuda_ok(cudaEventRecord(ev.start, stream), "cudaEventRecord", err)) return false;
      if (!cuda_ok(cudaGraphLaunch(g.exec, stream), "cudaGraphLaunch", err)) return false;
      if (!cuda_ok(cudaEventRecord(ev.stop, stream), "cudaEventRecord", err)) return false;
      if (!cuda_ok(cudaEventSynchronize(ev.stop), "kernel (graph sample)", err)) return false;
      float ms = 0;
      if (!cuda_ok(cudaEventElapsedTime(&ms, ev.start, ev.stop), "cudaEventElapsedTime", err)) return false;
      per_launch.push_back(ms * 1000.0 / launches);
    }
  } else {
    for (int s = 0; s < samples; ++s) {
      double us = 0;
      if (!sample_eager(launch, sets, launches, &next, stream, ev.start, ev.stop, &us, err)) return false;
      per_launch.push_back(us);
    }
  }
  out->median_us = median(per_launch);
  out->min_us = *std::min_element(per_launch.begin(), per_launch.end());
  out->launches_per_sample = launches;
  out->samples = samples;
  out->graph = graph;
  return cuda_ok(cudaGetLastError(), "after timing", err);
}

}  // namespace quench::bench
