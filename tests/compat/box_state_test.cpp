// Box state is owned by lock (issue 10): the supervisor holds an exclusive flock on its
// box's state directory for the box's life; a sweep reclaims only what it can lock.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::ProbeSpec;
using testing::RootBoxTest;

class BoxState : public RootBoxTest {};

// Many boxes start and end in parallel (each sweeping first, in one process) while
// another thread sweeps in a loop: no live box is ever reclaimed (every box runs to its
// own exit 0), and every dead directory is.
TEST_F(BoxState, ParallelSweepsNeverReclaimALiveBoxAndReclaimEveryDeadOne) {
  // Dead boxes: directories nobody holds a lock on, as a SIGKILLed supervisor leaves them.
  std::vector<std::string> dead;
  for (int i = 0; i < 8; ++i) {
    std::string d = state_.path() + "/dead-" + std::to_string(i);
    ASSERT_EQ(mkdir(d.c_str(), 0711), 0);
    ASSERT_EQ(mkdir((d + "/root").c_str(), 0755), 0);
    std::ofstream(d + "/supervisor") << "999999999 1\n";
    dead.push_back(d);
  }
  std::atomic<bool> done{false};
  std::atomic<int> sweeps{0};
  std::thread sweeper([&] {
    while (!done.load()) {
      auto r = SweepStaleBoxes(state_.path());
      EXPECT_TRUE(r) << r.error().ToString();
      ++sweeps;
    }
  });
  constexpr int kThreads = 4, kBoxes = 6;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> runners;
  for (int t = 0; t < kThreads; ++t)
    runners.emplace_back([&, t] {
      for (int i = 0; i < kBoxes; ++i) {
        RunOptions o = opts_;
        o.sweep_first = true;
        BoxSpec s = ProbeSpec(root_, {"-c", "read -r l < /proc/self/status"});
        s.command = "/bin/sh";
        auto r = RunBox(s, o);
        if (r && r->exit_status == 0)
          ++ok;
        else
          failures[t] +=
              (r ? "exit " + std::to_string(r->exit_status) : r.error().ToString()) + "\n";
      }
    });
  for (auto& r : runners) r.join();
  done = true;
  sweeper.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(ok.load(), kThreads * kBoxes);
  EXPECT_GT(sweeps.load(), 0);
  for (const auto& d : dead) EXPECT_FALSE(std::filesystem::exists(d)) << d << " not reclaimed";
}

// The lock, not a pid file, decides: a directory whose supervisor record names this
// very (live) process but whose lock nobody holds is dead; one whose lock is held is not.
TEST_F(BoxState, TheLockDecidesNotThePidRecord) {
  std::string d = state_.path() + "/unlocked";
  ASSERT_EQ(mkdir(d.c_str(), 0711), 0);
  std::ofstream(d + "/supervisor") << getpid() << " 0\n";
  std::string held = state_.path() + "/held";
  ASSERT_EQ(mkdir(held.c_str(), 0711), 0);
  UniqueFd lock(open(held.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(flock(lock.get(), LOCK_EX), 0);
  auto r = SweepStaleBoxes(state_.path());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->reclaimed, std::vector<std::string>{"unlocked"});
  EXPECT_TRUE(std::filesystem::exists(held));
  lock.Reset();
  r = SweepStaleBoxes(state_.path());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reclaimed, std::vector<std::string>{"held"});
}

}  // namespace
}  // namespace silk::compat
