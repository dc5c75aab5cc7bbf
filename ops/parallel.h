// parallel_for over the machine's cores, for the CPU reference. No allocation per call.
#pragma once

#include <cstdint>
#include <type_traits>

namespace quench::ops {

namespace detail {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallel_for_impl(int64_t n, int64_t grain, ChunkFn fn, void* ctx);
}  // namespace detail

// Runs body(begin, end) over disjoint chunks covering [0, n), each at least `grain` long
// (except the last). Runs inline when n is small, when called from inside another
// parallel_for, or when the pool is busy with another caller's loop.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& body) {
  auto trampoline = [](void* ctx, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e); };
  detail::parallel_for_impl(n, grain, trampoline, const_cast<void*>(static_cast<const void*>(&body)));
}

// Worker count (default: hardware concurrency). Takes effect at the next call.
void set_num_threads(int n);
int num_threads();

}  // namespace quench::ops
