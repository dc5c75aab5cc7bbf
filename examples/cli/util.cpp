#include "cli/util.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <thread>

#include "quench/float16.h"

namespace quench::cli {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string si(double v) {
  const char* units[] = {"", " K", " M", " G", " T", " P"};
  int u = 0;
  double a = std::fabs(v);
  while (a >= 1000 && u < 5) {
    a /= 1000;
    v /= 1000;
    ++u;
  }
  return u == 0 ? fixed(v, 0) : fixed(v, a >= 100 ? 1 : 2) + units[u];
}

std::string bytes_str(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fixed(bytes, 0) + " B" : fixed(bytes, 1) + " " + units[u];
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string file_name_for(const std::string& tensor_name, std::set<std::string>* taken) {
  std::string base;
  for (char c : tensor_name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    base += keep ? c : '_';
  }
  if (base.empty()) base = "output";
  if (base[0] == '.') base[0] = '_';
  if (base.size() > 200) base.resize(200);  // file names are limited to 255 bytes
  std::string name = base;
  for (int k = 2; taken->count(name); ++k) name = base + "_" + std::to_string(k);
  taken->insert(name);
  return name;
}

std::string device_description(Backend b) {
  if (b == Backend::kCpu) return "cpu: " + cpu_description();
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) return "cuda (unknown device)";
  return "cuda:" + std::to_string(dev) + " " + prop.name + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

std::string cpu_description() {
  std::string model = "unknown CPU";
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        model = line.substr(colon + 1);
        model.erase(0, model.find_first_not_of(" \t"));
      }
      break;
    }
  }
  return model + " (" + std::to_string(std::thread::hardware_concurrency()) + " threads)";
}

void fill_random(Tensor& t, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 9), byte(0, 255), bit(0, 1);
  void* p = t.mutable_data();
  const int64_t n = t.numel();
  if (!p) return;
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype()) {
      case DType::kF32: static_cast<float*>(p)[i] = real(rng); break;
      case DType::kF64: static_cast<double*>(p)[i] = real(rng); break;
      case DType::kF16: static_cast<uint16_t*>(p)[i] = float_to_half(real(rng)); break;
      case DType::kBF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(real(rng)); break;
      case DType::kU8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(byte(rng)); break;
      case DType::kBool: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(bit(rng)); break;
      case DType::kI8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(small(rng)); break;
      case DType::kI16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(small(rng)); break;
      case DType::kU16: static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(small(rng)); break;
      case DType::kI32: static_cast<int32_t*>(p)[i] = small(rng); break;
      case DType::kU32: static_cast<uint32_t*>(p)[i] = static_cast<uint32_t>(small(rng)); break;
      case DType::kI64: static_cast<int64_t*>(p)[i] = small(rng); break;
      case DType::kU64: static_cast<uint64_t*>(p)[i] = static_cast<uint64_t>(small(rng)); break;
      default: return;
    }
  }
}

bool convert_float(const Tensor& t, DType to, Tensor* out) {
  if (!dtype_is_float(t.dtype()) || !dtype_is_float(to)) return false;
  Tensor r = Tensor::zeros(to, t.shape());
  void* p = r.mutable_data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.value_as_double(i);
    switch (to) {
      case DType::kF32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
      case DType::kF64: static_cast<double*>(p)[i] = v; break;
      case DType::kF16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
      case DType::kBF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
      default: return false;
    }
  }
  *out = std::move(r);
  return true;
}

TensorSummary summarize(const Tensor& t, size_t first_count) {
  TensorSummary s;
  double sum = 0;
  int64_t finite = 0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.value_as_double(i);
    if (static_cast<size_t>(i) < first_count) s.first.push_back(v);
    if (std::isnan(v)) { ++s.nan_count; continue; }
    if (std::isinf(v)) { ++s.inf_count; continue; }
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    sum += v;
    ++finite;
  }
  if (finite == 0) s.min = s.max = std::numeric_limits<double>::quiet_NaN();
  s.mean = finite ? sum / static_cast<double>(finite) : std::numeric_limits<double>::quiet_NaN();
  return s;
}

}  // namespace quench::cli
