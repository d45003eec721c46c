// silk's init (issue 11; the zombies of issue 9): pid 1 of a box reaps every orphan,
// passes signals on to the command and exits with its status, and is out of the box's
// reach (no descriptors, not dumpable). Each test has a control with `init: false` where
// the property is the command's own, so that the check can fail.
#include <gtest/gtest.h>
#include <signal.h>

#include "compat/box.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::RootBoxTest;
using testing::RunCaptured;

class BoxInit : public RootBoxTest {
 protected:
  testing::Captured Sh(const std::string& script, bool init = true) {
    BoxSpec s;
    s.command = "/bin/sh";
    s.args = {"-c", script};
    s.init = init;
    return RunCaptured(s, opts_);
  }
};

// Orphans that end are reaped: three processes are orphaned (reparented to pid 1) and
// end once the command is a program that never waits (cat); with silk's init none stays
// a zombie, without it (the control) all three do. Ordered by FIFOs, not by sleeps.
TEST_F(BoxInit, OrphansAreReaped) {
  const std::string script = R"sh(
mkfifo /tmp/go /tmp/out
for i in 1 2 3; do (sh -c 'echo $$ > /tmp/o.$$; read x < /tmp/go' & exec true); done
(
  until [ "$(cat /proc/$$/comm)" = cat ] && [ "$(ls /tmp/o.* | wc -l)" = 3 ]; do sleep 0.01; done
  exec 3>/tmp/go; exec 3>&-
  for f in /tmp/o.*; do
    p=$(cat "$f")
    while read -r _ _ st _ < "/proc/$p/stat" && [ "$st" != Z ]; do sleep 0.01; done 2>/dev/null
  done
  z=0
  for f in /proc/[0-9]*/stat; do read -r _ _ st _ < "$f" && [ "$st" = Z ] && z=$((z+1)); done
  echo zombies=$z
) > /tmp/out & exec cat /tmp/out)sh";
  auto with = Sh(script);
  ASSERT_TRUE(with.outcome) << with.outcome.error().ToString();
  EXPECT_EQ(with.outcome->exit_status, 0);
  EXPECT_EQ(with.out, "zombies=0\n");
  auto without = Sh(script, /*init=*/false);
  ASSERT_TRUE(without.outcome) << without.outcome.error().ToString();
  EXPECT_EQ(without.out, "zombies=3\n") << "the control: a pid 1 that never waits";
}

// A signal sent to pid 1 reaches the command: its trap runs and its status comes out.
TEST_F(BoxInit, SignalsToPid1ReachTheCommand) {
  auto r =
      Sh("trap 'echo got TERM; exit 42' TERM; kill -TERM 1; i=0; "
         "while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; exit 3");
  ASSERT_TRUE(r.outcome) << r.outcome.error().ToString();
  EXPECT_EQ(r.outcome->exit_status, 42);
  EXPECT_EQ(r.out, "got TERM\n");
}

// A command killed by a signal is 128+N with term_signal N, also when it kills itself
// (as pid 1 it could not: a namespace's init ignores its own SIGKILL).
TEST_F(BoxInit, ACommandKilledBySignalIs128PlusN) {
  auto r = Sh("kill -KILL $$");
  ASSERT_TRUE(r.outcome) << r.outcome.error().ToString();
  EXPECT_EQ(r.outcome->exit_status, 128 + SIGKILL);
  EXPECT_EQ(r.outcome->term_signal, SIGKILL);
  auto exited = Sh("exit 137");  // a plain exit with that code is not a signal
  ASSERT_TRUE(exited.outcome);
  EXPECT_EQ(exited.outcome->exit_status, 137);
  EXPECT_EQ(exited.outcome->term_signal, 0);
}

// pid 1 holds no descriptor and cannot be inspected or traced from the box.
TEST_F(BoxInit, InitIsOutOfTheBoxsReach) {
  auto r =
      Sh("ls /proc/1/fd >/dev/null 2>&1 && echo fds-listed; "
         "cat /proc/1/environ >/dev/null 2>&1 && echo environ-read; "
         "echo pid=$$");
  ASSERT_TRUE(r.outcome) << r.outcome.error().ToString();
  EXPECT_EQ(r.outcome->exit_status, 0);
  EXPECT_EQ(r.out, "pid=2\n") << "the command is pid 2, under init";
}

}  // namespace
}  // namespace silk::compat
