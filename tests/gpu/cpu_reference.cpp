#include "tests/gpu/cpu_reference.h"

#include <cstring>
#include <sstream>

#include "ops/op.h"
#include "ops/registry.h"
#include "quench/float16.h"
#include "tests/gpu/gpu_harness.h"

namespace quench::gpu_test {

Result<std::vector<Tensor>> run_reference(std::string_view op_type, const ops::Attributes& attrs,
                                          const std::vector<RefInput>& inputs, int64_t opset, int outputs,
                                          std::string_view domain) {
  const ops::OpSchema* schema = ops::find_schema(op_type, domain);
  if (!schema || !schema->infer || !schema->run_cpu)
    return error(StatusCode::kNotFound, "no CPU reference for ", op_type);
  ops::NodeDesc node;
  node.name = "reference";
  node.op_type = std::string(op_type);
  node.domain = std::string(domain);
  node.opset = opset;
  node.attrs = attrs;
  std::vector<ops::ValueDesc> in_desc(inputs.size());
  std::vector<ops::TensorView> in_views(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i].value;
    if (!t.defined()) {
      in_desc[i].present = false;
      continue;
    }
    in_desc[i].dtype = t.dtype();
    in_desc[i].shape = t.shape();
    in_desc[i].constant = inputs[i].constant ? &t : nullptr;
    in_views[i].dtype = t.dtype();
    in_views[i].shape = t.shape();
    in_views[i].data = const_cast<void*>(t.data());
  }
  std::vector<ops::ValueDesc> out_desc(static_cast<size_t>(outputs));
  QUENCH_TRY(schema->infer(node, in_desc, out_desc));
  std::vector<Tensor> result;
  std::vector<ops::TensorView> out_views;
  for (const auto& d : out_desc) {
    result.push_back(Tensor::zeros(d.dtype, d.shape));
    out_views.push_back(ops::TensorView{d.dtype, d.shape, result.back().mutable_data()});
  }
  const size_t ws_bytes = schema->workspace_bytes ? schema->workspace_bytes(node, in_desc, out_desc) : 0;
  Tensor workspace = Tensor::zeros(DType::kU8, {static_cast<int64_t>(ws_bytes)});  // 64-byte aligned
  QUENCH_TRY(schema->run_cpu(node, in_views, out_views, ws_bytes ? workspace.mutable_data() : nullptr));
  return result;
}

ops::Attribute attr_int(int64_t v) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kInt;
  a.i = v;
  return a;
}
ops::Attribute attr_float(float v) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
ops::Attribute attr_string(std::string v) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}
ops::Attribute attr_ints(std::vector<int64_t> v) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

Tensor f32_from_half(const std::vector<uint16_t>& bits, const Shape& shape) {
  Tensor t = Tensor::zeros(DType::kF32, shape);
  float* p = t.mutable_data_as<float>();
  for (size_t i = 0; i < bits.size() && static_cast<int64_t>(i) < t.numel(); ++i) p[i] = half_to_float(bits[i]);
  return t;
}

std::vector<double> doubles_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.value_as_double(static_cast<int64_t>(i));
  return v;
}

Tensor f16_tensor(const std::vector<uint16_t>& bits, const Shape& shape) {
  return Tensor::from_values(DType::kF16, shape, bits);
}

std::vector<uint16_t> bits_of(const Tensor& t) {
  std::vector<uint16_t> v(static_cast<size_t>(t.numel()));
  if (dtype_size(t.dtype()) == 2 && !v.empty()) std::memcpy(v.data(), t.data(), v.size() * 2);
  return v;
}

Tensor nchw_from_nhwc_half(const std::vector<uint16_t>& nhwc, int64_t n, int64_t h, int64_t w, int64_t c) {
  Tensor t = Tensor::zeros(DType::kF32, {n, c, h, w});
  float* p = t.mutable_data_as<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t ch = 0; ch < c; ++ch)
          p[((b * c + ch) * h + y) * w + x] = half_to_float(nhwc[static_cast<size_t>(((b * h + y) * w + x) * c + ch)]);
  return t;
}

std::vector<double> nhwc_from_nchw(const Tensor& t) {
  const Shape& s = t.shape();
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          out[static_cast<size_t>(((b * h + y) * w + x) * c + ch)] = t.value_as_double(((b * c + ch) * h + y) * w + x);
  return out;
}

namespace {

template <class U>
::testing::AssertionResult bits_equal_impl(const std::vector<U>& got, const std::vector<U>& want, U poison) {
  if (got.size() < want.size())
    return ::testing::AssertionFailure() << "got " << got.size() << " elements, want " << want.size();
  size_t unwritten = 0, wrong = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    if (unwritten + wrong == 0) first = i;
    if (got[i] == poison) {
      ++unwritten;
    } else {
      ++wrong;
    }
  }
  if (unwritten + wrong == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os << std::hex << "0x" << static_cast<uint64_t>(got[first]) << " instead of 0x" << static_cast<uint64_t>(want[first]);
  return ::testing::AssertionFailure() << unwritten << " elements unwritten (poison) and " << wrong << " wrong of "
                                       << want.size() << "; first at [" << first << "]: " << os.str();
}

}  // namespace

::testing::AssertionResult bits_equal(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want) {
  return bits_equal_impl<uint16_t>(got, want, kPoisonHalf);
}

::testing::AssertionResult bits_equal(const std::vector<uint32_t>& got, const std::vector<uint32_t>& want) {
  return bits_equal_impl<uint32_t>(got, want, 0x7F7F7F7Fu);
}

std::vector<uint16_t> half_bits_of(const std::vector<double>& values) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = float_to_half(static_cast<float>(values[i]));
  return out;
}

}  // namespace quench::gpu_test
