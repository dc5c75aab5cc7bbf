#include "engine/cuda/event_timer.h"

#include <utility>

#include "engine/cuda/device_memory.h"

namespace quench::cuda {

Result<EventTimer> EventTimer::create(size_t events) {
  EventTimer t;
  t.events_.reserve(events);
  for (size_t i = 0; i < events; ++i) {
    cudaEvent_t e = nullptr;
    QUENCH_TRY(check(cudaEventCreate(&e), "cudaEventCreate"));
    t.events_.push_back(e);
  }
  return t;
}

EventTimer::~EventTimer() { destroy(); }

EventTimer::EventTimer(EventTimer&& o) noexcept : events_(std::exchange(o.events_, {})) {}

EventTimer& EventTimer::operator=(EventTimer&& o) noexcept {
  if (this != &o) {
    destroy();
    events_ = std::exchange(o.events_, {});
  }
  return *this;
}

void EventTimer::destroy() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);  // teardown: nothing to report a failure to
  events_.clear();
}

Status EventTimer::record(size_t i, cudaStream_t stream) {
  if (i >= events_.size()) return error(StatusCode::kInternal, "event ", i, " of ", events_.size());
  return check(cudaEventRecord(events_[i], stream), "cudaEventRecord");
}

Result<double> EventTimer::seconds_between(size_t from, size_t to) {
  if (from >= events_.size() || to >= events_.size())
    return error(StatusCode::kInternal, "events ", from, " and ", to, " of ", events_.size());
  QUENCH_TRY(check(cudaEventSynchronize(events_[to]), "cudaEventSynchronize"));
  float ms = 0;
  QUENCH_TRY(check(cudaEventElapsedTime(&ms, events_[from], events_[to]), "cudaEventElapsedTime"));
  return static_cast<double>(ms) * 1e-3;
}

}  // namespace quench::cuda
