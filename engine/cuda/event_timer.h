// A fixed set of CUDA events for timing work on a stream: record event i, then read the time
// between two of them once the stream has passed both. Created up front, so that a timed run
// allocates nothing; move-only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "quench/status.h"

namespace quench::cuda {

class EventTimer {
 public:
  static Result<EventTimer> create(size_t events);
  EventTimer() = default;
  ~EventTimer();
  EventTimer(EventTimer&& o) noexcept;
  EventTimer& operator=(EventTimer&& o) noexcept;
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  size_t size() const { return events_.size(); }
  Status record(size_t i, cudaStream_t stream);
  // Seconds from event `from` to event `to`; waits for `to` to complete.
  Result<double> seconds_between(size_t from, size_t to);

 private:
  void destroy();
  std::vector<cudaEvent_t> events_;
};

}  // namespace quench::cuda
