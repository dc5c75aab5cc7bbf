// The CUDA side of an operator family: which GPU kernels run a node, beside its CPU reference.
//
// Each ops/<family>_gpu.cpp defines a GpuOp per op type and lists it through a function in
// ops/gpu_registry.cpp (explicit, like registry.h). The engine (engine/cuda/) calls, per node:
//
//   accepts_nhwc   at build, before anything else: can the op run on its 4-D float operands as
//                  the GPU keeps them (NHWC)? If not, the engine converts them to ONNX order
//                  around the op (a logical step) and calls prepare/bind with logical layouts.
//   prepare        at build, once per batch graph, on the host and without a device: checks the
//                  node against the kernels' contracts (an unsupported form fails here, naming
//                  the node), transforms its weights into device form through the WeightSink
//                  (uploaded once per engine) and states the arena workspace it needs.
//   bind           at context creation, with device pointers: builds the launch (kernel
//                  arguments fixed, checked with the kernels' can_implement), so that a run
//                  only calls it.
//
// Device element types: the model's float32 values are float16 on the GPU; other types keep
// theirs. Shapes in descriptors are always ONNX's logical shapes; `layout` says how a 4-D value
// lies in memory (kNHWC: [N, H, W, C] dense).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "ops/op.h"

namespace quench::ops {

enum class GpuLayout : uint8_t { kLogical = 0, kNHWC };
const char* gpu_layout_name(GpuLayout l);

// ONNX axis `axis` (normalized, of a rank-`rank` value) -> the axis in memory order.
int physical_axis(GpuLayout layout, int rank, int axis);
// The dims in memory order: [N, H, W, C] for an NHWC [N, C, H, W].
Shape physical_shape(GpuLayout layout, const Shape& logical);

struct GpuValueDesc {
  bool present = true;
  DType dtype = DType::kUndefined;  // on the device
  Shape shape;                      // logical
  GpuLayout layout = GpuLayout::kLogical;
  const Tensor* constant = nullptr;  // the host value (model dtype) when known at build
};

struct GpuTensor {
  DType dtype = DType::kUndefined;  // kUndefined for an omitted optional input
  Shape shape;
  GpuLayout layout = GpuLayout::kLogical;
  void* data = nullptr;              // device memory; null for an input only prepared weights read
  const Tensor* constant = nullptr;  // the host value when known at build

  bool present() const { return dtype != DType::kUndefined; }
  int64_t numel() const { return shape_numel(shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
};

// Where prepare puts device-form weights. A weight is identified by its source bytes and the
// transform applied to them, so the same weight prepared by every batch graph is packed and
// uploaded once.
class WeightSink {
 public:
  virtual ~WeightSink() = default;
  // The index of the weight (source, transform), or -1 when it has not been added.
  virtual int find(const void* source, std::string_view transform) const = 0;
  // Adds host bytes to upload (16-byte aligned on the device); returns the weight's index.
  virtual int add(const void* source, std::string_view transform, std::vector<std::byte> bytes) = 0;
};

// What prepare decided for one node.
struct GpuPrepared {
  // WeightSink indices (-1: none, bound as null); bind receives their device pointers in this order.
  std::vector<int> weights;
  // Inputs read only through prepared weights: the engine does not upload them as tensors.
  uint64_t claimed_inputs = 0;
  size_t workspace_bytes = 0;   // arena scratch for this node (intermediates), 256-byte aligned
  size_t persistent_bytes = 0;  // split-K workspace: zeroed once per context, left zero by each run

  void claim(size_t input) { claimed_inputs |= uint64_t{1} << input; }
  bool claimed(size_t input) const { return (claimed_inputs >> input) & 1; }
};

struct GpuPrepareArgs {
  const NodeDesc& node;
  std::span<const GpuValueDesc> inputs, outputs;
  WeightSink& weights;
  int multiprocessors = 1;  // of the device the engine is built for (split-K decisions)
};

// The launch bound to one node's device pointers; runs without allocating.
using GpuLaunch = std::function<Status(cudaStream_t)>;

struct GpuBindArgs {
  const NodeDesc& node;
  std::span<const GpuTensor> inputs, outputs;
  std::span<void* const> weights;  // device pointers, in GpuPrepared::weights order
  void* workspace = nullptr;       // GpuPrepared::workspace_bytes in the context's arena
  void* persistent = nullptr;      // at least GpuPrepared::persistent_bytes, zeroed
  size_t persistent_bytes = 0;
};

struct GpuOp {
  std::string_view op_type;
  std::string_view domain;  // "" or kQuenchDomain
  // null: the op takes logical operands only.
  bool (*accepts_nhwc)(const NodeDesc& n, std::span<const GpuValueDesc> inputs,
                       std::span<const GpuValueDesc> outputs) = nullptr;
  Status (*prepare)(const GpuPrepareArgs& a, GpuPrepared& out) = nullptr;
  Result<GpuLaunch> (*bind)(const GpuBindArgs& a) = nullptr;
};

// The GPU implementation of `schema` (a schema from find_schema), or null when quench has no
// CUDA kernel for it.
const GpuOp* find_gpu_op(const OpSchema* schema);

// One function per family file (ops/<family>_gpu.cpp).
std::span<const GpuOp> conv_gpu_ops();         // Conv FusedConv DwPwConv InvertedResidual
std::span<const GpuOp> gemm_gpu_ops();         // Gemm MatMul FusedGemm FusedMatMul
std::span<const GpuOp> elementwise_gpu_ops();  // Add Sub Mul Div Max Min Pow, activations, Sqrt
std::span<const GpuOp> pool_gpu_ops();         // MaxPool AveragePool GlobalAveragePool GlobalMaxPool
std::span<const GpuOp> softmax_gpu_ops();      // Softmax LogSoftmax
std::span<const GpuOp> resize_gpu_ops();       // Resize
std::span<const GpuOp> pad_gpu_ops();          // Pad
std::span<const GpuOp> transpose_gpu_ops();    // Transpose
std::span<const GpuOp> copy_gpu_ops();         // Reshape Flatten Squeeze Unsqueeze Identity Dropout
std::span<const GpuOp> slice_copy_gpu_ops();   // Concat Split Slice
std::span<const GpuOp> conv_transpose_gpu_ops();  // ConvTranspose
std::span<const GpuOp> reduce_gpu_ops();          // ReduceSum ReduceMean ReduceMax ReduceMin
std::span<const GpuOp> batchnorm_gpu_ops();       // BatchNormalization (inference)
std::span<const GpuOp> quant_gpu_ops();  // quench.Int8Conv Int8Gemm Int8MatMul Int8Quantize Int8Dequantize

}  // namespace quench::ops
