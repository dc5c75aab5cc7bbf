// Spreading a plan's steps over several streams: independent branches (a ResNet block's shortcut
// beside its main path, a detector's heads) may run at the same time. Pure host arithmetic over
// the step dependency graph, so that CPU tests check it; the CUDA backend turns it into streams
// and events (engine/cuda/cuda_executor.cpp), and the memory plan keeps apart the tensors of steps
// that may overlap (engine/cuda/device_plan.cpp).
//
// Model: the run starts on stream 0 (copies in), each step runs on one stream after the step
// before it on that stream, after every step in its `waits` (an event recorded after that step),
// and after the inputs when it is the first step of a stream other than 0; the run ends on
// stream 0 after every other stream's last step (copies out). "a happens before b" means that
// chain of orders puts a's completion before b's start.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace quench {

struct StreamSchedule {
  int streams = 1;
  std::vector<int> stream_of;           // per step: 0 .. streams - 1
  std::vector<std::vector<int>> waits;  // per step: earlier steps on other streams, one event each
  std::vector<bool> recorded;           // per step: some later step (or the join) waits on it
  std::vector<int> joins;               // the last step of each stream other than 0

  int steps() const { return static_cast<int>(stream_of.size()); }
  // Whether step a's completion comes before step b starts (false for a == b).
  bool happens_before(int a, int b) const;
  // Whether every step in `accesses` (the steps touching one tensor) has completed before `step`
  // starts, so that `step` may write the tensor's bytes. -1 stands for the copies in (before
  // every step), steps() for the copies out (after every step).
  bool all_before(std::span<const int> accesses, int step) const;

  // before_[b] holds the steps that happen before b, one bit each.
  std::vector<std::vector<uint64_t>> before_;
};

// deps[i]: the earlier steps whose outputs step i reads (indices < i; order and repeats do not
// matter). At most max_streams streams (>= 1); a chain stays on stream 0. Greedy in step order:
// a step continues the stream of one of its dependencies when that dependency is the stream's
// latest step (stream 0 first), else takes a stream whose work all happens before it, else a new
// stream, else the stream that has been idle longest (correct, only less parallel). Waits are
// the dependencies on other streams not already ordered before the step.
StreamSchedule schedule_streams(std::span<const std::vector<int>> deps, int max_streams);

}  // namespace quench
