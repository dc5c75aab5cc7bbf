// The stream schedule (engine/stream_schedule.h): which stream each step runs on and which events
// it waits for, checked against an independent reading of the same model, and the memory it lets
// the planner share, checked by simulating every interleaving the orders allow.
#include "engine/stream_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/memory_planner.h"

namespace quench {
namespace {

using Deps = std::vector<std::vector<int>>;

// Reachability from the schedule's edges alone (stream order and waits), by search: the model
// the header describes, computed without the schedule's bitsets.
std::vector<std::vector<bool>> reachability(const StreamSchedule& s) {
  const int n = s.steps();
  std::vector<std::vector<int>> preds(static_cast<size_t>(n));
  std::vector<int> latest(static_cast<size_t>(s.streams), -1);
  for (int i = 0; i < n; ++i) {
    int& l = latest[static_cast<size_t>(s.stream_of[i])];
    if (l >= 0) preds[i].push_back(l);
    l = i;
    for (int w : s.waits[i]) preds[i].push_back(w);
  }
  std::vector<std::vector<bool>> before(static_cast<size_t>(n), std::vector<bool>(static_cast<size_t>(n), false));
  for (int i = 0; i < n; ++i) {
    std::vector<int> stack = preds[i];
    while (!stack.empty()) {
      const int x = stack.back();
      stack.pop_back();
      if (before[i][x]) continue;
      before[i][x] = true;
      for (int y : preds[x]) stack.push_back(y);
    }
  }
  return before;
}

Deps random_dag(std::mt19937& rng, int n, int max_fan_in) {
  Deps d(static_cast<size_t>(n));
  for (int i = 1; i < n; ++i) {
    const int k = std::uniform_int_distribution<int>(0, max_fan_in)(rng);
    for (int j = 0; j < k; ++j) {
      // Mostly recent producers (like a network's layers), sometimes far back (skips).
      const int back = std::uniform_int_distribution<int>(0, 9)(rng) < 7
                           ? std::uniform_int_distribution<int>(1, std::min(i, 3))(rng)
                           : std::uniform_int_distribution<int>(1, i)(rng);
      d[i].push_back(i - back);
    }
  }
  return d;
}

TEST(StreamSchedule, ChainStaysOnOneStreamWithoutEvents) {
  const Deps d = {{}, {0}, {1}, {2}, {3}};
  const StreamSchedule s = schedule_streams(d, 4);
  EXPECT_EQ(s.streams, 1);
  EXPECT_EQ(s.stream_of, (std::vector<int>{0, 0, 0, 0, 0}));
  for (const auto& w : s.waits) EXPECT_TRUE(w.empty());
  EXPECT_TRUE(s.joins.empty());
  EXPECT_TRUE(s.happens_before(0, 4));
  EXPECT_FALSE(s.happens_before(4, 0));
  EXPECT_FALSE(s.happens_before(2, 2));
}

TEST(StreamSchedule, DiamondForksAndJoins) {
  // 0 -> {1, 2} -> 3: the shortcut (2) beside the main path (1).
  const Deps d = {{}, {0}, {0}, {1, 2}};
  const StreamSchedule s = schedule_streams(d, 2);
  EXPECT_EQ(s.streams, 2);
  EXPECT_EQ(s.stream_of, (std::vector<int>{0, 0, 1, 0}));
  EXPECT_EQ(s.waits[2], (std::vector<int>{0}));  // the new stream waits for its producer
  EXPECT_EQ(s.waits[3], (std::vector<int>{2}));  // the join waits for the branch
  EXPECT_TRUE(s.recorded[0] && s.recorded[2]);
  EXPECT_FALSE(s.recorded[1] || s.recorded[3]);
  EXPECT_EQ(s.joins, (std::vector<int>{2}));
  EXPECT_FALSE(s.happens_before(1, 2));
  EXPECT_FALSE(s.happens_before(2, 1));
  EXPECT_TRUE(s.happens_before(2, 3));
  // A tensor written by 0 and read by 1: step 2 may run beside step 1, so it may not take its
  // bytes; step 3 may. The copies in (-1) come before every step, the copies out (4) after.
  const std::vector<int> read_by_1 = {0, 1};
  EXPECT_FALSE(s.all_before(read_by_1, 2)) << "step 2 may still run beside step 1";
  EXPECT_TRUE(s.all_before(read_by_1, 3));
  EXPECT_TRUE(s.all_before(std::vector<int>{-1}, 0));
  EXPECT_TRUE(s.all_before(std::vector<int>{1, 2, 3}, 4));
  EXPECT_FALSE(s.all_before(std::vector<int>{3}, 3));
}

TEST(StreamSchedule, OneStreamIsTheStepOrder) {
  const Deps d = {{}, {0}, {0}, {1, 2}};
  const StreamSchedule s = schedule_streams(d, 1);
  EXPECT_EQ(s.streams, 1);
  for (const auto& w : s.waits) EXPECT_TRUE(w.empty());
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) EXPECT_EQ(s.happens_before(a, b), a < b) << a << " " << b;
  const std::vector<int> acc = {0, 1};
  EXPECT_TRUE(s.all_before(acc, 2));
}

TEST(StreamSchedule, MoreBranchesThanStreamsShareTheIdlestStream) {
  // Three independent chains from the inputs, two streams: the third chain's first step goes to
  // the stream idle longest and orders after its work, correctly if less in parallel.
  const Deps d = {{}, {}, {}, {0}, {1}, {2}};
  const StreamSchedule s = schedule_streams(d, 2);
  EXPECT_EQ(s.streams, 2);
  EXPECT_EQ(s.stream_of[0], 0);
  EXPECT_EQ(s.stream_of[1], 1);
  EXPECT_EQ(s.stream_of[2], 0);  // stream 0's latest (0) is older than stream 1's (1)
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(s.happens_before(i - 3, i));
}

TEST(StreamSchedule, RandomGraphsMatchTheModelAndEveryDependencyIsOrdered) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = std::uniform_int_distribution<int>(1, 60)(rng);
    const Deps d = random_dag(rng, n, 3);
    const int streams = std::uniform_int_distribution<int>(1, 5)(rng);
    const StreamSchedule s = schedule_streams(d, streams);
    SCOPED_TRACE("trial " + std::to_string(trial));
    ASSERT_EQ(s.steps(), n);
    ASSERT_GE(s.streams, 1);
    ASSERT_LE(s.streams, streams);
    const auto before = reachability(s);
    std::vector<int> latest(static_cast<size_t>(s.streams), -1);
    for (int i = 0; i < n; ++i) {
      ASSERT_GE(s.stream_of[i], 0);
      ASSERT_LT(s.stream_of[i], s.streams);
      for (int x : d[i]) ASSERT_TRUE(s.happens_before(x, i)) << x << " before " << i;
      for (int j = 0; j < n; ++j) ASSERT_EQ(s.happens_before(j, i), static_cast<bool>(before[i][j])) << j << "," << i;
      for (int w : s.waits[i]) {
        ASSERT_LT(w, i);
        ASSERT_NE(s.stream_of[w], s.stream_of[i]);
        ASSERT_TRUE(s.recorded[w]);
      }
      latest[static_cast<size_t>(s.stream_of[i])] = i;
    }
    // Every other stream's last step is joined; nothing is joined twice.
    std::vector<int> want(latest.begin() + 1, latest.end());
    ASSERT_EQ(s.joins, want);
  }
}

