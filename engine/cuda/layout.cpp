#include "engine/cuda/layout.h"

#include "ops/gpu_util.h"

namespace quench::cuda {

DType device_dtype(DType model) {
  switch (model) {
    case DType::kF32:
    case DType::kF16: return DType::kF16;
    case DType::kF64:
    case DType::kBF16:
    case DType::kString:
    case DType::kUndefined: return DType::kUndefined;
    default: return model;
  }
}

GpuLayout natural_layout(DType model, const Shape& shape) {
  return shape.size() == 4 && device_dtype(model) == DType::kF16 ? GpuLayout::kNHWC : GpuLayout::kLogical;
}

GpuLayout value_layout(const PlannedValue& v) {
  if (v.dtype == DType::kI8 && v.shape.size() == 4 && !v.constant && !v.graph_input && !v.graph_output)
    return GpuLayout::kNHWC;
  return natural_layout(v.dtype, v.shape);
}

bool layouts_coincide(const Shape& s) { return s.size() != 4 || s[1] == 1 || s[2] * s[3] == 1; }

namespace {

// The operands with the given per-operand layouts.
void describe(const ExecutionPlan& p, const LayoutPlan& l, const std::vector<int>& idx,
              const std::vector<GpuLayout>& layouts, std::vector<ops::GpuValueDesc>& out) {
  out.clear();
  for (size_t k = 0; k < idx.size(); ++k) {
    ops::GpuValueDesc d;
    const int v = idx[k];
    if (v < 0) {
      d.present = false;
    } else {
      d.dtype = l.values[v].dtype;
      d.shape = p.values[v].shape;
      d.layout = layouts[k];
      d.constant = p.values[v].constant;
    }
    out.push_back(std::move(d));
  }
}

std::vector<GpuLayout> natural_layouts(const LayoutPlan& l, const std::vector<int>& idx) {
  std::vector<GpuLayout> r;
  for (int v : idx) r.push_back(v < 0 ? GpuLayout::kLogical : l.values[v].layout);
  return r;
}

// Conversions of a logical step: every non-constant NHWC operand whose layouts differ. Only
// float16 ones can be converted (the executor transposes float16).
Status plan_conversions(const ExecutionPlan& p, const LayoutPlan& l, const ir::Node& n, const std::vector<int>& idx,
                        std::vector<Conversion>& conv, int64_t& scratch) {
  conv.assign(idx.size(), {});
  for (size_t k = 0; k < idx.size(); ++k) {
    const int v = idx[k];
    if (v < 0 || p.values[v].constant || l.values[v].layout != GpuLayout::kNHWC) continue;
    if (layouts_coincide(p.values[v].shape)) continue;
    if (l.values[v].dtype != DType::kF16) {
      const std::string type = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
      return error(StatusCode::kUnsupported, "no CUDA kernel for ", type, " node '", n.name, "' reading or writing the ",
                   dtype_name(l.values[v].dtype), " NHWC value '", p.values[v].name,
                   "' in ONNX order (only float16 values are converted)");
    }
    conv[k].needed = true;
    conv[k].scratch_offset = scratch;
    scratch += static_cast<int64_t>(ops::align_up_256(static_cast<size_t>(l.values[v].bytes)));
  }
  return {};
}

}  // namespace

Result<LayoutPlan> assign_layouts(const ExecutionPlan& p) {
  LayoutPlan l;
  l.values.reserve(p.values.size());
  for (const PlannedValue& pv : p.values) {
    ValueLayout vl;
    vl.dtype = device_dtype(pv.dtype);
    if (vl.dtype == DType::kUndefined)
      return error(StatusCode::kUnsupported, "value '", pv.name, "' has element type ", dtype_name(pv.dtype),
                   ", which the CUDA backend does not hold");
    vl.layout = value_layout(pv);
    vl.bytes = shape_numel(pv.shape) * static_cast<int64_t>(dtype_size(vl.dtype));
    l.values.push_back(vl);
  }
  std::vector<ops::GpuValueDesc> ins, outs;
  for (const PlannedStep& s : p.steps) {
    const ir::Node& n = *s.node;
    const ops::GpuOp* op = ops::find_gpu_op(n.schema);
    if (!op) {
      const std::string type = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
      return error(StatusCode::kUnsupported, "no CUDA kernel for ", type, " node '", n.name, "'");
    }
    StepLayout sl;
    sl.inputs = natural_layouts(l, s.inputs);
    sl.outputs = natural_layouts(l, s.outputs);
    describe(p, l, s.inputs, sl.inputs, ins);
    describe(p, l, s.outputs, sl.outputs, outs);
    bool any_nhwc = false;
    for (GpuLayout g : sl.inputs) any_nhwc = any_nhwc || g == GpuLayout::kNHWC;
    for (GpuLayout g : sl.outputs) any_nhwc = any_nhwc || g == GpuLayout::kNHWC;
    sl.native = !any_nhwc || (op->accepts_nhwc && op->accepts_nhwc(n, ins, outs));
    if (!sl.native) {
      sl.inputs.assign(s.inputs.size(), GpuLayout::kLogical);
      sl.outputs.assign(s.outputs.size(), GpuLayout::kLogical);
      QUENCH_TRY(plan_conversions(p, l, n, s.inputs, sl.convert_in, sl.scratch_bytes));
      QUENCH_TRY(plan_conversions(p, l, n, s.outputs, sl.convert_out, sl.scratch_bytes));
    } else {
      sl.convert_in.assign(s.inputs.size(), {});
      sl.convert_out.assign(s.outputs.size(), {});
    }
    l.steps.push_back(std::move(sl));
  }
  return l;
}

void step_operands(const ExecutionPlan& p, const LayoutPlan& l, size_t step, std::vector<ops::GpuValueDesc>& inputs,
                   std::vector<ops::GpuValueDesc>& outputs) {
  describe(p, l, p.steps[step].inputs, l.steps[step].inputs, inputs);
  describe(p, l, p.steps[step].outputs, l.steps[step].outputs, outputs);
}

}  // namespace quench::cuda
