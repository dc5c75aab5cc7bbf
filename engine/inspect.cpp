// Placeholder until the inspect report is written.
#include "quench/inspect.h"

namespace quench {
Result<ModelReport> inspect(const Model&, const BuildOptions&) {
  return error(StatusCode::kUnsupported, "inspect is not written yet");
}
}  // namespace quench
