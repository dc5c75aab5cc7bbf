// Reads a plan file (layout in qplan.h): every field bounds-checked, the weights viewed in
// the mapped file, the plans rebuilt as written and then checked, never re-planned.
#include <cmath>
#include <map>

#include "loaders/onnx/mapped_file.h"
#include "loaders/qplan/byte_io.h"
#include "loaders/qplan/qplan.h"

namespace quench::loaders {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 40;
constexpr int64_t kMaxBatch = 1 << 16;

uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

Status check_dtype(uint32_t raw, bool allow_undefined, size_t at, DType* out) {
  const auto t = static_cast<DType>(raw);
  const bool known = raw <= 16 && (raw == 0 || dtype_name(t) != std::string_view("unknown"));
  if (!known || (!allow_undefined && dtype_size(t) == 0))
    return error(StatusCode::kParseError, "element type ", raw, " near byte ", at, " is not one a plan file holds");
  *out = t;
  return {};
}

Status check_dims(const Shape& s, bool allow_unknown, size_t at) {
  int64_t numel = 1;
  for (int64_t d : s) {
    if (d < (allow_unknown ? -1 : 0) || d > kMaxDim)
      return error(StatusCode::kParseError, "dim ", d, " of shape ", shape_str(s), " near byte ", at, " is implausible");
    if (d > 0 && numel > kMaxDim / d) return error(StatusCode::kParseError, "shape ", shape_str(s), " near byte ", at, " is too large");
    if (d > 0) numel *= d;
  }
  return {};
}

struct Reader {
  ByteReader r;
  std::vector<Tensor> tensors;

  Status tensor_ref(Tensor* out) {
    int64_t id = 0;
    QUENCH_TRY(r.bounded(&id, static_cast<int64_t>(tensors.size()) - 1, "tensor index"));
    *out = tensors[id];
    return {};
  }

  Status attribute(ops::Attributes& attrs) {
    using K = ops::Attribute::Kind;
    std::string name;
    uint32_t kind = 0;
    QUENCH_TRY(r.str(&name));
    const size_t at = r.offset();
    QUENCH_TRY(r.u32(&kind));
    ops::Attribute a;
    a.kind = static_cast<K>(kind);
    uint32_t n = 0;
    switch (a.kind) {
      case K::kFloat: QUENCH_TRY(r.f32(&a.f)); break;
      case K::kInt: QUENCH_TRY(r.i64(&a.i)); break;
      case K::kString: QUENCH_TRY(r.str(&a.s)); break;
      case K::kTensor: QUENCH_TRY(tensor_ref(&a.t)); break;
      case K::kFloats:
        QUENCH_TRY(r.count(&n, 4, "floats"));
        a.floats.resize(n);
        for (float& f : a.floats) QUENCH_TRY(r.f32(&f));
        break;
      case K::kInts:
        QUENCH_TRY(r.count(&n, 8, "ints"));
        a.ints.resize(n);
        for (int64_t& i : a.ints) QUENCH_TRY(r.i64(&i));
        break;
      case K::kStrings: QUENCH_TRY(r.strings(&a.strings)); break;
      case K::kTensors:
        QUENCH_TRY(r.count(&n, 8, "tensors"));
        a.tensors.resize(n);
        for (Tensor& t : a.tensors) QUENCH_TRY(tensor_ref(&t));
        break;
      default:
        return error(StatusCode::kParseError, "attribute '", name, "' at byte ", at, " has kind ", kind,
                     ", which a plan file does not hold");
    }
    if (attrs.has(name)) return error(StatusCode::kParseError, "attribute '", name, "' at byte ", at, " is repeated");
    attrs.set(std::move(name), std::move(a));
    return {};
  }

