#include "ops/attributes.h"

namespace quench::ops {

const char* attribute_kind_name(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::kFloat: return "float";
    case Attribute::Kind::kInt: return "int";
    case Attribute::Kind::kString: return "string";
    case Attribute::Kind::kTensor: return "tensor";
    case Attribute::Kind::kGraph: return "graph";
    case Attribute::Kind::kFloats: return "floats";
    case Attribute::Kind::kInts: return "ints";
    case Attribute::Kind::kStrings: return "strings";
    case Attribute::Kind::kTensors: return "tensors";
    case Attribute::Kind::kGraphs: return "graphs";
    case Attribute::Kind::kSparseTensor: return "sparse_tensor";
    case Attribute::Kind::kSparseTensors: return "sparse_tensors";
    case Attribute::Kind::kTypeProto: return "type_proto";
    case Attribute::Kind::kTypeProtos: return "type_protos";
    case Attribute::Kind::kUndefined: break;
  }
  return "undefined";
}

const Attribute* Attributes::find(std::string_view name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

namespace {
Status wrong_kind(std::string_view where, std::string_view name, const Attribute& a, const char* want) {
  return error(StatusCode::kInvalidArgument, where, ": attribute '", name, "' is ", attribute_kind_name(a.kind),
               ", expected ", want);
}
}  // namespace

Result<int64_t> Attributes::get_int(std::string_view name, int64_t dflt, std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kInt) return wrong_kind(where, name, *a, "int");
  return a->i;
}

Result<float> Attributes::get_float(std::string_view name, float dflt, std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);  // exporters mix these up
  if (a->kind != Attribute::Kind::kFloat) return wrong_kind(where, name, *a, "float");
  return a->f;
}

Result<std::string> Attributes::get_string(std::string_view name, std::string dflt, std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kString) return wrong_kind(where, name, *a, "string");
  return a->s;
}

Result<std::vector<int64_t>> Attributes::get_ints(std::string_view name, std::vector<int64_t> dflt,
                                                  std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kInts) return wrong_kind(where, name, *a, "ints");
  return a->ints;
}

Result<std::vector<float>> Attributes::get_floats(std::string_view name, std::vector<float> dflt,
                                                  std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::kFloats) return wrong_kind(where, name, *a, "floats");
  return a->floats;
}

Result<Tensor> Attributes::get_tensor(std::string_view name, std::string_view where) const {
  const Attribute* a = find(name);
  if (!a) return error(StatusCode::kInvalidArgument, where, ": required attribute '", name, "' is missing");
  if (a->kind != Attribute::Kind::kTensor) return wrong_kind(where, name, *a, "tensor");
  return a->t;
}

}  // namespace quench::ops
