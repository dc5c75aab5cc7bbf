// The execution plan: the ordered steps of a shape-inferred graph with every tensor's place
// in one arena. Backends execute the plan, not the graph, so a planning mistake shows up as
// a wrong answer on every machine (the CPU reference runs through it too).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "engine/memory_planner.h"

namespace quench {

struct PlannedValue {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  int64_t bytes = 0;
  const Tensor* constant = nullptr;  // weights and folded values live outside the arena
  int64_t offset = -1;               // arena offset of everything else
  bool graph_input = false;
  bool graph_output = false;
};

struct PlannedStep {
  const ir::Node* node = nullptr;
  std::vector<int> inputs, outputs;  // indices into values; -1 for an omitted optional one
  int64_t workspace_offset = -1;
  int64_t workspace_bytes = 0;
  // A Concat whose inputs were written straight into its output: nothing to run.
  bool elided = false;
  bool in_place = false;  // output 0 shares input 0's bytes
  std::string impl = "cpu.reference";
};

struct PlanOptions {
  bool in_place = true;         // elementwise outputs over dead inputs
  bool concat_in_place = true;  // Concat inputs placed in slices of the output
  // false: every activation keeps its own bytes for the whole run, so all of them can be read
  // after it (INT8 calibration collects every tensor's values).
  bool reuse_memory = true;
};

struct ExecutionPlan {
  std::shared_ptr<const ir::Graph> graph;
  std::vector<PlannedValue> values;
  std::vector<PlannedStep> steps;
  std::vector<int> inputs, outputs;  // graph inputs / outputs in the model's order
  MemoryPlan memory;
  int64_t weights_bytes = 0;

  int find(std::string_view name) const;  // value index or -1
};

// Lifetimes come from the graph's node order (inputs live from step 0, outputs to the end;
// step i+1 is node i). Graph inputs' and outputs' memory is never reused by another tensor.
Result<ExecutionPlan> make_execution_plan(std::shared_ptr<const ir::Graph> g, const PlanOptions& opt = {});

// Checks a plan that did not come from make_execution_plan (one read from a plan file)
// without re-planning it: every operand matches its node, every op's shape rule gives the
// recorded shapes, every tensor and workspace lies in the arena, and no two live tensors
// overlap (verify_plan on the recorded decisions). Errors are kInternal, naming what differs.
Status check_execution_plan(const ExecutionPlan& p);

}  // namespace quench
