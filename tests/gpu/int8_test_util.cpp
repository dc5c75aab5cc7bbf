#include "tests/gpu/int8_test_util.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "quench/float16.h"
#include "tests/gpu/cpu_reference.h"

namespace quench::gpu_test {

using kernels::Activation;
using kernels::EpilogueParams;

std::vector<int8_t> random_int8(size_t count, std::mt19937_64& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> v(count);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

std::vector<int32_t> random_int32(size_t count, std::mt19937_64& rng, int32_t lo, int32_t hi) {
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<int32_t> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> random_scales(size_t count, std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(std::log(lo), std::log(hi));
  std::vector<float> v(count);
  for (auto& x : v) x = std::exp(d(rng));
  return v;
}

LayerScales layer_scales(int64_t channels, int64_t reduction, std::mt19937_64& rng) {
  // A uniform INT8 value has a standard deviation of about 74, so a dot product of `reduction`
  // terms about 74 * 74 * sqrt(reduction). Scale it to a real value of about 3 (where sigmoid,
  // HardSwish and ReLU6 all bend) and the output step to a fortieth of that.
  const double dot = 74.0 * 74.0 * std::sqrt(static_cast<double>(reduction));
  const float jitter = random_scales(1, rng, 0.8f, 1.25f)[0];
  LayerScales s;
  s.w_scale = random_scales(static_cast<size_t>(channels), rng, 1.0f / 128, 1.0f / 32);
  s.x_scale = static_cast<float>(3.0 * 64.0 / dot) * jitter;
  s.y_scale = 3.0f / 40.0f * random_scales(1, rng, 0.8f, 1.25f)[0];
  s.r_scale = s.y_scale * random_scales(1, rng, 0.5f, 2.0f)[0];
  s.bias_range = static_cast<int32_t>(std::min(dot, 1e9));
  return s;
}

std::vector<EpilogueParams> int8_activations() {
  std::vector<EpilogueParams> out;
  EpilogueParams p;
  for (Activation a : {Activation::kNone, Activation::kRelu, Activation::kHardSwish, Activation::kSigmoid,
                       Activation::kSilu}) {
    p.activation = a;
    out.push_back(p);
  }
  out.push_back(EpilogueParams::relu6());
  p = {};
  p.activation = Activation::kClip;
  p.clip_min = -0.5f;
  p.clip_max = 0.75f;
  out.push_back(p);
  p = {};
  p.activation = Activation::kLeakyRelu;
  p.alpha = 0.1f;
  out.push_back(p);
  return out;
}

bool exact_activation(Activation act) {
  return act == Activation::kNone || act == Activation::kRelu || act == Activation::kClip;
}

std::string int8_case_label(Output out, const EpilogueParams& act, bool bias, bool residual) {
  std::ostringstream os;
  os << kernels::int8::output_name(out) << "_" << epilogue_label(act) << (bias ? "_bias" : "") << (residual ? "_res" : "");
  return os.str();
}

ops::Attributes quant_attrs(const kernels::int8::EpilogueSpec& spec, bool has_residual) {
  ops::Attributes a;
  a.set("x_scale", attr_float(spec.x_scale));
  const bool int8_out = spec.output == Output::kInt8;
  a.set("output_type", attr_int(int8_out ? 3 : 1));
  if (int8_out) a.set("y_scale", attr_float(spec.y_scale));
  if (int8_out && has_residual) a.set("r_scale", attr_float(spec.r_scale));
  const EpilogueParams& p = spec.activation;
  switch (p.activation) {
    case Activation::kNone: break;
    case Activation::kRelu: a.set("activation", attr_string("Relu")); break;
    case Activation::kClip:
      a.set("activation", attr_string("Clip"));
      a.set("activation_alpha", attr_float(p.clip_min));
      a.set("activation_beta", attr_float(p.clip_max));
      break;
    case Activation::kHardSwish: a.set("activation", attr_string("HardSwish")); break;
    case Activation::kSilu: a.set("activation", attr_string("SiLU")); break;
    case Activation::kLeakyRelu:
      a.set("activation", attr_string("LeakyRelu"));
      a.set("activation_alpha", attr_float(p.alpha));
      break;
    case Activation::kSigmoid: a.set("activation", attr_string("Sigmoid")); break;
  }
  if (p.residual_after_activation) a.set("residual_after_activation", attr_int(1));
  return a;
}

::testing::AssertionResult make_device_epilogue(const kernels::int8::EpilogueSpec& spec, int64_t channels,
                                                const std::vector<float>& w_scale, const std::vector<int32_t>* bias,
                                                DeviceEpilogue* out) {
  std::vector<int32_t> table(kernels::int8::table_words(channels));
  const Status st = kernels::int8::make_epilogue(spec, channels, w_scale.data(), bias ? bias->data() : nullptr, &out->epi,
                                                 table.data());
  if (!st.ok()) return ::testing::AssertionFailure() << "make_epilogue: " << st.message();
  out->table = DeviceBuffer<int32_t>(table.size());
  if (out->table.status() != cudaSuccess) return cuda_ok(out->table.status(), "cudaMalloc (channel table)");
  return cuda_ok(out->table.upload(table), "upload channel table");
}

size_t output_bytes(Output out) { return out == Output::kInt8 ? 1 : out == Output::kFloat16 ? 2 : 4; }

std::vector<uint8_t> expected_bytes(const Tensor& reference, Output out, const std::vector<size_t>& order) {
  const size_t eb = output_bytes(out);
  std::vector<uint8_t> bytes(order.size() * eb);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t r = static_cast<int64_t>(order[i]);
    if (out == Output::kInt8) {
      bytes[i] = static_cast<uint8_t>(reference.data_as<int8_t>()[r]);
    } else if (out == Output::kFloat32) {
      std::memcpy(&bytes[i * 4], reference.data_as<float>() + r, 4);
    } else {
      const uint16_t h = float_to_half(reference.data_as<float>()[r]);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

namespace {

double value_at(const std::vector<uint8_t>& raw, size_t i, Output out) {
  if (out == Output::kInt8) return static_cast<int8_t>(raw[i]);
  if (out == Output::kFloat32) {
    float f;
    std::memcpy(&f, &raw[i * 4], 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, &raw[i * 2], 2);
  return half_to_float(h);
}

bool same_bits(const std::vector<uint8_t>& a, size_t i, const std::vector<uint8_t>& b, size_t j, size_t eb) {
  return std::memcmp(&a[i * eb], &b[j * eb], eb) == 0;
}

// The spacing of floats (FP32: 2^-23, FP16: 2^-10 relative) at magnitude v.
double ulp_at(double v, Output out) {
  const int mant = out == Output::kFloat32 ? 23 : 10;
  const double min_normal = out == Output::kFloat32 ? std::ldexp(1.0, -126) : std::ldexp(1.0, -14);
  const double a = std::max(std::fabs(v), min_normal);
  int e = 0;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  return std::ldexp(1.0, e - 1 - mant);
}

}  // namespace

::testing::AssertionResult outputs_match(const std::vector<uint8_t>& got, const std::vector<size_t>& got_index,
                                         const std::vector<uint8_t>& want, Output out, bool exact,
                                         const std::vector<float>& residual) {
  const size_t eb = output_bytes(out), n = got_index.size();
  if (want.size() != n * eb) return ::testing::AssertionFailure() << "reference has the wrong size";
  size_t bad = 0, nonfinite = 0, inexact = 0, first = 0;
  bool ref_nonzero = false;
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t g = got_index[i];
    const double w = value_at(want, i, out), v = value_at(got, g, out);
    if (w != 0) ref_nonzero = true;
    if (!std::isfinite(v)) {
      if (bad++ == 0) first = i;
      ++nonfinite;
      continue;
    }
    if (same_bits(got, g, want, i, eb)) continue;
    ++inexact;
    bool ok = false;
    if (!exact) {
      const double err = std::fabs(v - w);
      if (out == Output::kInt8) {
        ok = err <= 1;
      } else {
        const double scale = std::max(std::fabs(w), residual.empty() ? 0.0 : std::fabs(static_cast<double>(residual[i])));
        ok = err <= (out == Output::kFloat32 ? 4 : 1) * ulp_at(scale, out);
      }
      worst = std::max(worst, err);
    }
    if (!ok && bad++ == 0) first = i;
  }
  std::ostringstream os;
  if (bad == 0 && ref_nonzero)
    return ::testing::AssertionSuccess() << n << " outputs, " << inexact << " within the tolerance, not bit-exact";
  if (!ref_nonzero) os << "the reference is all zero (the case proves nothing); ";
  if (bad) {
    os << bad << " of " << n << " outputs wrong (" << nonfinite << " NaN/Inf)" << (exact ? ", bit-exact expected" : "")
       << "; first at [" << first << "] (buffer element " << got_index[first] << "): got " << value_at(got, got_index[first], out)
       << ", reference " << value_at(want, first, out);
  }
  return ::testing::AssertionFailure() << os.str();
}

::testing::AssertionResult poison_kept(const std::vector<uint8_t>& got, const std::vector<size_t>& index, Output out,
                                       int poison) {
  const size_t eb = output_bytes(out);
  size_t bad = 0, first = 0;
  for (size_t i : index) {
    for (size_t b = 0; b < eb; ++b) {
      if (got[i * eb + b] != static_cast<uint8_t>(poison)) {
        if (bad++ == 0) first = i;
        break;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " elements outside the output were overwritten (first at " << first << ")";
}

}  // namespace quench::gpu_test
