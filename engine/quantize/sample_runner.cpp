#include "engine/quantize/sample_runner.h"

#include <limits>

#include "engine/optimizer/optimizer.h"
#include "engine/relative_l2.h"

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
    RelativeL2 e;
    for (const auto& [name, w] : want[k]) {
      auto it = got[k].find(name);
      if (it == got[k].end() || w.dtype() != DType::kF32 || it->second.dtype() != DType::kF32 ||
          it->second.numel() != w.numel())
        return std::numeric_limits<double>::infinity();
      e.add(it->second, w);
    }
    total += e.value();
  }
  return total / static_cast<double>(got.size());
}

}  // namespace quench::quant_pass
