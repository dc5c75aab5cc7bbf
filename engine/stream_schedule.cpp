#include "engine/stream_schedule.h"

#include <algorithm>

namespace quench {
namespace {

using Bits = std::vector<uint64_t>;

bool test(const Bits& b, int i) { return (b[static_cast<size_t>(i) / 64] >> (i % 64)) & 1; }
void set(Bits& b, int i) { b[static_cast<size_t>(i) / 64] |= uint64_t{1} << (i % 64); }
void merge(Bits& into, const Bits& from) {
  for (size_t w = 0; w < into.size(); ++w) into[w] |= from[w];
}

}  // namespace

bool StreamSchedule::happens_before(int a, int b) const {
  if (a < 0 || b < 0 || a >= steps() || b >= steps()) return false;
  return test(before_[static_cast<size_t>(b)], a);
}

bool StreamSchedule::all_before(std::span<const int> accesses, int step) const {
  for (int a : accesses) {
    const bool ordered = a < step && (a < 0 || step >= steps() || happens_before(a, step));
    if (!ordered) return false;
  }
  return true;
}

StreamSchedule schedule_streams(std::span<const std::vector<int>> deps, int max_streams) {
  const int n = static_cast<int>(deps.size());
  max_streams = std::max(1, max_streams);
  StreamSchedule s;
  s.stream_of.assign(static_cast<size_t>(n), 0);
  s.waits.assign(static_cast<size_t>(n), {});
  s.recorded.assign(static_cast<size_t>(n), false);
  s.before_.assign(static_cast<size_t>(n), Bits(static_cast<size_t>(n + 63) / 64, 0));
  std::vector<int> latest(1, -1);  // per stream: its latest step, -1 while it has none

  for (int i = 0; i < n; ++i) {
    std::vector<int> d;
    for (int x : deps[static_cast<size_t>(i)])
      if (x >= 0 && x < i) d.push_back(x);
    std::sort(d.begin(), d.end(), std::greater<>());
    d.erase(std::unique(d.begin(), d.end()), d.end());
    // What must come before i wherever it runs.
    Bits needed(s.before_[0].size(), 0);
    for (int x : d) {
      merge(needed, s.before_[static_cast<size_t>(x)]);
      set(needed, x);
    }
    // A stream whose latest step is already needed adds no false ordering; one whose latest step
    // is a direct dependency also saves that dependency's event.
    int pick = -1;
    bool pick_direct = false;
    for (int t = 0; t < static_cast<int>(latest.size()); ++t) {
      const int l = latest[static_cast<size_t>(t)];
      if (l >= 0 && !test(needed, l)) continue;
      const bool direct = l >= 0 && std::find(d.begin(), d.end(), l) != d.end();
      if (pick < 0 || (direct && !pick_direct)) {
        pick = t;
        pick_direct = direct;
      }
    }
    if (pick < 0 && static_cast<int>(latest.size()) < max_streams) {
      pick = static_cast<int>(latest.size());
      latest.push_back(-1);
    }
    if (pick < 0) {  // every stream busy with unrelated work: the one idle longest
      pick = 0;
      for (int t = 1; t < static_cast<int>(latest.size()); ++t)
        if (latest[static_cast<size_t>(t)] < latest[static_cast<size_t>(pick)]) pick = t;
    }

    Bits& before = s.before_[static_cast<size_t>(i)];
    const int prev = latest[static_cast<size_t>(pick)];
    if (prev >= 0) {
      before = s.before_[static_cast<size_t>(prev)];
      set(before, prev);
    }
    for (int x : d) {  // latest first: its wait may already order the earlier ones
      if (test(before, x)) continue;
      s.waits[static_cast<size_t>(i)].push_back(x);
      s.recorded[static_cast<size_t>(x)] = true;
      merge(before, s.before_[static_cast<size_t>(x)]);
      set(before, x);
    }
    s.stream_of[static_cast<size_t>(i)] = pick;
    latest[static_cast<size_t>(pick)] = i;
  }
  s.streams = static_cast<int>(latest.size());
  for (int t = 1; t < s.streams; ++t) {
    const int l = latest[static_cast<size_t>(t)];
    s.joins.push_back(l);
    s.recorded[static_cast<size_t>(l)] = true;
  }
  return s;
}

}  // namespace quench
