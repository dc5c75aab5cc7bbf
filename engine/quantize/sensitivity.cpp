#include "engine/quantize/sensitivity.h"

#include <algorithm>

#include "engine/quantize/sample_runner.h"

namespace quench::quant_pass {
namespace {

// The error of the graph quantized with the user's float layers and `more` float, against `reference`.
Result<double> error_with(const SensitivityInputs& in, const NameSet& more, const std::vector<TensorMap>& reference) {
  ir::Graph g = *in.graph;
  QUENCH_TRY(quantize_graph(g, *in.table, {in.keep_float, more}, nullptr));
  QUENCH_ASSIGN(SampleRunner runner, SampleRunner::create(g, *in.build, in.batch, in.source));
  QUENCH_ASSIGN(auto got, runner.run(in.samples));
  return mean_relative_l2(got, reference);
}

}  // namespace

Result<SensitivityResult> choose_float_layers(const SensitivityInputs& in) {
  auto say = [&](const std::string& s) {
    if (in.progress) in.progress(s);
  };
  QUENCH_ASSIGN(SampleRunner float_runner, SampleRunner::create(*in.graph, *in.build, in.batch, in.source));
  QUENCH_ASSIGN(auto reference, float_runner.run(in.samples));

  std::vector<std::string> layers;
  for (const auto& l : int8_candidates(*in.graph, *in.table))
    if (l.int8 && !in.keep_float.count(l.node)) layers.push_back(l.node);

  SensitivityResult r;
  for (size_t i = 0; i < layers.size(); ++i) {
    NameSet others;
    for (const auto& l : layers)
      if (l != layers[i]) others.insert(l);
    QUENCH_ASSIGN(double e, error_with(in, others, reference));
    r.sensitivity[layers[i]] = e;
    say("sensitivity " + std::to_string(i + 1) + "/" + std::to_string(layers.size()) + ": " + layers[i] + " " +
        std::to_string(e));
  }
  // Most sensitive first; ties in graph order, so the result does not depend on map order.
  std::vector<std::string> order = layers;
  std::stable_sort(order.begin(), order.end(),
                   [&](const std::string& a, const std::string& b) { return r.sensitivity[a] > r.sensitivity[b]; });
  auto keep_first = [&](size_t k) {
    return NameSet(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(std::min(k, order.size())));
  };
  std::map<size_t, double> measured;
  auto error_at = [&](size_t k) -> Result<double> {
    auto it = measured.find(k);
    if (it != measured.end()) return it->second;
    QUENCH_ASSIGN(double e, error_with(in, keep_first(k), reference));
    say("budget: " + std::to_string(k) + " layer(s) float -> error " + std::to_string(e));
    measured[k] = e;
    return e;
  };
  QUENCH_ASSIGN(double e0, error_at(0));
  size_t best = 0;
  if (e0 > in.budget) {
    // Doubling finds a k that meets the budget (k = all of them is float: error 0 up to the
    // float graph's own rounding), then bisection the smallest such k.
    size_t lo = 0, hi = 1;
    while (hi < order.size()) {
      QUENCH_ASSIGN(double e, error_at(hi));
      if (e <= in.budget) break;
      lo = hi;
      hi *= 2;
    }
    hi = std::min(hi, order.size());
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      QUENCH_ASSIGN(double e, error_at(mid));
      (e <= in.budget ? hi : lo) = mid;
    }
    best = hi;
  }
  r.for_accuracy = keep_first(best);
  QUENCH_ASSIGN(r.error, error_at(best));
  return r;
}

}  // namespace quench::quant_pass
