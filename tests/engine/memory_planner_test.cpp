#include "engine/memory_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace quench {
namespace {

PlanTensor t(std::string name, int64_t bytes, int first, int last) {
  PlanTensor p;
  p.name = std::move(name);
  p.bytes = bytes;
  p.first_step = first;
  p.last_step = last;
  return p;
}

TEST(MemoryPlanner, ChainReusesMemoryOfDeadTensors) {
  // a -> b -> c -> d, each read only by the next step: two buffers suffice.
  std::vector<PlanTensor> ts = {t("a", 1000, 0, 1), t("b", 1000, 1, 2), t("c", 1000, 2, 3), t("d", 1000, 3, 4)};
  auto plan = plan_memory(ts);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->lower_bound_bytes, 2000);
  EXPECT_EQ(plan->arena_bytes, 2 * 1024);  // two 256-aligned slots
  EXPECT_EQ(plan->naive_bytes, 4 * 1024);
  EXPECT_EQ(plan->offsets[0], plan->offsets[2]);
  EXPECT_NE(plan->offsets[0], plan->offsets[1]);
  EXPECT_TRUE(verify_plan(ts, *plan).ok());
}

TEST(MemoryPlanner, InPlaceTakesTheInputsBuffer) {
  std::vector<PlanTensor> ts = {t("x", 4096, 0, 1), t("relu", 4096, 1, 2), t("y", 4096, 2, 3)};
  ts[1].reuse_of = 0;
  ts[2].reuse_of = 1;
  auto plan = plan_memory(ts);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->reused_in_place, 2);
  EXPECT_EQ(plan->offsets[0], plan->offsets[1]);
  EXPECT_EQ(plan->offsets[1], plan->offsets[2]);
  EXPECT_EQ(plan->arena_bytes, 4096);
  EXPECT_EQ(plan->lower_bound_bytes, 4096);
  EXPECT_TRUE(verify_plan(ts, *plan).ok());
}

TEST(MemoryPlanner, InPlaceRefusedWhileTheInputIsStillRead) {
  std::vector<PlanTensor> ts = {t("x", 4096, 0, 3), t("relu", 4096, 1, 2)};
  ts[1].reuse_of = 0;  // x is read again at step 3
  auto plan = plan_memory(ts);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->reused_in_place, 0);
  EXPECT_NE(plan->offsets[0], plan->offsets[1]);
  EXPECT_TRUE(verify_plan(ts, *plan).ok());
}

TEST(MemoryPlanner, ConcatInputsLiveInsideTheOutput) {
  std::vector<PlanTensor> ts = {t("a", 512, 0, 2), t("b", 768, 1, 2), t("cat", 1280, 2, 3)};
  ts[0].slice_of = 2;
  ts[0].slice_offset = 0;
  ts[1].slice_of = 2;
  ts[1].slice_offset = 512;
  auto plan = plan_memory(ts);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->sliced, 2);
  EXPECT_EQ(plan->offsets[0], plan->offsets[2]);
  EXPECT_EQ(plan->offsets[1], plan->offsets[2] + 512);
  EXPECT_EQ(plan->arena_bytes, 1280);
  EXPECT_TRUE(verify_plan(ts, *plan).ok());
}

TEST(MemoryPlanner, RejectsInconsistentInput) {
  std::vector<PlanTensor> bad = {t("x", 16, 3, 1)};
  auto r = plan_memory(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos);
  std::vector<PlanTensor> outside = {t("p", 100, 0, 1), t("c", 64, 0, 1)};
  outside[1].slice_of = 0;
  outside[1].slice_offset = 50;
  EXPECT_FALSE(plan_memory(outside).ok());
  std::vector<PlanTensor> cyc = {t("a", 8, 0, 1), t("b", 8, 0, 1)};
  cyc[0].slice_of = 1;
  cyc[1].slice_of = 0;
  EXPECT_FALSE(plan_memory(cyc).ok());
}

TEST(MemoryPlanner, VerifierCatchesOverlap) {
  std::vector<PlanTensor> ts = {t("a", 1000, 0, 2), t("b", 1000, 1, 3)};
  auto plan = plan_memory(ts);
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(verify_plan(ts, *plan).ok());
  MemoryPlan broken = *plan;
  broken.offsets[1] = broken.offsets[0];
  Status st = verify_plan(ts, broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("overlap"), std::string::npos);
  broken = *plan;
  broken.offsets[1] = 100;  // not aligned
  EXPECT_FALSE(verify_plan(ts, broken).ok());
}

