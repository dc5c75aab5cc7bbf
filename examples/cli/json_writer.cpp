#include "cli/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace quench::cli {

void JsonWriter::newline() {
  out_ += '\n';
  out_.append(2 * stack_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {  // the key already placed the separator
    after_key_ = false;
    return;
  }
  if (stack_.empty()) return;
  Level& l = stack_.back();
  if (!l.empty) out_ += l.inline_elements ? ", " : ",";
  if (!l.inline_elements) newline();
  l.empty = false;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  stack_.push_back({true, false});
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) newline();
  out_ += '}';
  if (stack_.empty()) out_ += '\n';
  return *this;
}

JsonWriter& JsonWriter::begin_array(bool inline_elements) {
  before_value();
  out_ += '[';
  // Inside an inline array everything stays inline.
  const bool parent_inline = !stack_.empty() && stack_.back().inline_elements;
  stack_.push_back({false, inline_elements || parent_inline});
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  const Level l = stack_.back();
  stack_.pop_back();
  if (!l.empty && !l.inline_elements) newline();
  out_ += ']';
  if (stack_.empty()) out_ += '\n';
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  before_value();
  out_ += quote(k);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  out_ += quote(s);
  return *this;
}

JsonWriter& JsonWriter::value(int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  before_value();
  if (!std::isfinite(v)) {  // JSON has no NaN or Infinity
    out_ += "null";
    return *this;
  }
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that round-trips
  out_.append(buf, ec == std::errc() ? p : buf);
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::shape(std::string_view k, const std::vector<int64_t>& dims) {
  key(k).begin_array(true);
  for (int64_t d : dims) value(d);
  return end_array();
}

std::string JsonWriter::quote(std::string_view s) {
  std::string r = "\"";
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') { r += "\\\""; ++i; continue; }
    if (c == '\\') { r += "\\\\"; ++i; continue; }
    if (c == '\n') { r += "\\n"; ++i; continue; }
    if (c == '\r') { r += "\\r"; ++i; continue; }
    if (c == '\t') { r += "\\t"; ++i; continue; }
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      r += buf;
      ++i;
      continue;
    }
    if (c < 0x80) { r += static_cast<char>(c); ++i; continue; }
    // A multi-byte UTF-8 sequence passes through when well formed (no overlongs, no
    // surrogates, at most U+10FFFF); any other byte becomes U+FFFD, so the output always parses.
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    bool ok = len > 0 && c >= 0xc2 && c <= 0xf4 && i + len <= s.size();
    uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok) ok = !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) && !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (ok) {
      r.append(s.substr(i, len));
      i += len;
    } else {
      r += "\\ufffd";
      ++i;
    }
  }
  return r + "\"";
}

void latency_json(JsonWriter& j, const char* key, const LatencyStats& st, const char* clock) {
  j.key(key).begin_object();
  if (clock) j.field("clock", clock);
  j.field("percentiles", "linear interpolation");
  j.field("count", st.count).field("min", st.min).field("mean", st.mean).field("p50", st.p50).field("p90", st.p90);
  j.field("p95", st.p95).field("p99", st.p99).field("max", st.max).field("stddev", st.stddev);
  j.field("p99_over_p50", st.p99_over_p50).field("total", st.total);
  j.end_object();
}

}  // namespace quench::cli
