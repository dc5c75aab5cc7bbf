#include "engine/quantize/sample_runner.h"

#include <cmath>
#include <limits>

#include "engine/optimizer/optimizer.h"

namespace quench::quant_pass {

Result<SampleRunner> SampleRunner::create(const ir::Graph& g, const BuildOptions& opt, int64_t batch,
                                          const std::string& source) {
  QUENCH_ASSIGN(auto specialized, specialize_optimized(g, opt, batch, source, nullptr));
  SampleRunner r;
  QUENCH_ASSIGN(r.exec_, CpuExecutor::create(std::move(specialized)));
  return r;
}

Result<std::vector<TensorMap>> SampleRunner::run(const std::vector<TensorMap>& samples) {
  std::vector<TensorMap> out(samples.size());
  for (size_t k = 0; k < samples.size(); ++k) {
    Status st = exec_->run(samples[k], out[k]);
    if (!st.ok()) return st.with_context("sample " + std::to_string(k));
  }
  return out;
}

double mean_relative_l2(const std::vector<TensorMap>& got, const std::vector<TensorMap>& want) {
  if (got.size() != want.size() || got.empty()) return std::numeric_limits<double>::infinity();
  double total = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    double diff = 0, norm = 0;
    for (const auto& [name, w] : want[k]) {
      auto it = got[k].find(name);
      if (it == got[k].end() || w.dtype() != DType::kF32 || it->second.dtype() != DType::kF32 ||
          it->second.numel() != w.numel())
        return std::numeric_limits<double>::infinity();
      const float* a = it->second.data_as<float>();
      const float* b = w.data_as<float>();
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        diff += d * d;
        norm += static_cast<double>(b[i]) * b[i];
      }
    }
    if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
    total += norm > 0 ? std::sqrt(diff / norm) : (diff > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  }
  return total / static_cast<double>(got.size());
}

}  // namespace quench::quant_pass
