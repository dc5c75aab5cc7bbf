#include "engine/batch_policy.h"

#include <algorithm>

namespace quench {

int choose_batch_size(int64_t queued, bool due, int max_batch, std::span<const int> preferred) {
  if (queued <= 0 || max_batch <= 0) return 0;
  if (queued >= max_batch) return max_batch;
  const int available = static_cast<int>(queued);
  // Largest preferred size that the queue reaches (preferred is ascending).
  for (auto it = preferred.rbegin(); it != preferred.rend(); ++it)
    if (*it <= available) return *it;
  return due ? available : 0;
}

}  // namespace quench
