// ParallelFor: every index once, on at most `jobs` threads, inline for jobs <= 1, and
// errors and exceptions reach the caller (the lowest failing index wins).
#include "base/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace silk {
namespace {

TEST(ParallelFor, CallsEveryIndexExactlyOnce) {
  for (int jobs : {-1, 0, 1, 2, 3, 8}) {
    std::vector<std::atomic<int>> calls(100);
    auto r = ParallelFor(jobs, calls.size(), [&](size_t i) -> Result<void> {
      ++calls[i];
      return {};
    });
    ASSERT_TRUE(r) << r.error().ToString();
    for (size_t i = 0; i < calls.size(); ++i)
      EXPECT_EQ(calls[i], 1) << "jobs " << jobs << " i " << i;
  }
}

TEST(ParallelFor, NothingToDo) {
  bool called = false;
  EXPECT_TRUE(ParallelFor(4, 0, [&](size_t) -> Result<void> {
    called = true;
    return {};
  }));
  EXPECT_FALSE(called);
}

TEST(ParallelFor, OneJobOrFewerRunsInlineInOrder) {
  for (int jobs : {-3, 0, 1}) {
    std::vector<size_t> order;
    std::set<std::thread::id> threads;
    ASSERT_TRUE(ParallelFor(jobs, 5, [&](size_t i) -> Result<void> {
      order.push_back(i);  // no lock: inline calls never overlap
      threads.insert(std::this_thread::get_id());
      return {};
    }));
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
  }
}

// Every call waits until `jobs` calls are inside at once, which only happens when
// they run on `jobs` threads; more than `jobs` inside at once fails the test.
TEST(ParallelFor, RunsJobsCallsAtOnceAndNoMore) {
  constexpr int kJobs = 3;
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0, most = 0, arrived = 0;
  auto r = ParallelFor(kJobs, 9, [&](size_t) -> Result<void> {
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    most = std::max(most, inside);
    ++arrived;
    cv.notify_all();
    // The first kJobs calls meet; later ones need not (fewer may be left).
    if (arrived <= kJobs) cv.wait(lock, [&] { return arrived >= kJobs; });
    --inside;
    return {};
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(most, kJobs);
}

TEST(ParallelFor, AnErrorIsReturnedAndStopsNewCalls) {
  for (int jobs : {1, 2, 4}) {
    std::atomic<int> started{0};
    auto r = ParallelFor(jobs, 1000, [&](size_t i) -> Result<void> {
      ++started;
      if (i == 3) return Fail(ErrorCode::kNotFound, "item 3 is missing");
      return {};
    });
    ASSERT_FALSE(r) << "jobs " << jobs;
    EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(r.error().message(), "item 3 is missing");
    // Calls already running may finish, but no new index starts after the failure.
    EXPECT_LE(started.load(), 4 + jobs) << "jobs " << jobs;
  }
}

TEST(ParallelFor, TheLowestFailingIndexWins) {
  // Index 1 fails late, index 5 fails at once: the caller sees index 1's error, as a
  // sequential loop would.
  auto r = ParallelFor(8, 8, [&](size_t i) -> Result<void> {
    if (i == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return Fail(ErrorCode::kInvalidInput, "one");
    }
    if (i == 5) return Fail(ErrorCode::kSystem, "five");
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "one");
}

TEST(ParallelFor, AnExceptionIsRethrownOnTheCallersThread) {
  for (int jobs : {1, 3}) {
    EXPECT_THROW((void)ParallelFor(jobs, 10,
                                   [&](size_t i) -> Result<void> {
                                     if (i == 2) throw std::runtime_error("boom");
                                     return {};
                                   }),
                 std::runtime_error)
        << "jobs " << jobs;
  }
}

}  // namespace
}  // namespace silk
