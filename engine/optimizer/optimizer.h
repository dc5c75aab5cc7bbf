// Graph optimizer: rewrites that remove copies and fold BatchNormalization, activations,
// residual adds and whole depthwise-separable / inverted-residual blocks into the fused ops of
// the "quench" domain (ops/fused_conv.cpp, ops/fused_gemm.cpp).
//
// Two entry points, because an engine specializes its graph per batch:
//   optimize_graph           once, on the model graph after ir::validate + ir::bind_schemas and
//                            before specialize_for_batch; activations may still have unknown
//                            dims. Every weight it creates (a folded BatchNormalization) is made
//                            here once and shared by every batch's graph.
//   optimize_inferred_graph  on each batch's graph after specialize_for_batch (static shapes):
//                            the rewrites that need activation shapes (no-op and chained
//                            Reshape-like nodes). It creates no weights, only small int64 shape
//                            constants.
// Both keep the graph's input and output names, leave a graph no pass applies to bit for bit
// unchanged, and end with ir::validate (so a pass that broke the graph fails loudly).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench {

struct OptimizeOptions {
  // The batches and input shapes the graph will be specialized for, as in BuildOptions. Folding
  // a residual Add needs both operands' shapes to match exactly; they are compared after shape
  // inference at batch 1, 2 and max_batch (each at most max_batch), which for shapes affine in
  // the batch, as exported models' are, proves them equal at every batch 1..max_batch.
  int64_t max_batch = 1;
  std::map<std::string, Shape, std::less<>> input_shapes;
  bool fold_batchnorm = true;  // and per-channel Mul / Add after a Conv
  bool fuse_epilogues = true;  // activations and residual adds into Conv / Gemm / MatMul
  bool fuse_blocks = true;     // DwPwConv and InvertedResidual

  static OptimizeOptions from(const BuildOptions& b);
};

// What one pass did: rewrites is 0 when it left the graph unchanged.
struct PassRecord {
  std::string pass;
  int64_t rewrites = 0;
  std::vector<std::string> details;  // one line per rewrite, naming the nodes
};

struct OptimizeReport {
  std::vector<PassRecord> passes;  // in the order they ran (optimize_inferred_graph appends)
  // Every node that absorbed others -> the original (model) node names it stands for, itself
  // first, in graph order of the pattern. A node absent here is an original node unchanged.
  std::map<std::string, std::vector<std::string>, std::less<>> fused;
  int64_t nodes_before = 0, nodes_after = 0;  // optimize_graph's input and output
};

// `report` may be null.
Status optimize_graph(ir::Graph& g, const OptimizeOptions& opt, OptimizeReport* report);
Status optimize_inferred_graph(ir::Graph& g, OptimizeReport* report);

// The graph an optimized engine runs at `batch`: `optimized` (optimize_graph's result, made once
// per engine) specialized as specialize_for_batch does, then optimize_inferred_graph.
Result<std::shared_ptr<const ir::Graph>> specialize_optimized(const ir::Graph& optimized, const BuildOptions& opt,
                                                              int64_t batch, const std::string& source,
                                                              OptimizeReport* report);

}  // namespace quench
