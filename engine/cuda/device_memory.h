// RAII owners of the CUDA resources the backend allocates (device memory, pinned host memory, a
// stream, an instantiated CUDA graph), and the one device query. Every CUDA call is checked and reported as a Status.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "quench/status.h"

namespace quench::cuda {

// Ok for cudaSuccess, else kCudaError naming `what` (kOutOfMemory for an allocation failure).
Status check(cudaError_t err, const char* what);

struct DeviceInfo {
  int device = 0;
  int multiprocessors = 0;
  std::string name;
};

// The current CUDA device, or kUnavailable ("no CUDA device: ...") when there is none or the
// driver cannot be reached.
Result<DeviceInfo> current_device();

// cudaMalloc'd bytes; move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Result<DeviceBuffer> allocate(size_t bytes, const char* what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  std::byte* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  std::byte* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// cudaMallocHost'd (page-locked) bytes, so that copies to and from the device can be async.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Result<PinnedBuffer> allocate(size_t bytes, const char* what);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  std::byte* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  std::byte* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A non-blocking stream (it never waits on the legacy default stream).
class Stream {
 public:
  Stream() = default;
  static Result<Stream> create();
  ~Stream();
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// An event without timing, for ordering one stream after another (cudaEventDisableTiming: the
// cheapest kind to record and wait on).
class Event {
 public:
  Event() = default;
  static Result<Event> create();
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

// An instantiated CUDA graph (cudaGraphExec_t), ready to launch on any stream of its device;
// move-only. Made by capture_graph.
class GraphExec {
 public:
  GraphExec() = default;
  ~GraphExec();
  GraphExec(GraphExec&& o) noexcept;
  GraphExec& operator=(GraphExec&& o) noexcept;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  // Instantiates `graph` (which stays the caller's) and uploads it to the device on `stream`,
  // so that the first launch does no setup work.
  static Result<GraphExec> instantiate(cudaGraph_t graph, cudaStream_t stream);
  // One launch of the whole graph on `stream`.
  Status launch(cudaStream_t stream) const;
  explicit operator bool() const { return exec_ != nullptr; }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace quench::cuda
