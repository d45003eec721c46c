// The escape battery: attempts from inside a box under the default profile
// (gen0-sliver), each of which must fail or be contained; the host is checked after.
// The static probe (probe.c) makes each attempt and exits 0 only if it succeeded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <fstream>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "box_test_util.hpp"
#include "escape_attempts.hpp"

namespace silk::compat {
namespace {

using testing::Attempt;
using testing::ProbeSpec;
using testing::RootBoxTest;
using testing::RunCaptured;
using testing::TestRootfs;

class BoxEscapeBattery : public RootBoxTest {
 protected:
  // Runs one attempt; returns the box's exit status (0 = the attempt worked).
  int Try(const Attempt& a, BoxSpec spec) {
    auto c = RunCaptured(spec, opts_);
    EXPECT_TRUE(c.outcome) << a.name << ": " << c.outcome.error().ToString();
    if (!c.outcome) return -1;
    last_out_ = c.out;
    return c.outcome->exit_status;
  }
  std::string last_out_;
};

TEST_F(BoxEscapeBattery, EveryAttemptFailsOrIsContained) {
  // Host state the attempts target, checked afterwards.
  struct utsname before;
  uname(&before);
  std::string canary = root_.path() + "/../silk-escape-canary";
  { std::ofstream(canary) << "host"; }
  auto host_mounts_before = ReadFile("/proc/self/mountinfo");
  struct stat probe_before;
  ASSERT_EQ(stat(testing::kProbe, &probe_before), 0);

  const std::string host_pid = std::to_string(getpid());
  const std::vector<Attempt> attempts = testing::EscapeAttempts(host_pid, canary);
  ASSERT_GE(attempts.size(), 30u);
  // The box's stdin is a real terminal (a pty), so TIOCSTI is tried on a tty, not
  // refused for being a pipe.
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int tty = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(tty, 0);
  int saved_stdin = dup(0);
  dup2(tty, 0);
  for (const auto& a : attempts) {
    int rc = Try(a, ProbeSpec(root_, a.args));
    EXPECT_NE(rc, 0) << a.name << " succeeded inside the box:\n" << last_out_;
    EXPECT_FALSE(testing::ProbeNeverTried(rc)) << a.name << ": exit " << rc << "\n" << last_out_;
  }
  dup2(saved_stdin, 0);
  close(saved_stdin);
  close(tty);
  // Nothing was pushed into the terminal's input queue.
  int pending = -1;
  ASSERT_EQ(ioctl(master, FIONREAD, &pending), 0);
  EXPECT_EQ(pending, 0) << "TIOCSTI injected input into the caller's terminal";
  close(master);

  // Symlink trick on a bind mount: a rootfs whose /proc is a symlink to a host path.
  {
    TestRootfs evil;
    std::string target = evil.path() + "/../silk-escape-target";
    mkdir(target.c_str(), 0755);
    rmdir((evil.path() + "/proc").c_str());
    ASSERT_EQ(symlink(target.c_str(), (evil.path() + "/proc").c_str()), 0);
    BoxSpec s = ProbeSpec(evil, {"caps"});
    auto r = RunBox(s, opts_);
    EXPECT_FALSE(r) << "a symlinked mount point was followed";
    struct stat st;
    EXPECT_EQ(stat((target + "/self").c_str(), &st), -1) << "proc mounted on a host path";
    rmdir(target.c_str());
  }
  // Resource attacks are contained by the cgroup and scratch size.
  {
    auto s = ProbeSpec(root_, {"forkbomb"});
    s.pids_max = 50;
    EXPECT_NE(Try({"fork bomb", {}}, s), 0) << last_out_;
    auto m = ProbeSpec(root_, {"memhog", "400"});
    m.memory_max = 64 << 20;
    EXPECT_EQ(Try({"memory hog", {}}, m), 128 + SIGKILL) << last_out_;
    auto d = ProbeSpec(root_, {"fill", "/scratch/big"});
    d.scratch_size = 8 << 20;
    EXPECT_NE(Try({"disk filler", {}}, d), 0) << last_out_;
    EXPECT_NE(last_out_.find("No space left"), std::string::npos) << last_out_;
  }
  // setuid binaries do not elevate (no_new_privs), checked by status in the box.
  {
    auto c = RunCaptured(ProbeSpec(root_, {"status"}), opts_);
    ASSERT_TRUE(c.outcome);
    EXPECT_NE(c.out.find("NoNewPrivs:\t1"), std::string::npos);
    EXPECT_NE(c.out.find("CapEff:\t0000000000000000"), std::string::npos);
  }

  // The host is unharmed.
  struct utsname after;
  uname(&after);
  EXPECT_STREQ(before.nodename, after.nodename);
  auto canary_text = ReadFile(canary);
  ASSERT_TRUE(canary_text);
  EXPECT_EQ(*canary_text, "host");
  unlink(canary.c_str());
  struct stat probe_after;
  ASSERT_EQ(stat(testing::kProbe, &probe_after), 0);
  EXPECT_EQ(probe_before.st_mtime, probe_after.st_mtime);
  EXPECT_EQ(probe_before.st_size, probe_after.st_size);
  auto host_mounts_after = ReadFile("/proc/self/mountinfo");
  ASSERT_TRUE(host_mounts_before && host_mounts_after);
  EXPECT_EQ(Split(*host_mounts_before, '\n').size(), Split(*host_mounts_after, '\n').size())
      << "a mount leaked to the host";
}

}  // namespace
}  // namespace silk::compat
