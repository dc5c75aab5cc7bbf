// The dynamic batcher's one decision, kept apart from its threads so it can be tested alone:
// how many of the queued requests to take now.
#pragma once

#include <cstdint>
#include <span>

namespace quench {

// `queued` requests wait; `due` is true once the oldest has waited the maximum delay (or the
// batcher is draining). `preferred` is sorted ascending, each in 1..max_batch. Returns how many
// to take from the front of the queue, or 0 to keep waiting:
//   - a full batch (max_batch) runs at once;
//   - else the largest preferred size the queue reaches runs at once;
//   - else, once due, everything queued runs.
int choose_batch_size(int64_t queued, bool due, int max_batch, std::span<const int> preferred);

}  // namespace quench
