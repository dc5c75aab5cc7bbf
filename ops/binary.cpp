// Placeholder: this family's schemas are not written yet.
#include "ops/registry.h"

namespace quench::ops {
std::span<const OpSchema> binary_schemas() { return {}; }
}  // namespace quench::ops
