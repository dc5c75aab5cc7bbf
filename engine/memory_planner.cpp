#include "engine/memory_planner.h"

#include <algorithm>
#include <functional>
#include <numeric>

namespace quench {
namespace {

int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// A buffer is what actually gets an offset: one tensor, or several that share memory
// (an in-place chain, or a concat output with its slices).
struct Buffer {
  int64_t bytes = 0;
  int first = 0, last = 0;
  int64_t offset = 0;
};

struct Membership {
  int buffer = -1;
  int64_t offset = 0;  // inside the buffer
};

// Places `buffers` in `order`, each into a gap among the placed buffers whose lifetimes
// overlap its own: the tightest gap that fits, or the lowest one. Returns the arena size.
// `apart[a][b]`, when not empty: buffers a and b may not share bytes whatever their lifetimes.
int64_t place_buffers(const std::vector<Buffer>& buffers, const std::vector<int>& order, int64_t alignment,
                      bool tightest, const std::vector<std::vector<bool>>& apart, std::vector<int64_t>* offsets) {
  offsets->assign(buffers.size(), 0);
  int64_t arena = 0;
  std::vector<int> placed;
  std::vector<std::pair<int64_t, int64_t>> busy;  // [begin, end) of overlapping placed buffers
  for (int bi : order) {
    const Buffer& b = buffers[bi];
    if (b.bytes == 0) continue;
    busy.clear();
    for (int pi : placed) {
      const Buffer& p = buffers[pi];
      const bool clash = (p.first <= b.last && b.first <= p.last) || (!apart.empty() && apart[pi][bi]);
      if (clash) busy.push_back({(*offsets)[pi], (*offsets)[pi] + p.bytes});
    }
    std::sort(busy.begin(), busy.end());
    int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
    for (const auto& [begin, end] : busy) {
      const int64_t start = align_up(cursor, alignment);
      if (begin > start && begin - start >= b.bytes && begin - start < best_gap) {
        best = start;
        best_gap = begin - start;
        if (!tightest) break;  // the lowest gap that fits
      }
      cursor = std::max(cursor, end);
    }
    (*offsets)[bi] = best >= 0 ? best : align_up(cursor, alignment);
    arena = std::max(arena, (*offsets)[bi] + b.bytes);
    placed.push_back(bi);
  }
  return arena;
}

Status check_inputs(std::span<const PlanTensor> ts, int64_t alignment) {
  if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
    return error(StatusCode::kInvalidArgument, "memory planner: alignment ", alignment, " is not a power of two");
  const int n = static_cast<int>(ts.size());
  for (int i = 0; i < n; ++i) {
    const PlanTensor& t = ts[i];
    if (t.bytes < 0) return error(StatusCode::kInvalidArgument, "memory planner: tensor '", t.name, "' has negative size");
    if (t.first_step < 0 || t.first_step > t.last_step)
      return error(StatusCode::kInvalidArgument, "memory planner: tensor '", t.name, "' lives from step ", t.first_step,
                   " to step ", t.last_step);
    if (t.reuse_of >= n || t.slice_of >= n || t.reuse_of == i || t.slice_of == i)
      return error(StatusCode::kInvalidArgument, "memory planner: tensor '", t.name, "' refers to an invalid tensor");
    if (t.slice_of >= 0) {
      const PlanTensor& p = ts[t.slice_of];
      if (t.slice_offset < 0 || t.slice_offset + t.bytes > p.bytes)
        return error(StatusCode::kInvalidArgument, "memory planner: tensor '", t.name, "' at byte ", t.slice_offset,
                     " does not fit inside '", p.name, "' (", p.bytes, " bytes)");
    }
  }
  return {};
}

// Follows slice_of links to the outermost parent, summing offsets; refuses cycles.
Result<std::pair<int, int64_t>> slice_root(std::span<const PlanTensor> ts, int i) {
  int64_t off = 0;
  for (size_t hops = 0; ts[i].slice_of >= 0; ++hops) {
    if (hops > ts.size())
      return error(StatusCode::kInvalidArgument, "memory planner: slices of '", ts[i].name, "' form a cycle");
    off += ts[i].slice_offset;
    i = ts[i].slice_of;
  }
  return std::pair<int, int64_t>{i, off};
}

}  // namespace

Result<MemoryPlan> plan_memory(std::span<const PlanTensor> ts, int64_t alignment,
                               const std::function<bool(int, int)>& concurrent) {
  QUENCH_TRY(check_inputs(ts, alignment));
  const int n = static_cast<int>(ts.size());
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<Membership> member(n);
  std::vector<Buffer> buffers;

  // Concat outputs and their (possibly nested) slices share one buffer per outermost parent.
  std::vector<bool> is_parent(n, false);
  for (int i = 0; i < n; ++i)
    if (ts[i].slice_of >= 0) is_parent[ts[i].slice_of] = true;
  for (int i = 0; i < n; ++i) {
    QUENCH_ASSIGN(auto root, slice_root(ts, i));
    if (root.first != i) continue;
    if (!is_parent[i] && ts[i].reuse_of >= 0) continue;  // decided below, in step order
    member[i] = {static_cast<int>(buffers.size()), 0};
    buffers.push_back({ts[i].bytes, ts[i].first_step, ts[i].last_step, 0});
  }
  for (int i = 0; i < n; ++i) {
    if (ts[i].slice_of < 0) continue;
    QUENCH_ASSIGN(auto root, slice_root(ts, i));
    Buffer& b = buffers[member[root.first].buffer];
    member[i] = {member[root.first].buffer, root.second};
    b.first = std::min(b.first, ts[i].first_step);
    b.last = std::max(b.last, ts[i].last_step);
    ++plan.sliced;
  }

  // In-place reuse, in order of production so chains (a -> b -> c) extend one buffer.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ts[a].first_step < ts[b].first_step; });
  for (int i : order) {
    const PlanTensor& t = ts[i];
    if (t.slice_of >= 0 || is_parent[i] || t.reuse_of < 0) continue;
    const int r = t.reuse_of;
    const int rb = member[r].buffer;
    bool ok = rb >= 0 && ts[r].slice_of < 0 && member[r].offset == 0 &&
              ts[r].first_step < t.first_step && buffers[rb].last == t.first_step &&
              ts[r].last_step == t.first_step && buffers[rb].bytes >= t.bytes;
    if (ok) {
      member[i] = {rb, 0};
      buffers[rb].last = std::max(buffers[rb].last, t.last_step);
      ++plan.reused_in_place;
    } else {
      member[i] = {static_cast<int>(buffers.size()), 0};
      buffers.push_back({t.bytes, t.first_step, t.last_step, 0});
    }
  }

  // Buffers holding tensors that may be in use at once (any pair of members) stay apart.
  std::vector<std::vector<bool>> apart;
  if (concurrent) {
    std::vector<std::vector<int>> members(buffers.size());
    for (int i = 0; i < n; ++i) members[member[i].buffer].push_back(i);
    apart.assign(buffers.size(), std::vector<bool>(buffers.size(), false));
    for (size_t a = 0; a < buffers.size(); ++a)
      for (size_t b = a + 1; b < buffers.size(); ++b)
        for (int x : members[a])
          for (int y : members[b])
            if (!apart[a][b] && concurrent(x, y)) apart[a][b] = apart[b][a] = true;
  }

  // Greedy placement in several orders and two fit rules; the smallest arena wins. No one
  // order is best for every graph: size first suits wide networks, the live set at a buffer's
  // busiest step ("breadth") suits graphs whose peak is made of many mid-sized tensors.
  std::vector<int64_t> live_at(1, 0);
  for (const Buffer& b : buffers) {
    if (static_cast<int>(live_at.size()) <= b.last) live_at.resize(b.last + 1, 0);
    for (int st = b.first; st <= b.last; ++st) live_at[st] += b.bytes;
  }
  std::vector<int64_t> breadth(buffers.size(), 0);
  for (size_t i = 0; i < buffers.size(); ++i)
    for (int st = buffers[i].first; st <= buffers[i].last; ++st) breadth[i] = std::max(breadth[i], live_at[st]);
  auto area = [&](int i) { return buffers[i].bytes * (buffers[i].last - buffers[i].first + 1); };
  using Key = std::function<bool(int, int)>;
  const Key orders[] = {
      [&](int a, int b) { return buffers[a].bytes > buffers[b].bytes; },
      [&](int a, int b) { return breadth[a] != breadth[b] ? breadth[a] > breadth[b] : buffers[a].bytes > buffers[b].bytes; },
      [&](int a, int b) { return area(a) > area(b); },
      [&](int a, int b) { return buffers[a].first < buffers[b].first; },
      [&](int a, int b) { return buffers[a].last - buffers[a].first > buffers[b].last - buffers[b].first; },
  };
  std::vector<int64_t> best_offsets;
  std::vector<int> best_order;
  bool best_tightest = true;
  int64_t best_arena = INT64_MAX;
  auto try_order = [&](const std::vector<int>& order_b, bool tightest) {
    std::vector<int64_t> offsets;
    const int64_t arena = place_buffers(buffers, order_b, alignment, tightest, apart, &offsets);
    if (arena >= best_arena) return false;
    best_arena = arena;
    best_offsets = std::move(offsets);
    best_order = order_b;
    best_tightest = tightest;
    return true;
  };
  for (const Key& key : orders)
    for (bool tightest : {true, false}) {
      std::vector<int> order_b(buffers.size());
      std::iota(order_b.begin(), order_b.end(), 0);
      std::stable_sort(order_b.begin(), order_b.end(), key);
      try_order(order_b, tightest);
    }
  // Local search: a buffer that ends at the top of the arena was placed too late to find a
  // low gap; placing it first often lets the others pack around it. A few rounds suffice.
  for (int round = 0; round < 16 && !buffers.empty(); ++round) {
    std::vector<int> top, rest;
    for (int bi : best_order)
      (buffers[bi].bytes > 0 && best_offsets[bi] + buffers[bi].bytes == best_arena ? top : rest).push_back(bi);
    if (top.empty() || rest.empty()) break;
    top.insert(top.end(), rest.begin(), rest.end());
    if (!try_order(top, best_tightest)) break;
  }
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].offset = best_offsets[i];
  plan.arena_bytes = buffers.empty() ? 0 : best_arena;
  plan.arena_bytes = align_up(plan.arena_bytes, alignment);

