// quench::Batcher: a dynamic batcher over a built Engine, as a serving system has one. Many
// threads submit single requests; worker threads, each owning one Context, group the queued
// requests first-in first-out into batches, run each batch once, and complete every request's
// future with its own slice of the outputs.
//
//   quench::BatcherOptions bo;  bo.max_queue_delay_us = 2000;  bo.workers = 2;
//   auto batcher = quench::Batcher::create(*engine, bo);       // Result<Batcher>
//   auto fut = batcher->submit({{"input", image}});            // image: leading dim 1
//   quench::Result<quench::TensorMap> out = fut.get();         // outputs, leading dim 1
//
// Thread safety: submit(), stats(), options() and shutdown() may be called from any number of
// threads at once. Moving or destroying a Batcher must not overlap any other call on it. The
// futures are ordinary std::futures: each may be waited on by one thread.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "quench/quench.h"
#include "quench/stats.h"

namespace quench {

namespace detail {
class BatcherImpl;
}

struct BatcherOptions {
  // Largest batch run; 0 takes the engine's max_batch, which it may not exceed.
  int max_batch = 0;
  // How long the oldest queued request may wait for others to join its batch, in
  // microseconds (0 .. 24 h). 0 runs whatever is queued as soon as a worker is free.
  int64_t max_queue_delay_us = 1000;
  // Batch sizes the engine runs best, each in 1..max_batch. Once the queue holds at least one
  // of them, the largest such size runs at once, without waiting for the delay.
  std::vector<int> preferred_batch_sizes;
  // Requests that may wait in the queue (not yet taken into a batch); beyond it submit()
  // fails at once with kResourceExhausted. 0: unbounded.
  int64_t max_queue_size = 0;
  // Worker threads, each with its own Context: how many batches may run at once.
  int workers = 1;
  // Runs every batch size 1..max_batch once per worker inside create(), on zeros, so that lazy
  // work (per-batch plans, CUDA graph capture) is done before the first request, and checks
  // that every output scales with the batch.
  bool warm_up = true;
  // How many recent samples the latency statistics summarize (older ones are dropped).
  int64_t stats_window = 10000;
  // How each worker's Context is made (Engine::create_context): its stream, CUDA graphs.
  ContextOptions context;
};

enum class ShutdownMode {
  kDrain,         // run every accepted request (at once, without waiting for the delay)
  kCancelQueued,  // fail requests still queued with kUnavailable; batches already running finish
};

// Counters since create(). Each is exact; the set is read in two steps (queue, then counters),
// so it is one consistent snapshot only when nothing is submitted meanwhile. Every counter
// that a request touches is updated before that request's future becomes ready.
struct BatcherStats {
  int64_t accepted = 0;   // submits that queued a request
  int64_t rejected = 0;   // submits failed at once: invalid_requests + queue_full + after_shutdown
  int64_t invalid_requests = 0;
  int64_t queue_full = 0;
  int64_t after_shutdown = 0;
  int64_t succeeded = 0;  // accepted requests completed with their outputs
  int64_t failed = 0;     // accepted requests completed with an error (a failed run, cancelled)
  int64_t queued = 0;     // accepted requests not yet taken into a batch
  int64_t batches = 0;    // batches run (successfully or not)
  std::vector<int64_t> batch_size_histogram;  // [b]: batches of b requests; size max_batch + 1
  // Over the last stats_window samples, in microseconds:
  LatencyStats queue_wait_us;  // per request: submit() until its batch starts
  LatencyStats run_us;         // per batch: Context::run alone
  LatencyStats request_us;     // per request: submit() until its future is ready
};

class Batcher {
 public:
  // Checks the options against the engine (every input and output must carry the batch as its
  // leading dim), creates the worker contexts and staging buffers, warms up, starts the workers.
  static Result<Batcher> create(const Engine& engine, const BatcherOptions& options = {});

  Batcher(Batcher&&) noexcept;
  Batcher& operator=(Batcher&&) noexcept;  // shuts down (drains) the batcher it replaces
  ~Batcher();                              // shutdown(ShutdownMode::kDrain)

  // Queues one request: every model input by name, with the engine's shape and leading dim 1.
  // The batcher reads the tensors' bytes until the future is ready: do not write them before.
  // The future holds the request's outputs (leading dim 1, owned by the caller) or the error.
  // A request that cannot be accepted gets a ready future at once: kInvalidArgument naming the
  // tensor and the expected shape, kResourceExhausted when the queue is full, kUnavailable
  // after shutdown() began. A bad request never affects the others.
  std::future<Result<TensorMap>> submit(TensorMap request);

  // Stops accepting requests, then either runs or fails (kUnavailable) every request still
  // queued, per `mode`, and waits for the workers to finish. No accepted request is left without
  // a result. Calling it again, or from several threads, is safe; each call returns once the
  // workers are gone.
  void shutdown(ShutdownMode mode = ShutdownMode::kDrain);

  BatcherStats stats() const;
  // The options in force: max_batch resolved, preferred sizes sorted without duplicates.
  const BatcherOptions& options() const;

 private:
  explicit Batcher(std::unique_ptr<detail::BatcherImpl> impl);
  std::unique_ptr<detail::BatcherImpl> impl_;
};

}  // namespace quench
