// The INT8 build report (quench::Int8Report) as `quench build` and `quench validate` show it.
#pragma once

#include "cli/json_writer.h"
#include "quench/quench.h"

namespace quench::cli {

// Nothing for an engine that is not INT8. `all_layers`: every product, else the float ones.
void print_int8_report(const Int8Report& q, bool all_layers);
// A "int8" key and object; nothing for an engine that is not INT8.
void write_int8_report(JsonWriter& j, const Int8Report& q);

}  // namespace quench::cli
