// A small streaming JSON writer for the --json reports: always valid output (strings escaped,
// invalid UTF-8 replaced, non-finite numbers written as null), indented for people to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quench/stats.h"

namespace quench::cli {

class JsonWriter {
 public:
  // Containers. An inline array keeps its elements on one line (shapes, short value lists).
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array(bool inline_elements = false);
  JsonWriter& end_array();
  // The key of the next value inside an object.
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(uint64_t v);
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  JsonWriter& null();

  // key(k).value(v) in one call.
  template <class T>
  JsonWriter& field(std::string_view k, const T& v) { return key(k).value(v); }
  JsonWriter& shape(std::string_view k, const std::vector<int64_t>& dims);

  const std::string& str() const { return out_; }

  // The JSON string literal for `s`, quotes included.
  static std::string quote(std::string_view s);

 private:
  struct Level {
    bool is_object, inline_elements, empty = true;
  };
  void before_value();
  void newline();
  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

// One latency summary as a JSON object under `key`, in the stats' unit; `clock` (what measured
// it) is written when given.
void latency_json(JsonWriter& j, const char* key, const LatencyStats& st, const char* clock = nullptr);

}  // namespace quench::cli
