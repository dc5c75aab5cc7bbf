// One CUDA execution context: one device arena for every batch size (the largest batch's
// plan), the split-K workspace, pinned host staging, one bound executor per batch and, with
// CUDA graphs on, one instantiated graph per batch. Everything is allocated, loaded, captured
// and uploaded here, at create_context, so that the first run is as fast as the hundredth;
// runs allocate nothing.
//
// create() does, in order, on the context's own stream (never the caller's):
//   1. allocations: arena (poisoned), split-K workspace (zeroed), pinned staging (zeroed, so that
//      the warm-up reads well-formed inputs: index 0, value 0.0);
//   2. warm-up: one eager run of every batch's device part (CudaExecutor::enqueue) on the zeroed
//      staging, so that lazy module loading (CUDA_MODULE_LOADING=LAZY, the default) and the
//      launchers' cudaFuncSetAttribute happen now, outside any run and outside stream capture;
//   3. with graphs on: for every batch, the device part captured (cudaStreamBeginCapture,
//      cudaStreamCaptureModeThreadLocal, since contexts are made on many threads), instantiated
//      and uploaded (cudaGraphUpload). A failed capture fails create() with a Status naming the
//      batch and the step; there is no silent fallback to launching kernel by kernel;
//   4. the arena poisoned again (so that a byte no step writes still reads as NaN in the first
//      real run, not as a leftover of the warm-up) and one wait for all of it.
//
// On cudaFuncSetAttribute during capture (the conv and GEMM launchers, kernels/, set
// cudaFuncAttributeMaxDynamicSharedMemorySize before every launch): the runtime API reference
// lists no stream-capture restriction for it; it is not a stream operation (it sets a property
// of the function, is not recorded into the graph and takes effect when called), and the
// operations capture prohibits are those that synchronize with or query the capturing stream
// or an event captured on it, work on the legacy stream, and "potentially unsafe" calls such as
// cudaMalloc. So calling it while capturing is legal; and since the warm-up (2) has already set
// the same value, what the replayed kernels see is fixed before capture. The same holds for the
// launchers' cudaGetDevice / cudaDeviceGetAttribute queries. Not yet confirmed on hardware: the
// GPU test CudaGraph.* (tests/gpu/cuda_graph_test.cpp) captures every batch of mobilenetv2 and
// would fail create_context, naming the step, if a launcher did something capture refuses.
#pragma once

#include <memory>
#include <vector>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/event_timer.h"

namespace quench::cuda {

struct CudaContextOptions {
  // Where runs go; null: the context's own non-blocking stream. A caller's stream stays the
  // caller's (never destroyed here) and must be on the engine's device.
  cudaStream_t stream = nullptr;
  bool cuda_graph = true;  // replay one captured graph per batch instead of launching each kernel
  bool device_timing = false;  // an event pair around the device part of every run()
  bool pipeline = false;       // two staging slots: submit() may start a run before the last is collected
};

class CudaContext {
 public:
  static Result<std::unique_ptr<CudaContext>> create(std::shared_ptr<const CudaEngine> engine,
                                                     const CudaContextOptions& options = {});
  // Frees everything, never inside another thread's capture (see capture_mutex in the .cpp).
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  // Runs batch `batch` (1..max_batch) on stream(): stages the inputs in pinned memory, launches
  // the batch's graph (or enqueues its steps one by one with graphs off), waits for the stream
  // and copies the outputs out. One run at a time per context.
  Status run(const TensorMap& inputs, TensorMap& outputs, int64_t batch);
  // run() in parts, for a caller that puts events around the device part (the profiler):
  // stage_inputs checks the inputs and copies them into pinned staging (the stream must have
  // passed the previous enqueue; CudaExecutor::stage_inputs); enqueue puts the device part on
  // stream(): the batch's graph launch, or with graphs off its steps one by one
  // (CudaExecutor::enqueue); the caller then waits for stream() and may read the outputs with
  // finish_outputs.
  Status stage_inputs(const TensorMap& inputs, int64_t batch);
  Status enqueue(int64_t batch) const;
  Status finish_outputs(TensorMap& outputs, int64_t batch) const;

  // Context::submit / collect (include/quench/quench.h): submit stages the inputs in the next
  // free slot's pinned staging, enqueues the run on stream() and records the slot's event; collect
  // waits for the oldest slot's event and copies its outputs out. run() needs no run pending.
  Status submit(const TensorMap& inputs, int64_t batch);
  Status collect(TensorMap& outputs);
  int pipeline_depth() const { return static_cast<int>(slots_.size()); }
  int pending() const { return static_cast<int>(submitted_ - collected_); }

  cudaStream_t stream() const { return stream_; }
  bool uses_cuda_graph() const { return !slots_.empty() && !slots_[0].graphs.empty(); }
  // Seconds between the events around the last run()'s device part; -1 without device_timing
  // or before a run has succeeded.
  double last_device_seconds() const { return last_device_seconds_; }
  // The bound executor of `batch`, or null (outside 1..max_batch, or a fixed-batch model's
  // other batches): for a caller that enqueues step by step itself, e.g. with events between.
  CudaExecutor* executor(int64_t batch);

 private:
  CudaContext() = default;
  // One set of pinned staging with the executors and graphs bound to it. run() and the
  // profiler's pieces use slot 0; submit() takes the slots in turn.
  struct Slot {
    PinnedBuffer pinned;
    std::vector<std::unique_ptr<CudaExecutor>> executors;  // [b - 1]
    std::vector<GraphExec> graphs;                         // [b - 1]; empty with graphs off
    Event done;         // recorded on stream() after a submitted run
    int64_t batch = 0;  // the submitted run's batch
  };

  Status check_batch(int64_t batch) const;
  Status warm_up();
  Result<GraphExec> capture(const CudaExecutor& ex, int64_t batch);
  Status enqueue_slot(const Slot& slot, int64_t batch) const;

  std::shared_ptr<const CudaEngine> engine_;
  // Declared before the executors and graphs, so that the memory they point into outlives them.
  Stream own_stream_;             // setup (warm-up, capture, upload); runs too without a caller's stream
  cudaStream_t stream_ = nullptr;  // where runs go: the caller's stream or own_stream_
  std::vector<Stream> aux_streams_;  // the schedule's streams besides stream_ (CudaEngine::streams - 1)
  DeviceBuffer arena_, persistent_;
  std::vector<Slot> slots_;        // 1, or 2 with pipeline
  int64_t submitted_ = 0, collected_ = 0;  // submit() calls that started a run, collect() calls
  EventTimer timer_;                                      // two events with device_timing, else none
  double last_device_seconds_ = -1;
};

}  // namespace quench::cuda
