// The dynamic batcher: one FIFO queue under a mutex, worker threads that each own a Context and
// its staging buffers, and a promise per request. The batch-size decision is in batch_policy,
// gathering and splitting in batch_staging.
#include "quench/batcher.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "engine/batch_policy.h"
#include "engine/batch_staging.h"

namespace quench {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds that keep `enqueued + delay` and the statistics' memory far from overflow.
constexpr int64_t kMaxDelayUs = int64_t{24} * 3600 * 1000 * 1000;
constexpr int kMaxWorkers = 1024;
constexpr int64_t kMaxStatsWindow = int64_t{1} << 24;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::future<Result<TensorMap>> ready_future(Status st) {
  std::promise<Result<TensorMap>> p;
  p.set_value(Result<TensorMap>(std::move(st)));
  return p.get_future();
}

// The most recent `capacity` samples (a ring once full); their order does not matter.
class SampleWindow {
 public:
  explicit SampleWindow(size_t capacity) : capacity_(capacity) {}
  void add(double v) {
    if (samples_.size() < capacity_) {
      samples_.push_back(v);
    } else {
      samples_[next_] = v;
      next_ = (next_ + 1) % capacity_;
    }
  }
  const std::vector<double>& samples() const { return samples_; }

 private:
  size_t capacity_;
  size_t next_ = 0;
  std::vector<double> samples_;
};

struct Request {
  TensorMap inputs;
  std::promise<Result<TensorMap>> promise;
  Clock::time_point enqueued;
};

struct Worker {
  Context context;
  BatchStaging staging;
};

Result<BatcherOptions> resolve_options(const Engine& engine, BatcherOptions o) {
  const int engine_max = engine.options().max_batch;
  if (o.max_batch == 0) o.max_batch = engine_max;
  if (o.max_batch < 1 || o.max_batch > engine_max)
    return error(StatusCode::kInvalidArgument, "batcher max_batch ", o.max_batch, " must be in 1..", engine_max,
                 " (the engine's max_batch)");
  if (o.max_queue_delay_us < 0 || o.max_queue_delay_us > kMaxDelayUs)
    return error(StatusCode::kOutOfRange, "batcher max_queue_delay_us ", o.max_queue_delay_us, " must be in 0..",
                 kMaxDelayUs);
  for (int p : o.preferred_batch_sizes)
    if (p < 1 || p > o.max_batch)
      return error(StatusCode::kInvalidArgument, "batcher preferred batch size ", p, " must be in 1..", o.max_batch);
  std::sort(o.preferred_batch_sizes.begin(), o.preferred_batch_sizes.end());
  o.preferred_batch_sizes.erase(std::unique(o.preferred_batch_sizes.begin(), o.preferred_batch_sizes.end()),
                                o.preferred_batch_sizes.end());
  if (o.max_queue_size < 0)
    return error(StatusCode::kInvalidArgument, "batcher max_queue_size ", o.max_queue_size, " must be >= 0");
  if (o.workers < 1 || o.workers > kMaxWorkers)
    return error(StatusCode::kInvalidArgument, "batcher workers ", o.workers, " must be in 1..", kMaxWorkers);
  if (o.stats_window < 1 || o.stats_window > kMaxStatsWindow)
    return error(StatusCode::kInvalidArgument, "batcher stats_window ", o.stats_window, " must be in 1..",
                 kMaxStatsWindow);
  return o;
}

}  // namespace

class BatcherImpl {
 public:
  BatcherImpl(Engine engine, BatcherOptions opt, BatchSpec spec)
      : engine_(std::move(engine)),
        opt_(std::move(opt)),
        spec_(std::move(spec)),
        delay_(std::chrono::microseconds(opt_.max_queue_delay_us)),
        wait_(static_cast<size_t>(opt_.stats_window)),
        run_(static_cast<size_t>(opt_.stats_window)),
        request_(static_cast<size_t>(opt_.stats_window)) {
    counts_.batch_size_histogram.assign(static_cast<size_t>(opt_.max_batch) + 1, 0);
  }
  ~BatcherImpl() { shutdown(ShutdownMode::kDrain); }

  static Result<std::unique_ptr<BatcherImpl>> create(const Engine& engine, const BatcherOptions& options);
  std::future<Result<TensorMap>> submit(TensorMap request);
  void shutdown(ShutdownMode mode);
  BatcherStats stats() const;
  const BatcherOptions& options() const { return opt_; }

 private:
  enum class Rejection { kInvalid, kQueueFull, kShutDown };
  Status add_worker();
  void worker_loop(Worker& w);
  void run_batch(Worker& w, std::vector<Request>& batch);
  std::future<Result<TensorMap>> reject(Rejection why, Status st);

