// Hand-built graphs for the optimizer tests: a small builder, a run on the CPU reference at a
// batch (as an engine specializes it), and a fingerprint that shows any change to a graph.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/batch_graph.h"
#include "engine/cpu_executor.h"
#include "engine/ir/graph.h"
#include "engine/optimizer/optimizer.h"
#include "tests/ops/op_test_util.h"

namespace quench::testing {

class GraphBuilder {
 public:
  GraphBuilder() { g_.opsets[""] = 17; }
  GraphBuilder& input(const std::string& name, Shape shape, DType t = DType::kF32) {
    ir::Value& v = g_.get_or_add(name);
    v.dtype = t;
    v.shape = std::move(shape);
    v.has_shape = true;
    g_.inputs.push_back(name);
    return *this;
  }
  GraphBuilder& constant(const std::string& name, Tensor t) {
    ir::Value& v = g_.get_or_add(name);
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.has_shape = true;
    v.constant = std::move(t);
    return *this;
  }
  // A node; attributes as (name, Attribute) pairs.
  GraphBuilder& node(const std::string& name, const std::string& op, std::vector<std::string> in,
                     std::vector<std::string> out, std::vector<std::pair<std::string, ops::Attribute>> attrs = {}) {
    ir::Node n = testing::node(name, op, std::move(in), std::move(out));
    for (auto& [k, a] : attrs) n.attrs.set(k, std::move(a));
    g_.nodes.push_back(std::move(n));
    return *this;
  }
  // The last node's domain (the fused ops live in "quench").
  GraphBuilder& domain(const std::string& d) {
    g_.nodes.back().domain = d;
    return *this;
  }
  GraphBuilder& output(const std::string& name) {
    g_.outputs.push_back(name);
    return *this;
  }
  // Validated and schema-bound, as ModelImpl::make leaves a model graph.
  ir::Graph build() {
    ir::Graph g = g_;
    Status st = ir::validate(g);
    EXPECT_TRUE(st.ok()) << st.to_string();
    st = ir::bind_schemas(g);
    EXPECT_TRUE(st.ok()) << st.to_string();
    return g;
  }

 private:
  ir::Graph g_;
};

// The graph's every node, value (constants by their bytes) and interface, as text: equal
// fingerprints mean an unchanged graph.
inline std::string fingerprint(const ir::Graph& g) {
  std::ostringstream os;
  os << "inputs";
  for (const auto& i : g.inputs) os << ' ' << i;
  os << "\noutputs";
  for (const auto& o : g.outputs) os << ' ' << o;
  os << '\n';
  for (const ir::Node& n : g.nodes) {
    os << n.name << ' ' << n.domain << '.' << n.op_type << ' ' << n.opset << " (";
    for (const auto& i : n.inputs) os << i << ',';
    os << ") -> (";
    for (const auto& o : n.outputs) os << o << ',';
    os << ")";
    for (const auto& [k, a] : n.attrs.all()) {
      os << ' ' << k << '=' << static_cast<int>(a.kind) << ':' << a.i << ':' << a.f << ':' << a.s << ':';
      for (auto v : a.ints) os << v << ',';
    }
    os << '\n';
  }
  for (const auto& [name, v] : g.values) {
    os << name << ' ' << static_cast<int>(v.dtype) << ' ' << shape_str(v.shape) << ' ' << v.has_shape;
    if (v.is_constant()) {
      os << " const " << dtype_name(v.constant.dtype()) << shape_str(v.constant.shape()) << ' ';
      const auto* b = static_cast<const unsigned char*>(v.constant.data());
      for (size_t i = 0; i < v.constant.bytes(); ++i) os << static_cast<int>(b[i]) << ',';
    }
    os << '\n';
  }
  return os.str();
}

// Runs `g` (a model graph, optimized or not) at `batch` as an engine would: specialized, then
// the post-inference passes when `optimized`.
inline Result<TensorMap> run_graph(const ir::Graph& g, const TensorMap& inputs, int64_t batch = 1,
                                   bool optimized = false, int max_batch = 1) {
  BuildOptions bo;
  bo.max_batch = max_batch;
  std::shared_ptr<const ir::Graph> sg;
  if (optimized) {
    QUENCH_ASSIGN(sg, specialize_optimized(g, bo, batch, "test", nullptr));
  } else {
    QUENCH_ASSIGN(sg, specialize_for_batch(g, bo, batch, "test"));
  }
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(sg));
  TensorMap out;
  QUENCH_TRY(ex->run(inputs, out));
  return out;
}

// ||a - b|| / ||b||, in double.
inline double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double x = a.value_as_double(i), y = b.value_as_double(i);
    num += (x - y) * (x - y);
    den += y * y;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Largest |a - b| / (1 + |b|) over elements.
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double x = a.value_as_double(i), y = b.value_as_double(i);
    m = std::max(m, std::fabs(x - y) / (1.0 + std::fabs(y)));
  }
  return m;
}

inline Tensor random_f64(Shape shape, uint32_t seed) {
  Tensor f = f32_random(shape, seed);
  Tensor d = Tensor::zeros(DType::kF64, shape);
  for (int64_t i = 0; i < f.numel(); ++i) d.mutable_data_as<double>()[i] = f.value_as_double(i);
  return d;
}

// Positive values in [lo, hi) (BatchNormalization variances, scales).
inline Tensor positive_f32(Shape shape, uint32_t seed, float lo = 0.5f, float hi = 1.5f) {
  Tensor t = f32_random(shape, seed);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float& v = t.mutable_data_as<float>()[i];
    v = lo + (v + 1.0f) * 0.5f * (hi - lo);
  }
  return t;
}

// How many nodes of `op_type` the graph has.
inline int count_ops(const ir::Graph& g, const std::string& op_type) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op_type;
  return n;
}

}  // namespace quench::testing
