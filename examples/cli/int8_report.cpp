#include "cli/int8_report.h"

#include <cstdio>

namespace quench::cli {

void print_int8_report(const Int8Report& q, bool all_layers) {
  if (q.layers.empty()) return;
  int64_t int8 = 0;
  for (const auto& l : q.layers) int8 += l.precision == Precision::kINT8;
  std::printf("int8        %lld of %lld matrix products in INT8 (calibration %s, %lld samples)\n",
              static_cast<long long>(int8), static_cast<long long>(q.layers.size()), q.method.c_str(),
              static_cast<long long>(q.samples));
  if (q.error >= 0) std::printf("            error on the budget samples %.6f (budget %.6f)\n", q.error, q.budget);
  for (const auto& l : q.layers) {
    if (!all_layers && l.precision == Precision::kINT8) continue;
    std::printf("  %-5s %-40s %-12s %s", precision_name(l.precision), l.node.c_str(), l.op_type.c_str(), l.reason.c_str());
    if (l.sensitivity >= 0) std::printf(" (alone in INT8: %.6f)", l.sensitivity);
    std::printf("\n");
  }
}

void write_int8_report(JsonWriter& j, const Int8Report& q) {
  if (q.layers.empty()) return;
  j.key("int8").begin_object().field("method", q.method).field("calibration_samples", q.samples);
  j.field("budget", q.budget).field("budget_error", q.error).key("layers").begin_array();
  for (const auto& l : q.layers)
    j.begin_object().field("node", l.node).field("op", l.op_type).field("precision", precision_name(l.precision))
        .field("reason", l.reason).field("sensitivity", l.sensitivity).end_object();
  j.end_array().end_object();
}

}  // namespace quench::cli
