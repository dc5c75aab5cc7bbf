// The explicit list of GPU op families (ops/gpu_op.h), matched to their schemas once.
#include <map>

#include "ops/gpu_op.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

std::map<const OpSchema*, const GpuOp*> build_table() {
  using Family = std::span<const GpuOp> (*)();
  static constexpr Family kFamilies[] = {
      conv_gpu_ops, gemm_gpu_ops,      elementwise_gpu_ops, pool_gpu_ops, softmax_gpu_ops,
      resize_gpu_ops, pad_gpu_ops,     transpose_gpu_ops,   copy_gpu_ops, slice_copy_gpu_ops,
      conv_transpose_gpu_ops, reduce_gpu_ops, batchnorm_gpu_ops, quant_gpu_ops,
  };
  std::map<const OpSchema*, const GpuOp*> table;
  for (Family f : kFamilies)
    for (const GpuOp& op : f())
      if (const OpSchema* s = find_schema(op.op_type, op.domain)) table[s] = &op;
  return table;
}

}  // namespace

const GpuOp* find_gpu_op(const OpSchema* schema) {
  static const std::map<const OpSchema*, const GpuOp*> table = build_table();
  auto it = table.find(schema);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace quench::ops
