// oess::parallel_for_openmp (core/parallel.h): compiled with -fopenmp (CMakeLists.txt), so that its parallel
// region runs on libgomp's pool, the one LibTorch and oneDNN compute with.
#include <omp.h>

#include <exception>
#include <mutex>

#include "oess/core/parallel.h"

namespace oess {

void parallel_for_openmp(size_t n, int threads, const std::function<void(size_t)>& fn) {
  std::exception_ptr failure;
  size_t failed_at = n;
  std::mutex m;
  const long count = static_cast<long>(n);
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(dynamic, 1)
  for (long i = 0; i < count; ++i) {
    try {  // nothing may leave a parallel region by an exception
      fn(static_cast<size_t>(i));
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      if (static_cast<size_t>(i) < failed_at) {  // the lowest index's, whatever the threads' timing
        failed_at = static_cast<size_t>(i);
        failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace oess