  Status graph(ir::Graph& g) {
    QUENCH_TRY(r.str(&g.name));
    uint32_t n = 0;
    QUENCH_TRY(r.count(&n, 12, "opsets"));
    for (uint32_t i = 0; i < n; ++i) {
      std::string domain;
      int64_t version = 0;
      QUENCH_TRY(r.str(&domain));
      QUENCH_TRY(r.i64(&version));
      g.opsets[domain] = version;
    }
    QUENCH_TRY(r.count(&n, 25, "values"));
    for (uint32_t i = 0; i < n; ++i) {
      ir::Value v;
      uint32_t dtype = 0;
      uint8_t has_shape = 0;
      int64_t constant = 0;
      QUENCH_TRY(r.str(&v.name));
      const size_t at = r.offset();
      QUENCH_TRY(r.u32(&dtype));
      QUENCH_TRY(check_dtype(dtype, true, at, &v.dtype));
      QUENCH_TRY(r.u8(&has_shape));
      v.has_shape = has_shape != 0;
      QUENCH_TRY(r.shape(&v.shape));
      QUENCH_TRY(check_dims(v.shape, true, at));
      QUENCH_TRY(r.strings(&v.dim_params));
      QUENCH_TRY(r.i64(&constant));
      if (constant >= 0) {
        if (constant >= static_cast<int64_t>(tensors.size()))
          return error(StatusCode::kParseError, "value '", v.name, "' names tensor ", constant, " of ", tensors.size());
        v.constant = tensors[constant];
        if (v.constant.dtype() != v.dtype || v.constant.shape() != v.shape)
          return error(StatusCode::kParseError, "constant '", v.name, "' does not match its tensor");
      }
      if (g.values.count(v.name)) return error(StatusCode::kParseError, "value '", v.name, "' near byte ", at, " is repeated");
      std::string name = v.name;
      g.values.emplace(std::move(name), std::move(v));
    }
    QUENCH_TRY(r.count(&n, 28, "nodes"));
    g.nodes.resize(n);
    for (ir::Node& node : g.nodes) {
      QUENCH_TRY(r.str(&node.name));
      QUENCH_TRY(r.str(&node.op_type));
      QUENCH_TRY(r.str(&node.domain));
      QUENCH_TRY(r.i64(&node.opset));
      uint32_t nattrs = 0;
      QUENCH_TRY(r.count(&nattrs, 8, "attributes"));
      for (uint32_t a = 0; a < nattrs; ++a) QUENCH_TRY(attribute(node.attrs).with_context(node.where()));
      QUENCH_TRY(r.strings(&node.inputs));
      QUENCH_TRY(r.strings(&node.outputs));
    }
    QUENCH_TRY(r.strings(&g.inputs));
    QUENCH_TRY(r.strings(&g.outputs));
    QUENCH_TRY(ir::validate(g));
    return ir::bind_schemas(g);
  }

