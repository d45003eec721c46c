#include "base/parallel.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace silk {

Result<void> ParallelFor(int jobs, size_t n, const std::function<Result<void>(size_t)>& fn) {
  std::mutex mu;
  size_t next = 0;
  bool failed = false;
  size_t first_failure = std::numeric_limits<size_t>::max();
  std::optional<Error> error;
  std::exception_ptr exception;
  auto record = [&](size_t i, std::optional<Error> e, std::exception_ptr ex) {
    std::lock_guard<std::mutex> lock(mu);
    failed = true;
    if (i >= first_failure) return;
    first_failure = i;
    error = std::move(e);
    exception = ex;
  };
  auto work = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (failed || next >= n) return;
        i = next++;
      }
      try {
        Result<void> r = fn(i);
        if (!r) record(i, std::move(r.error()), nullptr);
      } catch (...) {
        record(i, std::nullopt, std::current_exception());
      }
    }
  };
  const size_t threads = std::min<size_t>(jobs > 1 ? static_cast<size_t>(jobs) : 1, n);
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> workers;
    workers.reserve(threads);
    for (size_t t = 0; t < threads; ++t) workers.emplace_back(work);
  }
  if (exception) std::rethrow_exception(exception);
  if (error) return tl::unexpected<Error>(std::move(*error));
  return {};
}

}  // namespace silk