  for (int i = 0; i < n; ++i) {
    plan.offsets[i] = buffers[member[i].buffer].offset + member[i].offset;  // every tensor has a buffer by now
    plan.naive_bytes += align_up(ts[i].bytes, alignment);
  }

  // Lower bound over buffers: tensors sharing a buffer by design are one allocation.
  int steps = 0;
  for (const Buffer& b : buffers) steps = std::max(steps, b.last + 1);
  std::vector<int64_t> delta(steps + 1, 0);
  for (const Buffer& b : buffers) {
    delta[b.first] += b.bytes;
    delta[b.last + 1] -= b.bytes;
  }
  int64_t live = 0;
  for (int s = 0; s < steps; ++s) plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, live += delta[s]);
  return plan;
}

Status verify_plan(std::span<const PlanTensor> ts, const MemoryPlan& plan, int64_t alignment) {
  const int n = static_cast<int>(ts.size());
  if (static_cast<int>(plan.offsets.size()) != n)
    return error(StatusCode::kInternal, "memory plan has ", plan.offsets.size(), " offsets for ", n, " tensors");
  auto ancestor = [&](int a, int d) {  // is a an ancestor of d through slice_of?
    for (size_t hops = 0; d >= 0 && hops <= ts.size(); ++hops, d = ts[d].slice_of)
      if (d == a) return true;
    return false;
  };
  for (int i = 0; i < n; ++i) {
    const int64_t off = plan.offsets[i];
    if (ts[i].bytes == 0) continue;
    if (off < 0 || off + ts[i].bytes > plan.arena_bytes)
      return error(StatusCode::kInternal, "tensor '", ts[i].name, "' at ", off, "+", ts[i].bytes, " leaves the arena of ",
                   plan.arena_bytes, " bytes");
    if (ts[i].slice_of < 0 && off % alignment != 0)
      return error(StatusCode::kInternal, "tensor '", ts[i].name, "' at ", off, " is not ", alignment, "-byte aligned");
    if (ts[i].slice_of >= 0 && off != plan.offsets[ts[i].slice_of] + ts[i].slice_offset)
      return error(StatusCode::kInternal, "tensor '", ts[i].name, "' is not at its place inside '", ts[ts[i].slice_of].name, "'");
  }
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const PlanTensor &a = ts[i], &b = ts[j];
      if (a.bytes == 0 || b.bytes == 0) continue;
      if (a.first_step > b.last_step || b.first_step > a.last_step) continue;
      const int64_t a0 = plan.offsets[i], b0 = plan.offsets[j];
      if (a0 + a.bytes <= b0 || b0 + b.bytes <= a0) continue;
      if (ancestor(i, j) || ancestor(j, i)) continue;
      // In place: the reused input dies at the very step that writes its successor.
      auto in_place = [&](int x, int y) {
        return ts[y].reuse_of == x && ts[x].last_step == ts[y].first_step && ts[x].first_step < ts[y].first_step;
      };
      if (in_place(i, j) || in_place(j, i)) continue;
      return error(StatusCode::kInternal, "tensors '", a.name, "' and '", b.name, "' are live together (steps ",
                   std::max(a.first_step, b.first_step), "..", std::min(a.last_step, b.last_step), ") and overlap in memory");
    }
  }
  if (plan.arena_bytes < plan.lower_bound_bytes)
    return error(StatusCode::kInternal, "arena of ", plan.arena_bytes, " bytes is below the lower bound ", plan.lower_bound_bytes);
  return {};
}

}  // namespace quench
