// Concat, Split and Slice (ops/concat_split.cpp, ops/slice_gather.cpp) on the GPU: each moves
// blocks along one axis, so each is a strided 2-D copy (cudaMemcpy2DAsync) per operand. The axis
// is remapped into memory order, so they run on any layout: on NHWC data a channel Concat copies
// each input into its channel slice of every pixel. Slice takes one sliced axis with step 1.
// (DESIGN.md's Concat without a copy, producers writing their slices directly, is future work:
// the conv kernels already take output strides.)
#include <algorithm>

#include "kernels/common/cuda_status.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

// Runs on the layout as it is when every operand has the same one.
bool uniform_layout(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  for (const GpuValueDesc& v : in)
    if (v.present && v.layout != out[0].layout && v.constant == nullptr) return false;
  for (const GpuValueDesc& v : out)
    if (v.present && v.layout != out[0].layout) return false;
  return true;
}

// One strided copy: `rows` rows of `width` bytes, from src (pitch sp) to dst (pitch dp).
struct Block {
  const std::byte* src = nullptr;
  std::byte* dst = nullptr;
  size_t width = 0, sp = 0, dp = 0, rows = 0;
};

// The tensor in memory order as [outer, axis, inner]: the axis' memory position and the sizes.
struct AxisView {
  int64_t outer = 1, inner = 1;
  int p = 0;
};

AxisView axis_view(const GpuValueDesc& v, int64_t axis) {
  AxisView a;
  const int rank = static_cast<int>(v.shape.size());
  a.p = physical_axis(v.layout, rank, static_cast<int>(axis));
  const Shape phys = physical_shape(v.layout, v.shape);
  for (int d = 0; d < a.p; ++d) a.outer *= phys[d];
  for (int d = a.p + 1; d < rank; ++d) a.inner *= phys[d];
  return a;
}

// The operands (constant parameters aside) share one layout and element size.
Status same_layouts(const NodeDesc& n, std::span<const GpuValueDesc> a, std::span<const GpuValueDesc> b) {
  for (const GpuValueDesc& v : a)
    if (v.present && !v.constant && (v.layout != b[0].layout || dtype_size(v.dtype) != dtype_size(b[0].dtype)))
      return gpu_unsupported(n, "operands of different layouts or element types");
  return {};
}

// The blocks of a Concat (split = false) or Split: the whole tensor `whole` against its parts.
Result<std::vector<Block>> blocks_of(const NodeDesc& n, std::span<const GpuValueDesc> parts, const GpuValueDesc& whole,
                                     int64_t axis, std::span<void* const> part_data, void* whole_data, bool split) {
  const size_t es = dtype_size(whole.dtype);
  const AxisView wv = axis_view(whole, axis);
  const Shape wphys = physical_shape(whole.layout, whole.shape);
  std::vector<Block> blocks;
  int64_t offset = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t len = parts[i].shape[axis];
    Block b;
    b.rows = static_cast<size_t>(wv.outer);
    b.width = static_cast<size_t>(len * wv.inner) * es;
    const size_t whole_pitch = static_cast<size_t>(wphys[wv.p] * wv.inner) * es;
    std::byte* w = static_cast<std::byte*>(whole_data) + static_cast<size_t>(offset * wv.inner) * es;
    auto* part = static_cast<std::byte*>(part_data[i]);
    if (split) {
      b.src = w;
      b.sp = whole_pitch;
      b.dst = part;
      b.dp = b.width;
    } else {
      b.src = part;
      b.sp = b.width;
      b.dst = w;
      b.dp = whole_pitch;
    }
    offset += len;
    if (b.width > 0 && b.rows > 0) blocks.push_back(b);
  }
  if (offset != whole.shape[axis]) return error(StatusCode::kInternal, n.where(), ": the parts do not tile the axis");
  return blocks;
}

GpuLaunch copy_blocks(std::vector<Block> blocks) {
  return [blocks = std::move(blocks)](cudaStream_t s) -> Status {
    for (const Block& b : blocks)
      QUENCH_TRY(kernels::cuda_status(
          cudaMemcpy2DAsync(b.dst, b.dp, b.src, b.sp, b.width, b.rows, cudaMemcpyDeviceToDevice, s), "cudaMemcpy2DAsync"));
    return {};
  };
}

// ---- Concat / Split ------------------------------------------------------------------------

Result<int64_t> axis_of(const NodeDesc& n, std::span<const GpuValueDesc>, const GpuValueDesc& whole) {
  const int64_t rank = static_cast<int64_t>(whole.shape.size());
  if (n.attrs.has("axis")) {
    QUENCH_ASSIGN(int64_t axis, int_attr(n, "axis", 0));
    return normalize_axis(axis, rank, n);
  }
  if (n.op_type == "Concat") return normalize_axis(1, rank, n);  // opset 1's default
  return int64_t{0};                                             // Split's default
}

Status concat_prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  QUENCH_TRY(same_layouts(a.node, a.inputs, a.outputs));
  return axis_of(a.node, a.inputs, a.outputs[0]).status();
}

