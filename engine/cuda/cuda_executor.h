// Runs one batch's plan on the GPU: every step bound once (kernel arguments fixed, device
// pointers into the context's arena and the engine's weights), so that a run only launches.
//
// A run has three parts, which the context calls separately (engine/cuda/cuda_context.h):
//   1. stage_inputs (host): checks the caller's inputs and copies them into pinned staging;
//   2. enqueue (device, on a stream): the copies from pinned staging to the device, the
//      boundary conversion (float32 NCHW -> float16 NHWC), each step (with its layout
//      conversions, engine/cuda/layout.h), the conversion back and the copies to pinned staging.
//      It neither waits nor allocates nor touches host memory other than the pinned staging,
//      and every pointer it uses is fixed at create(): it can be captured once as a CUDA graph
//      and replayed. Its pieces (enqueue_inputs, enqueue_step for every step, enqueue_outputs)
//      are public, so that a caller can put events between the steps;
//   3. finish_outputs (host, once the stream has passed part 2): copies pinned staging into the
//      caller's output tensors.
// run() does the three with one cudaStreamSynchronize between 2 and 3: the only wait of the run
// path. No device or host memory is allocated on the run path, except output tensors the caller
// did not provide with the right type and shape.
#pragma once

#include <cuda_fp16.h>

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/device_memory.h"
#include "kernels/convert/layout_convert.cuh"
#include "kernels/transpose/transpose.cuh"
#include "quench/quench.h"

namespace quench::cuda {

class CudaExecutor {
 public:
  // `memory` places the batch in `arena` (batch.memory, or a plan without reuse for validation);
  // `persistent` holds engine.persistent_bytes of zeroed split-K workspace per stream; `pinned`
  // holds batch.pinned_bytes of page-locked host memory. `aux` are the streams besides the run's
  // own that batch.schedule spreads steps over (engine/stream_schedule.h): at least
  // schedule.streams - 1 of them to run it so; fewer (none) runs every step on the run's stream.
  // All outlive the executor.
  static Result<std::unique_ptr<CudaExecutor>> create(const CudaEngine& engine, const CudaBatch& batch,
                                                      const DevicePlan& memory, std::byte* arena, void* persistent,
                                                      std::byte* pinned, std::span<const cudaStream_t> aux = {});

  // All three parts on `stream`, then waits for it: returns filled outputs.
  Status run(const TensorMap& inputs, TensorMap& outputs, cudaStream_t stream);

  // Part 1: kInvalidArgument naming the input when one is missing, unknown or of the wrong
  // dtype or shape. Must not overlap part 2 of an earlier run still in flight (it rewrites the
  // pinned staging that part reads).
  Status stage_inputs(const TensorMap& inputs);
  // Part 2, beginning and ending on `stream`: enqueue_inputs, enqueue_step(0..step_count()-1),
  // enqueue_outputs; with auxiliary streams, each step on its schedule's stream after an event
  // wait for each of its waits, the auxiliary streams forked from `stream` after the inputs and
  // joined back before the outputs (so a capture on `stream` takes them all in). Called piece by
  // piece, everything runs on the one stream given. A failure names the node or the graph
  // input/output.
  // `hook`, when given, is called after the inputs (-1), after each step (its index) and after
  // the outputs (step_count()) are enqueued, on the enqueuing thread; its failure stops the
  // enqueue (a capture checks there that it is still valid, and names the step).
  using EnqueueHook = std::function<Status(int)>;
  Status enqueue(cudaStream_t stream, const EnqueueHook& hook = {}) const;
  Status enqueue_inputs(cudaStream_t stream) const;
  size_t step_count() const { return steps_.size(); }
  Status enqueue_step(size_t i, cudaStream_t stream) const;
  const ir::Node& step_node(size_t i) const { return *steps_[i].node; }
  Status enqueue_outputs(cudaStream_t stream) const;
  // Part 3, after the stream has passed part 2.
  void finish_outputs(TensorMap& outputs) const;

  // A non-constant value's device bytes (null for constants), as the GPU holds it
  // (LayoutPlan::values[v]); valid after run() for as long as the plan keeps them.
  const void* value_data(int v) const;
  const CudaBatch& batch() const { return *batch_; }

 private:
  using Transpose = kernels::transpose::TransposeArgs<__half>;
  struct Step {
    const ir::Node* node = nullptr;
    std::vector<Transpose> before, after;  // NHWC -> ONNX order into scratch, and back
    ops::GpuLaunch launch;                 // empty: nothing to do (an aliasing reshape)
  };
  // One graph input or output crossing the boundary.
  struct Boundary {
    int value = -1;
    std::byte* host = nullptr;     // pinned staging, model type
    void* staging = nullptr;       // device float32 staging, or null (copied as it is)
    void* device = nullptr;        // the value in the arena
    kernels::LayoutConvertArgs convert;  // float32 NCHW <-> float16 (NHWC or flat)
    size_t bytes = 0;              // host bytes
  };
  Status run_step(const Step& s, cudaStream_t stream) const;
  Status enqueue_steps_on_streams(cudaStream_t stream, const EnqueueHook& hook) const;

  const CudaBatch* batch_ = nullptr;
  std::vector<cudaStream_t> aux_;  // empty: every step on the run's stream
  Event forked_;                   // after the inputs, on the run's stream
  std::vector<Event> done_;        // per step: recorded after it when the schedule says so
  std::vector<void*> values_;  // per plan value: device address (null for constants)
  std::vector<Step> steps_;
  std::vector<Boundary> inputs_, outputs_;
};

}  // namespace quench::cuda
