// Writes a plan file; the layout is described in qplan.h.
#include <cstdio>
#include <map>
#include <tuple>

#include "loaders/qplan/byte_io.h"
#include "loaders/qplan/qplan.h"

namespace quench::loaders {
namespace {

constexpr size_t kTensorAlignment = 64;
constexpr size_t kWeightsAlignment = 256;

// Every constant tensor once: copies of a Tensor share bytes, so the per-batch graphs'
// weights collapse to one entry each.
class TensorTable {
 public:
  int64_t add(const Tensor& t) {
    const Key key{t.data(), t.dtype(), t.shape()};
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    const int64_t id = static_cast<int64_t>(tensors_.size());
    index_[key] = id;
    tensors_.push_back(t);
    return id;
  }
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  using Key = std::tuple<const void*, DType, Shape>;
  std::map<Key, int64_t> index_;
  std::vector<Tensor> tensors_;
};

Status check_storable(const Tensor& t, const std::string& what) {
  if (dtype_size(t.dtype()) == 0)
    return error(StatusCode::kUnsupported, what, " has element type ", dtype_name(t.dtype()),
                 ", which a plan file cannot hold");
  return {};
}

Status write_attribute(ByteWriter& w, TensorTable& table, const ir::Node& n, const std::string& name,
                       const ops::Attribute& a) {
  using K = ops::Attribute::Kind;
  w.str(name);
  w.u32(static_cast<uint32_t>(a.kind));
  switch (a.kind) {
    case K::kFloat: w.f32(a.f); return {};
    case K::kInt: w.i64(a.i); return {};
    case K::kString: w.str(a.s); return {};
    case K::kTensor:
      QUENCH_TRY(check_storable(a.t, n.where() + " attribute '" + name + "'"));
      w.i64(table.add(a.t));
      return {};
    case K::kFloats:
      w.u32(static_cast<uint32_t>(a.floats.size()));
      for (float f : a.floats) w.f32(f);
      return {};
    case K::kInts:
      w.u32(static_cast<uint32_t>(a.ints.size()));
      for (int64_t i : a.ints) w.i64(i);
      return {};
    case K::kStrings: w.strings(a.strings); return {};
    case K::kTensors:
      w.u32(static_cast<uint32_t>(a.tensors.size()));
      for (const Tensor& t : a.tensors) {
        QUENCH_TRY(check_storable(t, n.where() + " attribute '" + name + "'"));
        w.i64(table.add(t));
      }
      return {};
    default:
      return error(StatusCode::kUnsupported, n.where(), " attribute '", name, "' is of kind ",
                   ops::attribute_kind_name(a.kind), ", which a plan file cannot hold");
  }
}

Status write_graph(ByteWriter& w, TensorTable& table, const ir::Graph& g) {
  w.str(g.name);
  w.u32(static_cast<uint32_t>(g.opsets.size()));
  for (const auto& [domain, version] : g.opsets) {
    w.str(domain);
    w.i64(version);
  }
  w.u32(static_cast<uint32_t>(g.values.size()));
  for (const auto& [name, v] : g.values) {
    w.str(name);
    w.u32(static_cast<uint32_t>(v.dtype));
    w.u8(v.has_shape ? 1 : 0);
    w.shape(v.shape);
    w.strings(v.dim_params);
    if (v.is_constant()) QUENCH_TRY(check_storable(v.constant, "constant '" + name + "'"));
    w.i64(v.is_constant() ? table.add(v.constant) : -1);
  }
  w.u32(static_cast<uint32_t>(g.nodes.size()));
  for (const ir::Node& n : g.nodes) {
    w.str(n.name);
    w.str(n.op_type);
    w.str(n.domain);
    w.i64(n.opset);
    w.u32(static_cast<uint32_t>(n.attrs.size()));
    for (const auto& [name, a] : n.attrs.all()) QUENCH_TRY(write_attribute(w, table, n, name, a));
    w.strings(n.inputs);
    w.strings(n.outputs);
  }
  w.strings(g.inputs);
  w.strings(g.outputs);
  return {};
}

void write_plan(ByteWriter& w, const ExecutionPlan& p) {
  w.u32(static_cast<uint32_t>(p.values.size()));
  for (const PlannedValue& v : p.values) {
    w.str(v.name);
    w.i64(v.offset);
  }
  w.u32(static_cast<uint32_t>(p.steps.size()));
  for (const PlannedStep& s : p.steps) {
    w.i64(s.workspace_offset);
    w.i64(s.workspace_bytes);
    w.u8(s.elided ? 1 : 0);
    w.u8(s.in_place ? 1 : 0);
    w.str(s.impl);
  }
  w.i64(p.memory.arena_bytes);
  w.i64(p.memory.lower_bound_bytes);
  w.i64(p.memory.naive_bytes);
  w.i64(p.memory.reused_in_place);
  w.i64(p.memory.sliced);
}

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, sizeof v); }

}  // namespace

