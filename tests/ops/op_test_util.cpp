#include "tests/ops/op_test_util.h"

#include "engine/cpu_executor.h"
#include "engine/ir/graph.h"
#include "engine/shape_inference.h"

namespace quench::testing {

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

}  // namespace quench::testing
