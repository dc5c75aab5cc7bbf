// Layout assignment for the CUDA backend: how the GPU holds each value of an execution plan, and
// where a step needs its operands converted. Pure host logic, no device.
//
// The rule (docs/cuda-backend.md):
//   - a 4-D float value (activation or constant) is NHWC float16: [N, H, W, C] dense;
//   - a 4-D int8 activation (INT8 engines) is NHWC int8;
//   - every other value is in ONNX order, float16 for float types, other types unchanged;
//   - graph inputs and outputs are float32 NCHW on the host; the executor converts them at the
//     boundary (kernels/convert).
// Each op says whether it runs on its operands' own layouts (GpuOp::accepts_nhwc: the conv
// family, pools, element-wise ops with compatible operands, channel Softmax, Concat/Split/Slice
// and Transpose with their axes remapped). A step whose op does not becomes a logical step: it
// sees every operand in ONNX order, and each non-constant NHWC operand whose two layouts differ
// is converted into the step's scratch before the op (inputs) or from it after (outputs). The
// layouts of a 4-D [N, C, H, W] coincide when C == 1 or H * W == 1, so e.g. a Flatten of
// GlobalAveragePool's [N, C, 1, 1] costs nothing. Constant operands are uploaded in the layout
// their step sees, so they are never converted at run time.
#pragma once

#include <vector>

#include "engine/execution_plan.h"
#include "ops/gpu_op.h"

namespace quench::cuda {

using ops::GpuLayout;

// The element type the GPU stores for a model type: float16 for float32 and float16 (FP16
// engines); integer and bool types unchanged; kUndefined for float64 and bfloat16, which the
// CUDA backend does not hold.
DType device_dtype(DType model);
// NHWC for a 4-D float value, logical otherwise.
GpuLayout natural_layout(DType model, const Shape& shape);
// The layout assign_layouts gives a planned value: natural_layout, and NHWC for a 4-D int8
// activation too (an INT8 engine's quantized tensors, which the INT8 kernels read and write in
// NHWC like the float16 ones; ops/quant_gpu.cpp). int8 constants and int8 graph inputs and
// outputs stay in ONNX order (the boundary copies them as they are).
GpuLayout value_layout(const PlannedValue& v);
// Whether NHWC and NCHW order the bytes of a 4-D shape identically (C == 1 or H * W == 1).
bool layouts_coincide(const Shape& shape);

struct ValueLayout {
  DType dtype = DType::kUndefined;  // on the device
  GpuLayout layout = GpuLayout::kLogical;
  int64_t bytes = 0;                // on the device
};

// An operand a logical step reads or writes in ONNX order through its scratch.
struct Conversion {
  bool needed = false;
  int64_t scratch_offset = 0;  // from the start of the step's scratch
};

struct StepLayout {
  bool native = true;  // the op runs on its operands' own layouts
  std::vector<GpuLayout> inputs, outputs;       // the layouts the op sees, per operand
  std::vector<Conversion> convert_in, convert_out;
  int64_t scratch_bytes = 0;                    // for the conversions, 256-byte aligned
};

struct LayoutPlan {
  std::vector<ValueLayout> values;  // per ExecutionPlan value
  std::vector<StepLayout> steps;    // per ExecutionPlan step
};

// Decides every value's and step's layout. Fails with kUnsupported naming the node when an op
// has no CUDA kernel, when a logical step would need an NHWC operand that is not float16
// converted (the executor's layout transposes are float16 only) ("no CUDA kernel for ConvTranspose node 'x'") or a value's type cannot be
// held ("value 'v' has element type float64, ..."): this is the build's coverage check, and it
// needs no device.
Result<LayoutPlan> assign_layouts(const ExecutionPlan& plan);

// A step's operands as its op sees them (device dtype, logical shape, the step's layouts,
// constants), for GpuOp::prepare.
void step_operands(const ExecutionPlan& plan, const LayoutPlan& layouts, size_t step,
                   std::vector<ops::GpuValueDesc>& inputs, std::vector<ops::GpuValueDesc>& outputs);

}  // namespace quench::cuda
