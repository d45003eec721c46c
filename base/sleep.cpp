#include "base/sleep.hpp"

#include <errno.h>
#include <time.h>

namespace silk {

void SleepFor(std::chrono::nanoseconds duration) {
  if (duration <= std::chrono::nanoseconds::zero()) return;
  timespec deadline{};
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  auto ns = duration.count() + deadline.tv_nsec;
  deadline.tv_sec += static_cast<time_t>(ns / 1000000000);
  deadline.tv_nsec = static_cast<long>(ns % 1000000000);
  // An absolute deadline, so restarting after EINTR neither drifts nor sleeps twice.
  // clock_nanosleep returns the error number instead of setting errno.
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
  }
}

}  // namespace silk
