#include "engine/cuda/device_memory.h"

#include <utility>

namespace quench::cuda {

Status check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kCudaError;
  return error(code, what, ": ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
}

Result<DeviceInfo> current_device() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it, so that later calls do not report it again
    return error(StatusCode::kUnavailable, "no CUDA device: ", cudaGetErrorString(err),
                 "; build for --backend cpu instead");
  }
  if (count == 0) return error(StatusCode::kUnavailable, "no CUDA device: none is visible; build for --backend cpu instead");
  DeviceInfo d;
  QUENCH_TRY(check(cudaGetDevice(&d.device), "cudaGetDevice"));
  cudaDeviceProp prop{};
  QUENCH_TRY(check(cudaGetDeviceProperties(&prop, d.device), "cudaGetDeviceProperties"));
  d.multiprocessors = prop.multiProcessorCount;
  d.name = prop.name;
  if (prop.major < 8)
    return error(StatusCode::kUnsupported, "CUDA device ", d.device, " (", d.name, ") has compute capability ", prop.major,
                 ".", prop.minor, "; quench's kernels need 8.0 or newer");
  return d;
}

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes, const char* what) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  QUENCH_TRY(check(cudaMalloc(&p, bytes), what).with_context(std::to_string(bytes) + " bytes"));
  b.ptr_ = static_cast<std::byte*>(p);
  b.bytes_ = bytes;
  return b;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // a destructor cannot report; cudaFree fails only on a broken context
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  return *this;
}

Result<PinnedBuffer> PinnedBuffer::allocate(size_t bytes, const char* what) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  QUENCH_TRY(check(cudaMallocHost(&p, bytes), what).with_context(std::to_string(bytes) + " bytes"));
  b.ptr_ = static_cast<std::byte*>(p);
  b.bytes_ = bytes;
  return b;
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  return *this;
}

Result<Stream> Stream::create() {
  Stream s;
  QUENCH_TRY(check(cudaStreamCreateWithFlags(&s.s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
  return s;
}

Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}
Stream::Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
Stream& Stream::operator=(Stream&& o) noexcept {
  std::swap(s_, o.s_);
  return *this;
}

Result<Event> Event::create() {
  Event e;
  QUENCH_TRY(check(cudaEventCreateWithFlags(&e.e_, cudaEventDisableTiming), "cudaEventCreateWithFlags"));
  return e;
}

Event::~Event() {
  if (e_) cudaEventDestroy(e_);
}
Event::Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
Event& Event::operator=(Event&& o) noexcept {
  std::swap(e_, o.e_);
  return *this;
}

Result<GraphExec> GraphExec::instantiate(cudaGraph_t graph, cudaStream_t stream) {
  GraphExec g;
  QUENCH_TRY(check(cudaGraphInstantiate(&g.exec_, graph, 0), "cudaGraphInstantiate"));
  QUENCH_TRY(check(cudaGraphUpload(g.exec_, stream), "cudaGraphUpload"));
  return g;
}

Status GraphExec::launch(cudaStream_t stream) const { return check(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch"); }

GraphExec::~GraphExec() {
  if (exec_) cudaGraphExecDestroy(exec_);
}
GraphExec::GraphExec(GraphExec&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}
GraphExec& GraphExec::operator=(GraphExec&& o) noexcept {
  std::swap(exec_, o.exec_);
  return *this;
}

}  // namespace quench::cuda
