// Node attributes as ONNX defines them, with typed getters that name the node on error.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quench/status.h"
#include "quench/tensor.h"

namespace quench::ir {
struct Graph;  // subgraph attributes (If/Loop bodies) are held, never run
}

namespace quench::ops {

struct Attribute {
  // Numbered as ONNX's AttributeProto.AttributeType.
  enum class Kind : int32_t {
    kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5,
    kFloats = 6, kInts = 7, kStrings = 8, kTensors = 9, kGraphs = 10,
    kSparseTensor = 11, kSparseTensors = 12, kTypeProto = 13, kTypeProtos = 14,
  };
  Kind kind = Kind::kUndefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<const ir::Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<const ir::Graph>> graphs;
};

const char* attribute_kind_name(Attribute::Kind k);

// Getters return the default when the attribute is absent, and an error naming node and
// attribute when it is present with the wrong kind.
class Attributes {
 public:
  void set(std::string name, Attribute a) { map_[std::move(name)] = std::move(a); }
  bool has(std::string_view name) const { return map_.find(name) != map_.end(); }
  const Attribute* find(std::string_view name) const;
  const std::map<std::string, Attribute, std::less<>>& all() const { return map_; }
  size_t size() const { return map_.size(); }

  // `where` names the node in error messages, e.g. "Conv node 'conv1'".
  Result<int64_t> get_int(std::string_view name, int64_t dflt, std::string_view where) const;
  Result<float> get_float(std::string_view name, float dflt, std::string_view where) const;
  Result<std::string> get_string(std::string_view name, std::string dflt, std::string_view where) const;
  Result<std::vector<int64_t>> get_ints(std::string_view name, std::vector<int64_t> dflt,
                                        std::string_view where) const;
  Result<std::vector<float>> get_floats(std::string_view name, std::vector<float> dflt,
                                        std::string_view where) const;
  Result<Tensor> get_tensor(std::string_view name, std::string_view where) const;  // required

 private:
  std::map<std::string, Attribute, std::less<>> map_;
};

}  // namespace quench::ops