// Random DAGs in execution order: fan-out, elementwise ops that may run in place, concats
// whose inputs may live in their output. Each case must verify and respect the bounds.
std::vector<PlanTensor> random_dag(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> nsteps(1, 60);
  const int steps = nsteps(rng);
  std::vector<PlanTensor> ts;
  std::vector<int> readers_last;  // per tensor, last reading step so far
  auto size = [&] { return std::uniform_int_distribution<int64_t>(0, 3)(rng) == 0
                               ? std::uniform_int_distribution<int64_t>(1, 300)(rng)
                               : std::uniform_int_distribution<int64_t>(1, 1 << 20)(rng); };
  const int graph_inputs = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < graph_inputs; ++i) ts.push_back(t("in" + std::to_string(i), size(), 0, 0));
  std::vector<bool> sliced(ts.size(), false);
  for (int s = 1; s <= steps; ++s) {
    const int kind = std::uniform_int_distribution<int>(0, 2)(rng);  // 0 generic, 1 elementwise, 2 concat
    const int ninputs = kind == 1 ? 1 : std::uniform_int_distribution<int>(1, std::min<int>(4, ts.size()))(rng);
    std::vector<int> ins;
    for (int k = 0; k < ninputs; ++k) {
      // Mostly recent tensors, sometimes far back (long skip connections).
      int lo = std::uniform_int_distribution<int>(0, 4)(rng) == 0 ? 0 : std::max<int>(0, ts.size() - 5);
      int in = std::uniform_int_distribution<int>(lo, ts.size() - 1)(rng);
      if (std::find(ins.begin(), ins.end(), in) == ins.end()) ins.push_back(in);
    }
    for (int in : ins) ts[in].last_step = std::max(ts[in].last_step, s);
    const int outs = kind == 0 ? std::uniform_int_distribution<int>(1, 2)(rng) : 1;
    for (int o = 0; o < outs; ++o) {
      PlanTensor out = t("n" + std::to_string(s) + "_" + std::to_string(o), size(), s, s);
      if (kind == 1) {
        out.bytes = ts[ins[0]].bytes;
        out.reuse_of = ins[0];
      }
      ts.push_back(out);
      sliced.push_back(false);
    }
    if (kind == 2) {
      const int out = static_cast<int>(ts.size()) - 1;
      int64_t off = 0;
      for (int in : ins) {
        if (sliced[in] || ts[in].first_step == 0) continue;  // graph inputs stay where the caller put them
        ts[in].slice_of = out;
        ts[in].slice_offset = off;
        sliced[in] = true;
        off += ts[in].bytes;
      }
      ts[out].bytes = std::max<int64_t>(off, ts[out].bytes);
    }
  }
  // The last few tensors are graph outputs: live to the end.
  for (size_t i = ts.size() - std::min<size_t>(2, ts.size()); i < ts.size(); ++i) ts[i].last_step = steps + 1;
  return ts;
}

TEST(MemoryPlanner, RandomDagsNeverOverlap) {
  std::mt19937_64 rng(20261123);
  int64_t reused = 0, sliced = 0;
  for (int c = 0; c < 3000; ++c) {
    auto ts = random_dag(rng);
    auto plan = plan_memory(ts);
    ASSERT_TRUE(plan.ok()) << "case " << c << ": " << plan.status().message();
    Status st = verify_plan(ts, *plan);
    ASSERT_TRUE(st.ok()) << "case " << c << ": " << st.message();
    ASSERT_GE(plan->arena_bytes, plan->lower_bound_bytes) << "case " << c;
    ASSERT_LE(plan->arena_bytes, plan->naive_bytes) << "case " << c;
    for (int64_t off : plan->offsets) ASSERT_GE(off, 0);
    reused += plan->reused_in_place;
    sliced += plan->sliced;
  }
  // The generator must actually exercise both sharing mechanisms.
  EXPECT_GT(reused, 1000);
  EXPECT_GT(sliced, 1000);
}

}  // namespace
}  // namespace quench