Status write_qplan(const std::string& path, const PlanBundle& bundle) {
  if (bundle.plans.empty() || !bundle.plans.back())
    return error(StatusCode::kInvalidArgument, "no plans to write to '", path, "'");
  TensorTable table;
  ByteWriter graphs;  // written before the table that they fill
  for (const auto& p : bundle.plans) {
    graphs.u8(p ? 1 : 0);  // a fixed-batch model has no plan below its batch
    if (!p) continue;
    QUENCH_TRY(write_graph(graphs, table, *p->graph).with_context("writing '" + path + "'"));
    write_plan(graphs, *p);
  }

  ByteWriter meta;
  meta.str("quench " QUENCH_VERSION_STRING);
  meta.str(bundle.source);
  meta.u8(static_cast<uint8_t>(bundle.options.backend));
  meta.u8(static_cast<uint8_t>(bundle.options.precision));
  meta.i64(bundle.options.max_batch);
  meta.u8(bundle.options.optimize ? 1 : 0);
  meta.u32(static_cast<uint32_t>(bundle.options.input_shapes.size()));
  for (const auto& [name, shape] : bundle.options.input_shapes) {
    meta.str(name);
    meta.shape(shape);
  }
  std::vector<int64_t> places;
  int64_t weights_bytes = 0;
  for (const Tensor& t : table.tensors()) {
    weights_bytes = (weights_bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    places.push_back(weights_bytes);
    weights_bytes += static_cast<int64_t>(t.bytes());
  }
  meta.u32(static_cast<uint32_t>(table.tensors().size()));
  for (size_t i = 0; i < table.tensors().size(); ++i) {
    const Tensor& t = table.tensors()[i];
    meta.u32(static_cast<uint32_t>(t.dtype()));
    meta.shape(t.shape());
    meta.i64(places[i]);
    meta.i64(static_cast<int64_t>(t.bytes()));
  }
  const calib::CalibrationTable& cal = bundle.calibration;
  meta.u32(static_cast<uint32_t>(cal.tensors.size()));
  if (!cal.tensors.empty()) {
    meta.u8(static_cast<uint8_t>(cal.method));
    meta.f64(cal.percentile);
    meta.i64(cal.samples);
    for (const auto& [name, e] : cal.tensors) {
      meta.str(name);
      meta.f64(e.amax);
      meta.f32(e.scale);
    }
  }
  meta.u32(static_cast<uint32_t>(bundle.plans.size()));
  meta.raw(graphs.bytes().data(), graphs.size());

  ByteWriter file;
  file.raw(kQPlanMagic, sizeof kQPlanMagic);
  file.u32(kQPlanVersion);
  file.u32(kQPlanHeaderBytes);
  file.pad_to(kQPlanHeaderBytes);
  const size_t meta_offset = file.size();
  file.raw(meta.bytes().data(), meta.size());
  file.pad_to(kWeightsAlignment);
  const size_t weights_offset = file.size();
  for (size_t i = 0; i < table.tensors().size(); ++i) {
    while (file.size() < weights_offset + places[i]) file.u8(0);
    file.raw(table.tensors()[i].data(), table.tensors()[i].bytes());
  }
  std::vector<uint8_t>& b = file.bytes();
  put_u64(b, 16, b.size());
  put_u64(b, 24, meta_offset);
  put_u64(b, 32, meta.size());
  put_u64(b, 40, weights_offset);
  put_u64(b, 48, static_cast<uint64_t>(weights_bytes));
  const uint64_t sum = checksum64(b.data() + kQPlanHeaderBytes, b.size() - kQPlanHeaderBytes, checksum64(b.data(), 56));
  put_u64(b, 56, sum);

  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return error(StatusCode::kIoError, "cannot open '", path, "' for writing");
  const bool wrote = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) return error(StatusCode::kIoError, "cannot write ", b.size(), " bytes to '", path, "'");
  return {};
}

}  // namespace quench::loaders
