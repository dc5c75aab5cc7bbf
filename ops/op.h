// The contract every operator family in ops/ fulfils: a shape rule and a CPU reference.
//
// An op family file (ops/conv.cpp, ops/elementwise.cpp, ...) defines one or more OpSchema and
// exposes them through a function declared in ops/registry.h; the registry lists those
// functions explicitly (no self-registering statics, which a static link can drop).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ops/attributes.h"
#include "quench/status.h"
#include "quench/tensor.h"
#include "quench/types.h"

namespace quench::ops {

// What an op sees of its node: no graph, no neighbours.
struct NodeDesc {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  int64_t opset = 0;   // opset version in force for `domain`
  Attributes attrs;

  // "Conv node 'conv1'": prefix for error messages.
  std::string where() const { return op_type + " node '" + name + "'"; }
};

// One input or output as shape inference sees it.
struct ValueDesc {
  bool present = true;          // false for an omitted optional input ("" in ONNX)
  DType dtype = DType::kUndefined;
  Shape shape;
  const Tensor* constant = nullptr;  // value known at build time (initializer or folded), else null
};

// One input or output as the CPU reference sees it at run time. `data` is aligned for the
// dtype; inputs are read-only even though the pointer is not const. Views are built once
// before running, so run functions receive them by reference and allocate nothing for them.
struct TensorView {
  DType dtype = DType::kUndefined;
  Shape shape;
  void* data = nullptr;  // null for an omitted optional input

  bool present() const { return data != nullptr || dtype != DType::kUndefined; }
  int64_t numel() const { return shape_numel(shape); }
  template <class T> T* as() const { return static_cast<T*>(data); }
};

// Sets every output's dtype and shape from the inputs and attributes. An input's value is
// available through ValueDesc::constant when it is known at build time; an op that needs a
// value (Reshape's shape, Slice's starts) fails with a clear error when it is not.
using InferFn = Status (*)(const NodeDesc& node, std::span<const ValueDesc> inputs,
                           std::span<ValueDesc> outputs);

// Computes the outputs, whose views already carry the inferred dtype and shape and point at
// storage of the right size. `workspace` holds workspace_bytes(...) bytes, 64-byte aligned.
using RunFn = Status (*)(const NodeDesc& node, std::span<const TensorView> inputs,
                         std::span<const TensorView> outputs, void* workspace);

// Scratch bytes a CPU run needs, from the (inferred) inputs and outputs; null means none.
using WorkspaceFn = size_t (*)(const NodeDesc& node, std::span<const ValueDesc> inputs,
                               std::span<const ValueDesc> outputs);

struct OpSchema {
  std::string_view op_type;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: variadic
  int min_outputs = 1;
  int max_outputs = 1;
  InferFn infer = nullptr;
  RunFn run_cpu = nullptr;
  WorkspaceFn workspace_bytes = nullptr;
  // Output 0 may be written over input 0 when both have the same dtype and size (elementwise
  // ops that read element i before writing element i); the planner then reuses the buffer.
  bool in_place = false;
};

}  // namespace quench::ops
