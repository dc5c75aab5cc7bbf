// The result of calibration: one symmetric INT8 scale per activation tensor, with the
// threshold it came from, and the method and sample count that produced them. Saved as a
// small text file so that calibration runs once and later builds import it.
//
// Text format (UTF-8, one record per line, '#' lines ignored):
//   quench-calibration 1
//   method entropy                   max | percentile | entropy
//   percentile 99.99                 the percentile used (also written for other methods)
//   samples 256                      calibration inputs the statistics came from
//   tensor <amax> <scale> <name>     one per tensor; name is the rest of the line
// Numbers are written in the shortest decimal form that reads back to the same float/double
// (std::to_chars), so export -> import is exact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "engine/calibration/scale_methods.h"
#include "quench/status.h"

namespace quench::calib {

struct CalibrationEntry {
  double amax = 0;   // the clipping threshold |x| maps to 127
  float scale = 1;   // scale_from_threshold(amax): positive, finite
  bool operator==(const CalibrationEntry&) const = default;
};

struct CalibrationTable {
  CalibrationMethod method = CalibrationMethod::kEntropy;
  double percentile = 99.99;
  int64_t samples = 0;
  std::map<std::string, CalibrationEntry, std::less<>> tensors;

  const CalibrationEntry* find(std::string_view name) const;
  bool operator==(const CalibrationTable&) const = default;
};

// Fails (kInvalidArgument) for a tensor name holding a line break, or an entry whose scale
// is not positive and finite.
Result<std::string> calibration_table_to_text(const CalibrationTable& t);
// Errors are kParseError naming `source` and the line.
Result<CalibrationTable> calibration_table_from_text(std::string_view text, std::string_view source = "<text>");

Status save_calibration_table(const std::string& path, const CalibrationTable& t);
Result<CalibrationTable> load_calibration_table(const std::string& path);

}  // namespace quench::calib