// The property the CUDA backend relies on: plan memory with the schedule's concurrency (tensors
// whose steps may overlap stay apart), then any two tensors sharing bytes must never be in use at
// once in any execution the orders allow: every access of one happens before the other is written.
TEST(StreamSchedule, PlannedMemoryIsNeverSharedByOverlappingSteps) {
  std::mt19937 rng(11);
  int shared = 0;  // pairs sharing bytes over all trials: the check below is not vacuous
  for (int trial = 0; trial < 200; ++trial) {
    const int n = std::uniform_int_distribution<int>(2, 50)(rng);
    const Deps d = random_dag(rng, n, 3);
    const StreamSchedule s = schedule_streams(d, std::uniform_int_distribution<int>(1, 4)(rng));
    // Tensor i: step i's output, read by the steps that depend on i.
    std::vector<std::vector<int>> acc(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      acc[i].push_back(i);
      for (int x : d[i]) acc[x].push_back(i);
    }
    std::vector<PlanTensor> ts;
    for (int i = 0; i < n; ++i) {
      PlanTensor t;
      t.name = "t" + std::to_string(i);
      t.bytes = std::uniform_int_distribution<int>(1, 8)(rng) * 256;
      t.first_step = i + 1;
      t.last_step = *std::max_element(acc[i].begin(), acc[i].end()) + 1;
      ts.push_back(t);
    }
    auto concurrent = [&](int a, int b) { return !s.all_before(acc[a], b) && !s.all_before(acc[b], a); };
    auto plan = plan_memory(ts, kArenaAlignment, concurrent);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    ASSERT_TRUE(verify_plan(ts, *plan).ok());
    SCOPED_TRACE("trial " + std::to_string(trial));
    for (int a = 0; a < n; ++a)
      for (int b = a + 1; b < n; ++b) {
        const int64_t oa = plan->offsets[a], ob = plan->offsets[b];
        if (oa >= ob + ts[b].bytes || ob >= oa + ts[a].bytes) continue;
        ++shared;
        // b is written by step b > a: every access of a must happen before it.
        for (int x : acc[a]) ASSERT_TRUE(s.happens_before(x, b)) << "t" << a << " (step " << x << ") and t" << b;
      }
  }
  EXPECT_GT(shared, 1000);
}

TEST(StreamSchedule, EmptyPlan) {
  const StreamSchedule s = schedule_streams(Deps{}, 4);
  EXPECT_EQ(s.steps(), 0);
  EXPECT_EQ(s.streams, 1);
  EXPECT_TRUE(s.joins.empty());
  EXPECT_TRUE(s.all_before(std::vector<int>{-1}, 0));
}

}  // namespace
}  // namespace quench