  Status plan(std::shared_ptr<const ir::Graph> gp, ExecutionPlan& p) {
    const ir::Graph& g = *gp;
    p.graph = gp;
    uint32_t n = 0;
    QUENCH_TRY(r.count(&n, 12, "planned values"));
    if (n != g.values.size())
      return error(StatusCode::kParseError, "the plan has ", n, " values for a graph of ", g.values.size());
    std::map<std::string_view, int, std::less<>> index;
    for (uint32_t i = 0; i < n; ++i) {
      PlannedValue pv;
      QUENCH_TRY(r.str(&pv.name));
      QUENCH_TRY(r.i64(&pv.offset));
      const ir::Value* v = g.find(pv.name);
      if (!v || index.count(pv.name))
        return error(StatusCode::kParseError, "planned value '", pv.name, "' is not in the graph or repeated");
      pv.dtype = v->dtype;
      pv.shape = v->shape;
      pv.bytes = shape_numel(v->shape) * static_cast<int64_t>(dtype_size(v->dtype));
      if (v->is_constant()) {
        pv.constant = &v->constant;
        p.weights_bytes += pv.bytes;
      }
      index[v->name] = static_cast<int>(i);
      p.values.push_back(std::move(pv));
    }
    auto id = [&](const std::string& name) { return name.empty() ? -1 : index.at(name); };
    for (const auto& name : g.inputs) p.inputs.push_back(id(name));
    for (const auto& name : g.outputs) p.outputs.push_back(id(name));
    for (int v : p.inputs) p.values[v].graph_input = true;
    for (int v : p.outputs) p.values[v].graph_output = true;
    QUENCH_TRY(r.count(&n, 22, "steps"));
    if (n != g.nodes.size()) return error(StatusCode::kParseError, "the plan has ", n, " steps for ", g.nodes.size(), " nodes");
    for (const ir::Node& node : g.nodes) {
      PlannedStep s;
      s.node = &node;
      uint8_t elided = 0, in_place = 0;
      QUENCH_TRY(r.i64(&s.workspace_offset));
      QUENCH_TRY(r.i64(&s.workspace_bytes));
      QUENCH_TRY(r.u8(&elided));
      QUENCH_TRY(r.u8(&in_place));
      QUENCH_TRY(r.str(&s.impl));
      s.elided = elided != 0;
      s.in_place = in_place != 0;
      for (const auto& in : node.inputs) s.inputs.push_back(id(in));
      for (const auto& out : node.outputs) s.outputs.push_back(id(out));
      p.steps.push_back(std::move(s));
    }
    int64_t reused = 0, sliced = 0;
    const int64_t limit = int64_t{1} << 50;
    QUENCH_TRY(r.bounded(&p.memory.arena_bytes, limit, "arena bytes"));
    QUENCH_TRY(r.bounded(&p.memory.lower_bound_bytes, limit, "lower bound bytes"));
    QUENCH_TRY(r.bounded(&p.memory.naive_bytes, limit, "naive bytes"));
    QUENCH_TRY(r.bounded(&reused, n, "in-place count"));
    QUENCH_TRY(r.bounded(&sliced, static_cast<int64_t>(g.values.size()), "slice count"));
    p.memory.reused_in_place = static_cast<int>(reused);
    p.memory.sliced = static_cast<int>(sliced);
    return check_execution_plan(p);
  }
};

// The calibration table of an INT8 engine: `n` entries after the method, percentile and count.
Status read_calibration(ByteReader& r, uint32_t n, calib::CalibrationTable& t) {
  uint8_t method = 0;
  QUENCH_TRY(r.u8(&method));
  if (method > static_cast<uint8_t>(calib::CalibrationMethod::kEntropy))
    return error(StatusCode::kParseError, "calibration method ", int{method}, " at byte ", r.offset() - 1, " is unknown");
  t.method = static_cast<calib::CalibrationMethod>(method);
  QUENCH_TRY(r.f64(&t.percentile));
  QUENCH_TRY(r.i64(&t.samples));
  if (!(t.percentile > 0 && t.percentile <= 100) || t.samples < 0)
    return error(StatusCode::kParseError, "calibration percentile ", t.percentile, " or sample count ", t.samples,
                 " before byte ", r.offset(), " is out of range");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    calib::CalibrationEntry e;
    QUENCH_TRY(r.str(&name));
    QUENCH_TRY(r.f64(&e.amax));
    QUENCH_TRY(r.f32(&e.scale));
    if (!(e.amax >= 0 && std::isfinite(e.amax)) || !(e.scale > 0 && std::isfinite(e.scale)))
      return error(StatusCode::kParseError, "calibration entry '", name, "' before byte ", r.offset(),
                   " has threshold ", e.amax, " and scale ", e.scale);
    if (!t.tensors.emplace(std::move(name), e).second)
      return error(StatusCode::kParseError, "calibration entry ", i, " before byte ", r.offset(), " repeats a tensor");
  }
  return {};
}

