#include "tests/ops/op_test_util.h"

#include <cmath>

#include "engine/cpu_executor.h"
#include "engine/ir/graph.h"
#include "engine/shape_inference.h"
#include "ops/op_util.h"

namespace quench::testing {

ir::Node node(std::string name, std::string op, std::vector<std::string> in, std::vector<std::string> out) {
  ir::Node n;
  n.name = std::move(name);
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}


Result<std::vector<Tensor>> run_op(const OpRun& r) {
  auto g = std::make_shared<ir::Graph>();
  g->opsets[""] = r.opset;
  ir::Node n;
  n.name = "node0";
  n.op_type = r.op_type;
  n.attrs = r.attrs;
  TensorMap feeds;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const OpInput& in = r.inputs[i];
    if (!in.value.defined()) { n.inputs.push_back(""); continue; }
    std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    ir::Value& v = g->get_or_add(name);
    if (in.constant) {
      v.constant = in.value;
    } else {
      v.dtype = in.value.dtype();
      v.shape = in.value.shape();
      v.has_shape = true;
      g->inputs.push_back(name);
      feeds[name] = in.value;
    }
  }
  for (int i = 0; i < r.outputs; ++i) {
    n.outputs.push_back("out" + std::to_string(i));
    g->outputs.push_back(n.outputs.back());
  }
  g->nodes.push_back(std::move(n));
  QUENCH_TRY(ir::validate(*g));
  QUENCH_TRY(ir::bind_schemas(*g));
  QUENCH_TRY(infer_shapes(*g, {}));
  // As build() does: a node whose inputs are all constant was evaluated by infer_shapes (which
  // runs its CPU reference) and leaves the graph, its output now a constant.
  remove_folded_nodes(*g);
  QUENCH_ASSIGN(auto ex, CpuExecutor::create(g));
  TensorMap outs;
  QUENCH_TRY(ex->run(feeds, outs));
  std::vector<Tensor> result;
  for (const auto& name : g->outputs) result.push_back(outs[name]);
  return result;
}

ops::Attribute attr_int(int64_t v) { ops::Attribute a; a.kind = ops::Attribute::Kind::kInt; a.i = v; return a; }
ops::Attribute attr_float(float v) { ops::Attribute a; a.kind = ops::Attribute::Kind::kFloat; a.f = v; return a; }
ops::Attribute attr_string(std::string v) { ops::Attribute a; a.kind = ops::Attribute::Kind::kString; a.s = std::move(v); return a; }
ops::Attribute attr_ints(std::vector<int64_t> v) { ops::Attribute a; a.kind = ops::Attribute::Kind::kInts; a.ints = std::move(v); return a; }
ops::Attribute attr_floats(std::vector<float> v) { ops::Attribute a; a.kind = ops::Attribute::Kind::kFloats; a.floats = std::move(v); return a; }
ops::Attribute attr_tensor(Tensor t) { ops::Attribute a; a.kind = ops::Attribute::Kind::kTensor; a.t = std::move(t); return a; }

Tensor f32(Shape shape, std::vector<float> values) { return Tensor::from_values(DType::kF32, std::move(shape), values); }
Tensor i64(Shape shape, std::vector<int64_t> values) { return Tensor::from_values(DType::kI64, std::move(shape), values); }

std::vector<float> values_f32(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t.value_as_double(static_cast<int64_t>(i)));
  return v;
}
std::vector<int64_t> values_i64(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.value_as_int64(static_cast<int64_t>(i));
  return v;
}

OpRun make_run(std::string op_type, std::vector<OpInput> inputs, int64_t opset) {
  OpRun r;
  r.op_type = std::move(op_type);
  r.inputs = std::move(inputs);
  r.opset = opset;
  return r;
}

OpInput constant(Tensor t) {
  OpInput in;
  in.value = std::move(t);
  in.constant = true;
  return in;
}

Tensor i32(Shape shape, std::vector<int32_t> values) { return Tensor::from_values(DType::kI32, std::move(shape), values); }
Tensor u8(Shape shape, std::vector<uint8_t> values) { return Tensor::from_values(DType::kU8, std::move(shape), values); }
Tensor boolean(Shape shape, std::vector<uint8_t> values) { return Tensor::from_values(DType::kBool, std::move(shape), values); }
Tensor f64(Shape shape, std::vector<double> values) { return Tensor::from_values(DType::kF64, std::move(shape), values); }

std::vector<double> values_f64(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.value_as_double(static_cast<int64_t>(i));
  return v;
}

Tensor f32_random(Shape shape, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
  float* p = t.mutable_data_as<float>();
  uint32_t state = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < t.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    p[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return t;
}

::testing::AssertionResult all_near(const std::vector<float>& got, const std::vector<float>& want, double atol,
                                    double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "got " << got.size() << " values, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = atol + rtol * std::fabs(static_cast<double>(want[i]));
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol))
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << ", want " << want[i]
                                           << " (tolerance " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

Tensor typed(DType dtype, Shape shape, std::vector<double> values) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  auto* p = static_cast<std::byte*>(t.mutable_data());
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i)
    ops::store_value_as(values[i], dtype, p + i * dtype_size(dtype));
  return t;
}

Tensor bits16(DType dtype, Shape shape, std::vector<uint16_t> bits) {
  return Tensor::from_values(dtype, std::move(shape), bits);
}

std::vector<uint16_t> values_bits16(const Tensor& t) {
  std::vector<uint16_t> v;
  if (dtype_size(t.dtype()) != 2) return v;
  const auto* p = static_cast<const uint16_t*>(t.data());
  v.assign(p, p + t.numel());
  return v;
}

std::vector<Tensor> ok_run(const OpRun& r) {
  auto out = run_op(r);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : std::vector<Tensor>(1);
}

void expect_error_naming_node(const OpRun& r, StatusCode code) {
  auto out = run_op(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), code) << out.status().to_string();
  EXPECT_NE(out.status().message().find(r.op_type + " node 'node0'"), std::string::npos) << out.status().message();
}

}  // namespace quench::testing
