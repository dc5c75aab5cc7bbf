// Transpose: output dim i is input dim perm[i]; without perm the dims are reversed. Elements
// are only moved, so every dtype quench can hold works.
#include "ops/op_util.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

Result<std::vector<int64_t>> perm_of(const NodeDesc& n, const Shape& is) {
  const int64_t r = static_cast<int64_t>(is.size());
  if (r > kMaxRank) return error(StatusCode::kUnsupported, n.where(), ": input rank ", r, " exceeds ", kMaxRank);
  std::vector<int64_t> dflt(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) dflt[i] = r - 1 - i;
  QUENCH_ASSIGN(std::vector<int64_t> perm, n.attrs.get_ints("perm", dflt, n.where()));
  bool ok = static_cast<int64_t>(perm.size()) == r;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    ok = perm[i] >= 0 && perm[i] < r && !seen[perm[i]];
    if (ok) seen[perm[i]] = true;
  }
  if (!ok)
    return error(StatusCode::kInvalidArgument, n.where(), ": perm ", shape_str(perm), " is not a permutation of the ",
                 r, " dims of ", shape_str(is));
  return perm;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": element type ", dtype_name(in[0].dtype),
                 " cannot be held in a tensor");
  QUENCH_ASSIGN(std::vector<int64_t> perm, perm_of(n, in[0].shape));
  Shape s(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) s[i] = in[0].shape[perm[i]];
  out[0].dtype = in[0].dtype;
  out[0].shape = std::move(s);
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(std::vector<int64_t> perm, perm_of(n, in[0].shape));
  const Index st = contiguous_strides(in[0].shape);
  Index src{};
  for (size_t i = 0; i < perm.size(); ++i) src[i] = st[perm[i]];
  strided_copy(in[0].data, 0, src, out[0].data, out[0].shape, dtype_size(out[0].dtype));
  return {};
}

const OpSchema kSchemas[] = {
    {"Transpose", 1, 1, 1, 1, infer, run, nullptr, false},
};

}  // namespace

std::span<const OpSchema> transpose_schemas() { return kSchemas; }

}  // namespace quench::ops