Result<PlanBundle> parse(std::shared_ptr<const void> owner, const uint8_t* data, size_t size) {
  if (size < kQPlanHeaderBytes || std::memcmp(data, kQPlanMagic, sizeof kQPlanMagic) != 0)
    return error(StatusCode::kParseError, "not a quench plan file (no QUENCHPL header)");
  uint32_t version = 0;
  std::memcpy(&version, data + 8, sizeof version);
  if (version != kQPlanVersion)
    return error(StatusCode::kParseError, "plan file format version ", version, " is not the version ", kQPlanVersion,
                 " this quench reads; rebuild the plan from the model");
  const uint64_t file_bytes = get_u64(data + 16), meta_offset = get_u64(data + 24), meta_bytes = get_u64(data + 32),
                 weights_offset = get_u64(data + 40), weights_bytes = get_u64(data + 48);
  if (file_bytes != size)
    return error(StatusCode::kParseError, "the file has ", size, " bytes but its header says ", file_bytes,
                 size < file_bytes ? " (truncated)" : " (trailing bytes)");
  const uint64_t sum = checksum64(data + kQPlanHeaderBytes, size - kQPlanHeaderBytes, checksum64(data, 56));
  if (sum != get_u64(data + 56)) return error(StatusCode::kParseError, "checksum mismatch: the file is corrupt");
  if (meta_offset < kQPlanHeaderBytes || meta_offset > size || meta_bytes > size - meta_offset ||
      weights_offset < meta_offset + meta_bytes || weights_offset > size || weights_bytes > size - weights_offset ||
      weights_offset % 256 != 0)
    return error(StatusCode::kParseError, "the header's section bounds are inconsistent");

  Reader rd{ByteReader(data, data + meta_offset, data + meta_offset + meta_bytes), {}};
  ByteReader& r = rd.r;
  PlanBundle b;
  std::string producer;
  uint8_t backend = 0, precision = 0;
  QUENCH_TRY(r.str(&producer));
  QUENCH_TRY(r.str(&b.source));
  QUENCH_TRY(r.u8(&backend));
  QUENCH_TRY(r.u8(&precision));
  if (backend > static_cast<uint8_t>(Backend::kCuda) || precision > static_cast<uint8_t>(Precision::kINT8))
    return error(StatusCode::kParseError, "unknown backend ", int{backend}, " or precision ", int{precision});
  b.options.backend = static_cast<Backend>(backend);
  b.options.precision = static_cast<Precision>(precision);
  int64_t max_batch = 0;
  QUENCH_TRY(r.bounded(&max_batch, kMaxBatch, "max_batch"));
  b.options.max_batch = static_cast<int>(max_batch);
  uint8_t optimized = 0;
  QUENCH_TRY(r.u8(&optimized));
  b.options.optimize = optimized != 0;
  uint32_t n = 0;
  QUENCH_TRY(r.count(&n, 8, "input shapes"));
  for (uint32_t i = 0; i < n; ++i) {
    std::string input;
    Shape s;
    QUENCH_TRY(r.str(&input));
    QUENCH_TRY(r.shape(&s));
    b.options.input_shapes[input] = s;
  }
  QUENCH_TRY(r.count(&n, 24, "tensors"));
  rd.tensors.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const size_t at = r.offset();
    uint32_t dtype = 0;
    DType t;
    Shape s;
    int64_t place = 0, bytes = 0;
    QUENCH_TRY(r.u32(&dtype));
    QUENCH_TRY(check_dtype(dtype, false, at, &t));
    QUENCH_TRY(r.shape(&s));
    QUENCH_TRY(check_dims(s, false, at));
    QUENCH_TRY(r.bounded(&place, static_cast<int64_t>(weights_bytes), "tensor offset"));
    QUENCH_TRY(r.bounded(&bytes, static_cast<int64_t>(weights_bytes) - place, "tensor bytes"));
    if (place % 64 != 0 || bytes != shape_numel(s) * static_cast<int64_t>(dtype_size(t)))
      return error(StatusCode::kParseError, "tensor ", i, " at byte ", at, " is misplaced or has the wrong size");
    rd.tensors.push_back(Tensor::view(t, s, data + weights_offset + place, owner));
  }
  QUENCH_TRY(r.count(&n, 16, "calibration entries"));
  if (n != 0) QUENCH_TRY(read_calibration(r, n, b.calibration));
  QUENCH_TRY(r.count(&n, 1, "plans"));
  if (n != max_batch) return error(StatusCode::kParseError, "the file has ", n, " plans for max_batch ", max_batch);
  for (uint32_t i = 0; i < n; ++i) {
    uint8_t present = 0;
    QUENCH_TRY(r.u8(&present));
    if (present > 1 || (!present && i + 1 == n))
      return error(StatusCode::kParseError, "batch ", i + 1, " plan flag at byte ", r.offset() - 1, " is ", int{present});
    if (!present) {
      b.plans.push_back(nullptr);
      continue;
    }
    auto g = std::make_shared<ir::Graph>();
    QUENCH_TRY(rd.graph(*g).with_context("batch " + std::to_string(i + 1) + " graph"));
    auto p = std::make_shared<ExecutionPlan>();
    Status s = rd.plan(std::shared_ptr<const ir::Graph>(g), *p);
    if (!s.ok()) return error(StatusCode::kParseError, "batch ", i + 1, " plan: ", s.message());
    b.plans.push_back(std::move(p));
  }
  if (!r.done()) return error(StatusCode::kParseError, "unread bytes after the plans at byte ", r.offset());
  b.keep_alive = std::move(owner);
  return b;
}

}  // namespace

Result<PlanBundle> read_qplan_bytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                    const std::string& name) {
  auto r = parse(std::move(owner), data, size);
  if (!r.ok()) return r.status().with_context("plan file '" + name + "'");
  return r;
}

Result<PlanBundle> read_qplan(const std::string& path) {
  QUENCH_ASSIGN(auto file, map_file(path));
  const uint8_t* data = file->data;
  const size_t size = file->size;
  return read_qplan_bytes(std::shared_ptr<const void>(std::move(file)), data, size, path);
}

}  // namespace quench::loaders
