// The one plain sleep silk's libraries use.
#pragma once

#include <chrono>

namespace silk {

// Sleeps for `duration` on the monotonic clock, the whole of it: a signal handler that
// interrupts the sleep (EINTR) does not shorten it, and a clock change does not stretch
// it. A zero or negative duration returns at once. For polls that have nothing to wait
// on; wait on an fd (poll, pidfd, eventfd) wherever there is one.
void SleepFor(std::chrono::nanoseconds duration);

}  // namespace silk