  const Engine engine_;
  const BatcherOptions opt_;
  const BatchSpec spec_;
  const Clock::duration delay_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::mutex join_mu_;  // serializes joining, so every shutdown() returns after the workers end

  mutable std::mutex mu_;  // guards the queue and the two flags
  std::condition_variable cv_;
  std::deque<Request> queue_;
  bool accepting_ = true;  // submit() queues requests
  bool stopping_ = false;  // workers run what is queued without waiting, then exit

  // Taken after mu_ where both are held (submit), never the other way round.
  mutable std::mutex stats_mu_;
  BatcherStats counts_;  // the counters; the latency fields are filled by stats()
  SampleWindow wait_, run_, request_;
};

Result<std::unique_ptr<BatcherImpl>> BatcherImpl::create(const Engine& engine, const BatcherOptions& options) {
  QUENCH_ASSIGN(BatcherOptions opt, resolve_options(engine, options));
  QUENCH_ASSIGN(BatchSpec spec, BatchSpec::from_engine(engine));
  auto impl = std::make_unique<BatcherImpl>(engine, std::move(opt), std::move(spec));
  // Contexts and staging first, on this thread, so that any failure is returned before a
  // worker starts; a failure after some workers started shuts those down in ~BatcherImpl.
  try {
    for (int i = 0; i < impl->opt_.workers; ++i) QUENCH_TRY(impl->add_worker());
    for (auto& w : impl->workers_)
      impl->threads_.emplace_back([raw = impl.get(), w = w.get()] { raw->worker_loop(*w); });
  } catch (const std::bad_alloc&) {
    return error(StatusCode::kOutOfMemory, "out of host memory creating the batcher");
  } catch (const std::system_error& e) {
    return error(StatusCode::kInternal, "cannot start a batcher worker thread: ", e.what());
  }
  return impl;
}

Status BatcherImpl::add_worker() {
  QUENCH_ASSIGN(Context ctx, engine_.create_context(opt_.context));
  QUENCH_ASSIGN(BatchStaging staging, BatchStaging::make(spec_, opt_.max_batch));
  auto w = std::make_unique<Worker>(Worker{std::move(ctx), std::move(staging)});
  if (opt_.warm_up)
    for (int b = 1; b <= opt_.max_batch; ++b) {
      const std::string where = "batcher warm-up at batch " + std::to_string(b);
      QUENCH_TRY(w->context.run(w->staging.inputs(b), w->staging.outputs(b)).with_context(where));
      QUENCH_TRY(spec_.check_outputs(w->staging.outputs(b), b).with_context(where));
    }
  workers_.push_back(std::move(w));
  return {};
}

std::future<Result<TensorMap>> BatcherImpl::reject(Rejection why, Status st) {
  {
    std::lock_guard<std::mutex> lk(stats_mu_);
    ++counts_.rejected;
    switch (why) {
      case Rejection::kInvalid: ++counts_.invalid_requests; break;
      case Rejection::kQueueFull: ++counts_.queue_full; break;
      case Rejection::kShutDown: ++counts_.after_shutdown; break;
    }
  }
  return ready_future(std::move(st));
}

std::future<Result<TensorMap>> BatcherImpl::submit(TensorMap request) {
  if (Status st = spec_.validate_request(request); !st.ok()) return reject(Rejection::kInvalid, std::move(st));
  Request r;
  r.inputs = std::move(request);
  std::future<Result<TensorMap>> fut = r.promise.get_future();
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (!accepting_) {
      lk.unlock();
      return reject(Rejection::kShutDown,
                    error(StatusCode::kUnavailable, "the batcher is shut down; the request was not queued"));
    }
    if (opt_.max_queue_size > 0 && static_cast<int64_t>(queue_.size()) >= opt_.max_queue_size) {
      lk.unlock();
      return reject(Rejection::kQueueFull, error(StatusCode::kResourceExhausted, "the batcher's queue is full (",
                                                 opt_.max_queue_size, " requests); the request was not queued"));
    }
    r.enqueued = Clock::now();
    queue_.push_back(std::move(r));
    // Counted under mu_, so a worker cannot complete the request before it is counted.
    std::lock_guard<std::mutex> slk(stats_mu_);
    ++counts_.accepted;
  }
  cv_.notify_one();
  return fut;
}

void BatcherImpl::worker_loop(Worker& w) {
  std::vector<Request> batch;
  batch.reserve(static_cast<size_t>(opt_.max_batch));
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      int n = 0;
      while (n == 0) {
        if (queue_.empty()) {
          if (stopping_) return;
          cv_.wait(lk);
          continue;
        }
        const Clock::time_point deadline = queue_.front().enqueued + delay_;
        const bool due = stopping_ || Clock::now() >= deadline;
        n = choose_batch_size(static_cast<int64_t>(queue_.size()), due, opt_.max_batch, opt_.preferred_batch_sizes);
        if (n == 0) cv_.wait_until(lk, deadline);
      }
      for (int i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // Another idle worker starts timing the new oldest request.
      if (!queue_.empty()) cv_.notify_one();
    }
    run_batch(w, batch);
    batch.clear();
  }
}

