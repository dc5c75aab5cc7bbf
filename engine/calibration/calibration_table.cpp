#include "engine/calibration/calibration_table.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace quench::calib {
namespace {

constexpr std::string_view kHeader = "quench-calibration 1";

template <class T>
std::string number(T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// The whole of `s` as a T, or false.
template <class T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Splits off the first space-separated token of `rest`.
std::string_view next_token(std::string_view& rest) {
  const size_t sp = rest.find(' ');
  std::string_view tok = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return tok;
}

bool valid_scale(float s) { return s > 0 && std::isfinite(s); }

}  // namespace

const CalibrationEntry* CalibrationTable::find(std::string_view name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

Result<std::string> calibration_table_to_text(const CalibrationTable& t) {
  std::string out;
  out += kHeader;
  out += "\nmethod ";
  out += method_name(t.method);
  out += "\npercentile " + number(t.percentile) + "\nsamples " + std::to_string(t.samples) + "\n";
  for (const auto& [name, e] : t.tensors) {
    if (name.empty() || name.find_first_of("\r\n") != std::string::npos)
      return error(StatusCode::kInvalidArgument, "calibration table: tensor name '", name,
                   "' cannot be written (empty or holds a line break)");
    if (!valid_scale(e.scale) || !(e.amax >= 0) || !std::isfinite(e.amax))
      return error(StatusCode::kInvalidArgument, "calibration table: tensor '", name, "' has scale ", e.scale,
                   " and threshold ", e.amax, "; the scale must be positive and finite, the threshold >= 0");
    out += "tensor " + number(e.amax) + " " + number(e.scale) + " " + name + "\n";
  }
  return out;
}

Result<CalibrationTable> calibration_table_from_text(std::string_view text, std::string_view source) {
  CalibrationTable t;
  bool header = false;
  int line_no = 0;
  auto fail = [&](const auto&... what) { return error(StatusCode::kParseError, source, ":", line_no, ": ", what...); };
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!header) {
      if (line != kHeader) return fail("expected '", kHeader, "', got '", line, "'");
      header = true;
      continue;
    }
    std::string_view rest = line;
    const std::string_view key = next_token(rest);
    if (key == "method") {
      if (!method_from_name(rest, &t.method)) return fail("unknown method '", rest, "'");
    } else if (key == "percentile") {
      if (!parse_number(rest, &t.percentile) || !(t.percentile > 0 && t.percentile <= 100))
        return fail("percentile '", rest, "' is not a number in (0, 100]");
    } else if (key == "samples") {
      if (!parse_number(rest, &t.samples) || t.samples < 0) return fail("samples '", rest, "' is not a count");
    } else if (key == "tensor") {
      CalibrationEntry e;
      const std::string_view amax = next_token(rest), scale = next_token(rest);
      if (!parse_number(amax, &e.amax) || !(e.amax >= 0) || !std::isfinite(e.amax))
        return fail("threshold '", amax, "' is not a finite number >= 0");
      if (!parse_number(scale, &e.scale) || !valid_scale(e.scale))
        return fail("scale '", scale, "' is not a positive finite number");
      if (rest.empty()) return fail("a tensor entry without a name");
      if (!t.tensors.emplace(std::string(rest), e).second) return fail("tensor '", rest, "' is listed twice");
    } else {
      return fail("unknown record '", key, "'");
    }
  }
  if (!header) return error(StatusCode::kParseError, source, ": empty, not a quench calibration table");
  return t;
}

Status save_calibration_table(const std::string& path, const CalibrationTable& t) {
  QUENCH_ASSIGN(std::string text, calibration_table_to_text(t));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error(StatusCode::kIoError, "cannot open '", path, "' for writing");
  f << text;
  f.close();
  if (!f) return error(StatusCode::kIoError, "cannot write '", path, "'");
  return {};
}

Result<CalibrationTable> load_calibration_table(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error(StatusCode::kIoError, "cannot open calibration table '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return error(StatusCode::kIoError, "cannot read '", path, "'");
  return calibration_table_from_text(ss.str(), path);
}

}  // namespace quench::calib
