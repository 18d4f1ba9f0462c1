#pragma once
// oess/core/parallel.h — run fn(i) for i in [0, n) on `threads` threads (the caller's included).
//
// ensures: every index runs once; the first exception thrown stops the handing out of new indices and is
// rethrown in the caller after all threads have joined. fn must be safe to call concurrently.
#include <cstddef>
#include <functional>

namespace oess {
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn);

// The same on the OpenMP pool that LibTorch and oneDNN compute with (not new threads): for work done between
// their parallel regions, whose threads are still spinning there and would otherwise compete with new ones.
// Every index runs (an exception does not stop the others); the lowest failing index's exception is rethrown.
void parallel_for_openmp(size_t n, int threads, const std::function<void(size_t)>& fn);
}  // namespace oess