void BatcherImpl::run_batch(Worker& w, std::vector<Request>& batch) {
  const int b = static_cast<int>(batch.size());
  const Clock::time_point start = Clock::now();
  Clock::duration run_time{};
  std::vector<Result<TensorMap>> results;
  Status st;
  try {
    for (int i = 0; i < b; ++i) w.staging.gather(i, batch[i].inputs);
    const Clock::time_point t0 = Clock::now();
    st = w.context.run(w.staging.inputs(b), w.staging.outputs(b));
    run_time = Clock::now() - t0;
    if (st.ok()) st = spec_.check_outputs(w.staging.outputs(b), b);
    if (st.ok()) {
      results.reserve(static_cast<size_t>(b));
      for (int i = 0; i < b; ++i) results.emplace_back(w.staging.split(b, i));
    }
  } catch (const std::bad_alloc&) {
    st = error(StatusCode::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    st = error(StatusCode::kInternal, "exception: ", e.what());
  }
  if (!st.ok()) st = st.with_context("batcher: batch of " + std::to_string(b) + " requests");
  const Clock::time_point done = Clock::now();
  // Statistics before the futures, so that a caller who sees its result sees it counted.
  {
    std::lock_guard<std::mutex> lk(stats_mu_);
    ++counts_.batches;
    ++counts_.batch_size_histogram[static_cast<size_t>(b)];
    (st.ok() ? counts_.succeeded : counts_.failed) += b;
    run_.add(micros(run_time));
    for (const Request& r : batch) {
      wait_.add(micros(start - r.enqueued));
      request_.add(micros(done - r.enqueued));
    }
  }
  for (int i = 0; i < b; ++i)
    batch[i].promise.set_value(st.ok() ? std::move(results[i]) : Result<TensorMap>(st));
}

void BatcherImpl::shutdown(ShutdownMode mode) {
  std::deque<Request> cancelled;
  {
    std::lock_guard<std::mutex> lk(mu_);
    accepting_ = false;
    stopping_ = true;
    if (mode == ShutdownMode::kCancelQueued) cancelled.swap(queue_);
  }
  cv_.notify_all();
  if (!cancelled.empty()) {
    {
      std::lock_guard<std::mutex> lk(stats_mu_);
      counts_.failed += static_cast<int64_t>(cancelled.size());
    }
    for (Request& r : cancelled)
      r.promise.set_value(error(StatusCode::kUnavailable, "the batcher was shut down before the request ran"));
  }
  // Workers leave only once the queue is empty and nothing more can be queued, so after the
  // join every accepted request has its result.
  std::lock_guard<std::mutex> lk(join_mu_);
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

BatcherStats BatcherImpl::stats() const {
  int64_t queued = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queued = static_cast<int64_t>(queue_.size());
  }
  BatcherStats s;
  std::vector<double> wait, run, request;
  {
    std::lock_guard<std::mutex> lk(stats_mu_);
    s = counts_;
    wait = wait_.samples();
    run = run_.samples();
    request = request_.samples();
  }
  s.queued = queued;
  s.queue_wait_us = summarize_latencies(wait);
  s.run_us = summarize_latencies(run);
  s.request_us = summarize_latencies(request);
  return s;
}

}  // namespace detail

Result<Batcher> Batcher::create(const Engine& engine, const BatcherOptions& options) {
  QUENCH_ASSIGN(auto impl, detail::BatcherImpl::create(engine, options));
  return Batcher(std::move(impl));
}

Batcher::Batcher(std::unique_ptr<detail::BatcherImpl> impl) : impl_(std::move(impl)) {}
Batcher::Batcher(Batcher&&) noexcept = default;
Batcher& Batcher::operator=(Batcher&&) noexcept = default;  // the replaced impl drains as it goes
Batcher::~Batcher() = default;

std::future<Result<TensorMap>> Batcher::submit(TensorMap request) {
  if (!impl_) return detail::ready_future(error(StatusCode::kUnavailable, "the batcher was moved from"));
  return impl_->submit(std::move(request));
}

void Batcher::shutdown(ShutdownMode mode) {
  if (impl_) impl_->shutdown(mode);
}

BatcherStats Batcher::stats() const { return impl_ ? impl_->stats() : BatcherStats{}; }

const BatcherOptions& Batcher::options() const {
  static const BatcherOptions kMovedFrom;
  return impl_ ? impl_->options() : kMovedFrom;
}

}  // namespace quench
