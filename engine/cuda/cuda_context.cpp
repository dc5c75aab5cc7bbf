#include "engine/cuda/cuda_context.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

namespace quench::cuda {
namespace {

// Held by a capture, and by a context's destruction: cudaFree and cudaFreeHost may synchronize
// the device, which is invalid while a stream on it is capturing, so one thread's context going
// away must not fall inside another thread's capture. (The thread-local capture mode keeps the
// capturing thread's own calls in check, not other threads'.) Captures take milliseconds.
std::mutex& capture_mutex() {
  static std::mutex m;
  return m;
}

// Ends a capture however it went, so that the stream is usable again; owns the graph it returns.
class CaptureGuard {
 public:
  explicit CaptureGuard(cudaStream_t s) : stream_(s) {}
  ~CaptureGuard() {
    (void)end();  // an error here was either reported already or is moot
    if (graph_) cudaGraphDestroy(graph_);
  }
  CaptureGuard(const CaptureGuard&) = delete;
  CaptureGuard& operator=(const CaptureGuard&) = delete;

  Status begin() {
    QUENCH_TRY(check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture"));
    capturing_ = true;
    return {};
  }
  // kCudaError when the capture was invalidated by what was enqueued so far.
  Status still_capturing() const {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    QUENCH_TRY(check(cudaStreamIsCapturing(stream_, &status), "cudaStreamIsCapturing"));
    if (status != cudaStreamCaptureStatusActive)
      return error(StatusCode::kCudaError, "the stream capture was invalidated (an operation stream capture does not "
                                           "allow: a synchronization, a legacy-stream call, an allocation)");
    return {};
  }
  Status end() {
    if (!capturing_) return {};
    capturing_ = false;
    const cudaError_t err = cudaStreamEndCapture(stream_, &graph_);
    if (err != cudaSuccess) cudaGetLastError();  // clear it, so that later calls do not report it again
    return check(err, "cudaStreamEndCapture");
  }
  cudaGraph_t graph() const { return graph_; }

 private:
  cudaStream_t stream_;
  bool capturing_ = false;
  cudaGraph_t graph_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<CudaContext>> CudaContext::create(std::shared_ptr<const CudaEngine> engine,
                                                         const CudaContextOptions& options) {
  auto c = std::unique_ptr<CudaContext>(new CudaContext());
  c->engine_ = std::move(engine);
  const CudaEngine& e = *c->engine_;
  QUENCH_TRY(check(cudaSetDevice(e.device.device), "cudaSetDevice"));
  QUENCH_ASSIGN(c->own_stream_, Stream::create());
  const cudaStream_t setup = c->own_stream_.get();
  c->stream_ = setup;
  if (options.stream) {
    int device = -1;
    QUENCH_TRY(check(cudaStreamGetDevice(options.stream, &device), "cudaStreamGetDevice (the context's stream)"));
    if (device != e.device.device)
      return error(StatusCode::kInvalidArgument, "the stream given to create_context is on CUDA device ", device,
                   " but the engine is on device ", e.device.device);
    c->stream_ = options.stream;
  }
  const size_t arena = static_cast<size_t>(std::max<int64_t>(e.arena_bytes, kArenaAlignment));
  QUENCH_ASSIGN(c->arena_, DeviceBuffer::allocate(arena, "cudaMalloc (context arena)"));
  // Poison: bytes no step wrote read as float16 NaN (0x7F7F) rather than a plausible 0.
  QUENCH_TRY(check(cudaMemsetAsync(c->arena_.data(), 0x7F, arena, setup), "cudaMemsetAsync (arena)"));
  if (e.persistent_bytes > 0) {  // one region per stream (CudaExecutor::create)
    const size_t bytes = e.persistent_bytes * static_cast<size_t>(e.streams);
    QUENCH_ASSIGN(c->persistent_, DeviceBuffer::allocate(bytes, "cudaMalloc (split-K workspace)"));
    // The split-K counters start at zero and every run leaves them so (kernels/gemm/gemm.cuh).
    QUENCH_TRY(check(cudaMemsetAsync(c->persistent_.data(), 0, bytes, setup), "cudaMemsetAsync (split-K workspace)"));
  }
  std::vector<cudaStream_t> aux;
  for (int t = 1; t < e.streams; ++t) {
    QUENCH_ASSIGN(Stream s, Stream::create());
    aux.push_back(s.get());
    c->aux_streams_.push_back(std::move(s));
  }
  const size_t pinned = static_cast<size_t>(std::max<int64_t>(e.pinned_bytes, 64));
  c->slots_.resize(options.pipeline ? 2 : 1);
  for (Slot& slot : c->slots_) {
    QUENCH_ASSIGN(slot.pinned, PinnedBuffer::allocate(pinned, "cudaMallocHost (staging)"));
    std::memset(slot.pinned.data(), 0, pinned);  // the warm-up's inputs
    QUENCH_ASSIGN(slot.done, Event::create());
  }
  QUENCH_TRY(check(cudaStreamSynchronize(setup), "cudaStreamSynchronize (context setup)"));
  for (Slot& slot : c->slots_)
    for (const auto& b : e.batches) {
      std::unique_ptr<CudaExecutor> ex;
      if (b) {
        QUENCH_ASSIGN(ex, CudaExecutor::create(e, *b, b->memory, c->arena_.data(), c->persistent_.data(),
                                               slot.pinned.data(), aux));
      }
      slot.executors.push_back(std::move(ex));
    }

  QUENCH_TRY(c->warm_up());
  if (options.cuda_graph) {
    for (Slot& slot : c->slots_) {
      std::vector<GraphExec> graphs;
      for (size_t i = 0; i < slot.executors.size(); ++i) {
        GraphExec g;
        if (slot.executors[i]) {
          QUENCH_ASSIGN(g, c->capture(*slot.executors[i], static_cast<int64_t>(i) + 1));
        }
        graphs.push_back(std::move(g));
      }
      slot.graphs = std::move(graphs);
    }
  }
  if (options.device_timing) {
    QUENCH_ASSIGN(c->timer_, EventTimer::create(2));
  }
  // The warm-up wrote the arena: poison it again for the first real run.
  QUENCH_TRY(check(cudaMemsetAsync(c->arena_.data(), 0x7F, arena, setup), "cudaMemsetAsync (arena)"));
  QUENCH_TRY(check(cudaStreamSynchronize(setup), "cudaStreamSynchronize (context setup)"));
  return c;
}

CudaContext::~CudaContext() {
  std::lock_guard<std::mutex> lock(capture_mutex());
  timer_ = EventTimer();
  slots_.clear();  // graphs, then executors, then pinned staging (Slot's members in reverse)
  persistent_ = DeviceBuffer();
  arena_ = DeviceBuffer();
  aux_streams_.clear();
  own_stream_ = Stream();
}

Status CudaContext::warm_up() {
  const cudaStream_t s = own_stream_.get();
  for (const Slot& slot : slots_)
    for (size_t i = 0; i < slot.executors.size(); ++i) {
      if (!slot.executors[i]) continue;
      Status st = slot.executors[i]->enqueue(s);
      Status done = check(cudaStreamSynchronize(s), "cudaStreamSynchronize (warm-up)");
      if (st.ok()) st = done;
      if (!st.ok()) return st.with_context("warm-up run of batch " + std::to_string(i + 1));
    }
  return {};
}

Result<GraphExec> CudaContext::capture(const CudaExecutor& ex, int64_t batch) {
  const cudaStream_t s = own_stream_.get();
  const std::string where = "capturing the CUDA graph of batch " + std::to_string(batch);
  std::lock_guard<std::mutex> lock(capture_mutex());
  CaptureGuard guard(s);
  QUENCH_TRY(guard.begin().with_context(where));
  // After each piece, whether the capture is still valid: a launcher doing something capture
  // refuses may invalidate it without failing itself, and the message must name the step. A
  // piece's own error already names its node or graph input/output. With several streams the
  // executor forks them from `s` and joins them back, so the capture takes them in.
  bool invalidated = false;
  auto check_piece = [&](int i) -> Status {
    Status st = guard.still_capturing();
    if (st.ok()) return st;
    invalidated = true;
    if (i < 0) return st.with_context(where + ", graph inputs");
    if (i >= static_cast<int>(ex.step_count())) return st.with_context(where + ", graph outputs");
    return st.with_context(ex.step_node(static_cast<size_t>(i)).where()).with_context(where + ", step " + std::to_string(i));
  };
  Status st = ex.enqueue(s, check_piece);
  if (!st.ok()) {
    (void)guard.end();  // the piece's own error says more than the end of the capture
    return invalidated ? st : st.with_context(where);
  }
  QUENCH_TRY(guard.end().with_context(where));
  if (!guard.graph()) return error(StatusCode::kCudaError, where, ": the capture returned no graph");
  auto exec = GraphExec::instantiate(guard.graph(), s);
  if (!exec.ok()) return exec.status().with_context(where);
  return exec;
}

CudaExecutor* CudaContext::executor(int64_t batch) {
  if (batch < 1 || batch > static_cast<int64_t>(slots_[0].executors.size())) return nullptr;
  return slots_[0].executors[batch - 1].get();
}

Status CudaContext::check_batch(int64_t batch) const {
  if (batch < 1 || batch > static_cast<int64_t>(slots_[0].executors.size()) || !slots_[0].executors[batch - 1])
    return error(StatusCode::kInternal, "no CUDA executor for batch ", batch);
  return {};
}

Status CudaContext::stage_inputs(const TensorMap& inputs, int64_t batch) {
  QUENCH_TRY(check_batch(batch));
  return slots_[0].executors[batch - 1]->stage_inputs(inputs);
}

Status CudaContext::enqueue_slot(const Slot& slot, int64_t batch) const {
  // The calling thread may have another device current; this context's memory lives on this one.
  QUENCH_TRY(check(cudaSetDevice(engine_->device.device), "cudaSetDevice"));
  return slot.graphs.empty() ? slot.executors[batch - 1]->enqueue(stream_) : slot.graphs[batch - 1].launch(stream_);
}

Status CudaContext::enqueue(int64_t batch) const {
  QUENCH_TRY(check_batch(batch));
  return enqueue_slot(slots_[0], batch);
}

Status CudaContext::finish_outputs(TensorMap& outputs, int64_t batch) const {
  QUENCH_TRY(check_batch(batch));
  slots_[0].executors[batch - 1]->finish_outputs(outputs);
  return {};
}

Status CudaContext::submit(const TensorMap& inputs, int64_t batch) {
  QUENCH_TRY(check_batch(batch));
  if (pending() >= pipeline_depth())
    return error(StatusCode::kFailedPrecondition, pending(), " submitted run(s) not collected: collect one first");
  // The slot was collected (its event waited for) before it comes round again: its staging is free.
  Slot& slot = slots_[static_cast<size_t>(submitted_ % pipeline_depth())];
  QUENCH_TRY(slot.executors[batch - 1]->stage_inputs(inputs));
  Status st = enqueue_slot(slot, batch);
  if (st.ok()) st = check(cudaEventRecord(slot.done.get(), stream_), "cudaEventRecord (end of run)");
  if (!st.ok()) {
    // Whatever was enqueued must be done with the staging before it is written again.
    (void)cudaStreamSynchronize(stream_);
    return st;
  }
  slot.batch = batch;
  ++submitted_;
  return {};
}

Status CudaContext::collect(TensorMap& outputs) {
  if (pending() == 0) return error(StatusCode::kFailedPrecondition, "no submitted run to collect");
  Slot& slot = slots_[static_cast<size_t>(collected_ % pipeline_depth())];
  ++collected_;  // done with, whatever the wait says: the slot is free again
  // The wait also reports a kernel's fault in this run or before it.
  QUENCH_TRY(check(cudaEventSynchronize(slot.done.get()), "cudaEventSynchronize (end of a submitted run)"));
  slot.executors[slot.batch - 1]->finish_outputs(outputs);
  return {};
}

Status CudaContext::run(const TensorMap& inputs, TensorMap& outputs, int64_t batch) {
  QUENCH_TRY(stage_inputs(inputs, batch));
  const bool timed = timer_.size() == 2;
  Status st = timed ? timer_.record(0, stream_) : Status{};
  if (st.ok()) st = enqueue(batch);
  if (st.ok() && timed) st = timer_.record(1, stream_);
  // The one wait of the run path; it also reports a kernel's fault. After a failed enqueue it
  // still waits, so that what was enqueued is done with the staging before the next run.
  Status done = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (end of run)");
  QUENCH_TRY(st);
  QUENCH_TRY(done);
  if (timed) {
    QUENCH_ASSIGN(last_device_seconds_, timer_.seconds_between(0, 1));
  }
  return finish_outputs(outputs, batch);
}

}  // namespace quench::cuda