Result<GpuLaunch> concat_bind(const GpuBindArgs& a) {
  const auto in = descs_of(a.inputs), out = descs_of(a.outputs);
  QUENCH_ASSIGN(int64_t axis, axis_of(a.node, in, out[0]));
  std::vector<void*> data;
  for (const GpuTensor& t : a.inputs) data.push_back(t.data);
  QUENCH_ASSIGN(auto blocks, blocks_of(a.node, in, out[0], axis, data, a.outputs[0].data, false));
  return copy_blocks(std::move(blocks));
}

Status split_prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_TRY(same_layouts(a.node, a.outputs, a.inputs));
  if (a.inputs.size() > 1 && a.inputs[1].present) out.claim(1);  // split sizes: the outputs' shapes say them
  for (const GpuValueDesc& o : a.outputs)
    if (!o.present) return gpu_unsupported(a.node, "a Split with an omitted output");
  return axis_of(a.node, a.outputs, a.inputs[0]).status();
}

Result<GpuLaunch> split_bind(const GpuBindArgs& a) {
  const auto in = descs_of(a.inputs), out = descs_of(a.outputs);
  QUENCH_ASSIGN(int64_t axis, axis_of(a.node, out, in[0]));
  std::vector<void*> data;
  for (const GpuTensor& t : a.outputs) data.push_back(t.data);
  QUENCH_ASSIGN(auto blocks, blocks_of(a.node, out, in[0], axis, data, a.inputs[0].data, true));
  return copy_blocks(std::move(blocks));
}

// ---- Slice: one axis, step 1 --------------------------------------------------------------

struct SliceAxis {
  int64_t axis = -1, start = 0;
};

Result<std::vector<int64_t>> slice_ints(const NodeDesc& n, std::span<const GpuValueDesc> in, size_t i,
                                        std::string_view attr) {
  if (n.opset > 0 && n.opset < 10) return n.attrs.get_ints(attr, {}, n.where());
  std::vector<int64_t> v;
  if (i >= in.size() || !in[i].present) return v;
  if (!in[i].constant) return gpu_unsupported(n, "Slice ", attr, " that are not constants");
  for (int64_t k = 0; k < in[i].constant->numel(); ++k) v.push_back(in[i].constant->value_as_int64(k));
  return v;
}

Result<SliceAxis> slice_axis(const NodeDesc& n, std::span<const GpuValueDesc> in, const GpuValueDesc& out) {
  const Shape& is = in[0].shape;
  const int64_t rank = static_cast<int64_t>(is.size());
  QUENCH_ASSIGN(auto starts, slice_ints(n, in, 1, "starts"));
  QUENCH_ASSIGN(auto axes, slice_ints(n, in, 3, "axes"));
  QUENCH_ASSIGN(auto steps, slice_ints(n, in, 4, "steps"));
  SliceAxis s;
  for (size_t i = 0; i < starts.size(); ++i) {
    QUENCH_ASSIGN(int64_t axis, normalize_axis(i < axes.size() ? axes[i] : static_cast<int64_t>(i), rank, n));
    if (out.shape[axis] == is[axis]) continue;  // the whole axis: nothing sliced
    if (i < steps.size() && steps[i] != 1) return gpu_unsupported(n, "a Slice with step ", steps[i]);
    if (s.axis >= 0) return gpu_unsupported(n, "a Slice of more than one axis");
    const int64_t dim = is[axis];
    int64_t start = starts[i];
    if (start < 0) start = start < -dim ? 0 : start + dim;
    s.axis = axis;
    s.start = std::clamp<int64_t>(start, 0, dim);
  }
  if (s.axis < 0) s.axis = 0;  // nothing sliced: a copy of the whole
  return s;
}

Status slice_prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  QUENCH_TRY(same_layouts(a.node, a.outputs, a.inputs));
  for (size_t i = 1; i < a.inputs.size(); ++i)
    if (a.inputs[i].present) out.claim(i);
  return slice_axis(a.node, a.inputs, a.outputs[0]).status();
}

Result<GpuLaunch> slice_bind(const GpuBindArgs& a) {
  const auto in = descs_of(a.inputs), out = descs_of(a.outputs);
  QUENCH_ASSIGN(SliceAxis s, slice_axis(a.node, in, out[0]));
  const size_t es = dtype_size(in[0].dtype);
  const AxisView v = axis_view(in[0], s.axis);
  const Shape in_phys = physical_shape(in[0].layout, in[0].shape);
  Block b;
  b.rows = static_cast<size_t>(v.outer);
  b.width = static_cast<size_t>(out[0].shape[s.axis] * v.inner) * es;
  b.sp = static_cast<size_t>(in_phys[v.p] * v.inner) * es;
  b.dp = b.width;
  b.src = static_cast<const std::byte*>(a.inputs[0].data) + static_cast<size_t>(s.start * v.inner) * es;
  b.dst = static_cast<std::byte*>(a.outputs[0].data);
  std::vector<Block> blocks;
  if (b.width > 0 && b.rows > 0) blocks.push_back(b);
  return copy_blocks(std::move(blocks));
}

const GpuOp kOps[] = {
    {"Concat", "", uniform_layout, concat_prepare, concat_bind},
    {"Split", "", uniform_layout, split_prepare, split_bind},
    {"Slice", "", uniform_layout, slice_prepare, slice_bind},
};

}  // namespace

std::span<const GpuOp> slice_copy_gpu_ops() { return kOps; }

}  // namespace quench::ops
