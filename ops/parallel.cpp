#include "ops/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace quench::ops {
namespace {

thread_local bool t_inside_loop = false;

class Pool {
 public:
  ~Pool() { stop(); }

  void run(int64_t n, int64_t grain, detail::ChunkFn fn, void* ctx) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    const int threads = wanted_.load();
    const int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t{threads} * 4);
    if (!busy.owns_lock() || threads <= 1 || chunks <= 1 || t_inside_loop) {
      fn(ctx, 0, n);
      return;
    }
    ensure_workers(threads - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn; ctx_ = ctx; n_ = n; chunks_ = chunks;
      next_.store(0); done_ = 0; ++generation_;
    }
    cv_.notify_all();
    work(fn, ctx, n, chunks);  // the caller takes chunks too
    std::unique_lock<std::mutex> lk(mu_);
    fn_ = nullptr;  // no worker joins from here on
    // Wait for every joined worker to leave, so none can touch the next loop's counter.
    done_cv_.wait(lk, [&] { return done_ == chunks_ && active_ == 0; });
  }

  void set_threads(int n) { wanted_.store(std::max(1, n)); }
  int threads() const { return wanted_.load(); }

 private:
  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count)
      workers_.emplace_back([this] { worker_loop(); });
  }

  // Runs chunks of the current loop until none is left; returns how many it ran.
  int64_t work(detail::ChunkFn fn, void* ctx, int64_t n, int64_t chunks) {
    t_inside_loop = true;
    int64_t finished = 0;
    for (;;) {
      const int64_t c = next_.fetch_add(1);
      if (c >= chunks) break;
      const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      if (begin < end) fn(ctx, begin, end);
      ++finished;
    }
    t_inside_loop = false;
    std::lock_guard<std::mutex> lk(mu_);
    done_ += finished;
    done_cv_.notify_all();
    return finished;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      detail::ChunkFn fn;
      void* ctx;
      int64_t n, chunks;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || (generation_ != seen && fn_ != nullptr); });
        if (stopping_) return;
        seen = generation_;
        fn = fn_; ctx = ctx_; n = n_; chunks = chunks_;
        ++active_;
      }
      work(fn, ctx, n, chunks);
      std::lock_guard<std::mutex> lk(mu_);
      --active_;
      done_cv_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  std::mutex busy_;  // one loop at a time; a second caller runs inline
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  std::atomic<int> wanted_{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  detail::ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, done_ = 0;
  int active_ = 0;  // workers inside the current loop
  std::atomic<int64_t> next_{0};
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

namespace detail {
void parallel_for_impl(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  pool().run(n, std::max<int64_t>(grain, 1), fn, ctx);
}
}  // namespace detail

void set_num_threads(int n) { pool().set_threads(n); }
int num_threads() { return pool().threads(); }

}  // namespace quench::ops
