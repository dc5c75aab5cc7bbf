#include "ops/registry.h"

#include <vector>

namespace quench::ops {
namespace {

std::vector<const OpSchema*> build_list() {
  using Family = std::span<const OpSchema> (*)();
  static constexpr Family kFamilies[] = {
      unary_schemas,   binary_schemas,  conv_schemas,         conv_transpose_schemas,
      gemm_schemas,    batchnorm_schemas, pool_schemas,       softmax_schemas,
      reduce_schemas,  resize_schemas,  pad_schemas,          reshape_schemas,
      concat_split_schemas, slice_gather_schemas, transpose_schemas, constant_schemas,
      cast_schemas,
  };
  std::vector<const OpSchema*> list;
  for (Family f : kFamilies)
    for (const OpSchema& s : f()) list.push_back(&s);
  return list;
}

const std::vector<const OpSchema*>& schema_list() {
  static const std::vector<const OpSchema*> list = build_list();
  return list;
}

}  // namespace

std::span<const OpSchema* const> all_schemas() { return schema_list(); }

const OpSchema* find_schema(std::string_view op_type, std::string_view domain) {
  if (domain == kQuenchDomain) {
    for (auto family : {fused_conv_schemas, fused_gemm_schemas, quant_conv_schemas, quant_gemm_schemas,
                        quant_convert_schemas})
      for (const OpSchema& s : family())
        if (s.op_type == op_type) return &s;
    return nullptr;
  }
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  for (const OpSchema* s : schema_list())
    if (s->op_type == op_type) return s;
  return nullptr;
}

}  // namespace quench::ops
