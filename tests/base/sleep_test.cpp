#include "base/sleep.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <chrono>

namespace silk {
namespace {

void Ignore(int) {}

TEST(Sleep, SignalsDoNotShortenIt) {
  // SIGALRM every millisecond interrupts the sleep many times over.
  struct sigaction sa {
  }, old{};
  sa.sa_handler = Ignore;
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  itimerval every_ms{{0, 1000}, {0, 1000}}, off{};
  ASSERT_EQ(setitimer(ITIMER_REAL, &every_ms, nullptr), 0);
  auto start = std::chrono::steady_clock::now();
  SleepFor(std::chrono::milliseconds(50));
  auto slept = std::chrono::steady_clock::now() - start;
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old, nullptr);
  EXPECT_GE(slept, std::chrono::milliseconds(50));
}

TEST(Sleep, NothingToWaitForReturnsAtOnce) {
  SleepFor(std::chrono::nanoseconds::zero());
  SleepFor(std::chrono::milliseconds(-5));
}

}  // namespace
}  // namespace silk
