// Rootless boxes: a non-root user (created here with useradd, removed after) runs a box
// in its own user namespace.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "box_test_util.hpp"
#include "escape_attempts.hpp"

namespace silk::compat {
namespace {

constexpr const char* kUser = "silkboxtest";

class BoxRootlessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create the test user";
    if (system("command -v useradd >/dev/null") != 0) GTEST_SKIP() << "useradd not installed";
    std::system((std::string("userdel ") + kUser + " >/dev/null 2>&1").c_str());
    ASSERT_EQ(std::system((std::string("useradd -M -s /bin/false ") + kUser).c_str()), 0);
    created_ = true;
    passwd* pw = getpwnam(kUser);
    ASSERT_NE(pw, nullptr);
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  void TearDown() override {
    if (created_) std::system((std::string("userdel ") + kUser).c_str());
  }
  // Runs `spec` as the test user in a forked process; returns its exit code and output.
  std::pair<int, std::string> RunAsUser(BoxSpec spec) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    pid_t child = fork();
    if (child == 0) {
      close(p[0]);
      dup2(p[1], 1);
      dup2(p[1], 2);
      if (setgroups(0, nullptr) || setresgid(gid_, gid_, gid_) || setresuid(uid_, uid_, uid_))
        _exit(90);
      // A process that changed uid from root is non-dumpable, so its /proc files stay
      // root's; a login of this user would be dumpable. Be that login.
      prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
      unsetenv("XDG_RUNTIME_DIR");
      auto r = RunBox(spec, {});
      if (!r) {
        std::string e = "error: " + r.error().ToString() + "\n";
        (void)!write(1, e.data(), e.size());
        _exit(91);
      }
      _exit(r->exit_status);
    }
    close(p[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(p[0]);
    int st = 0;
    waitpid(child, &st, 0);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
  }
  bool created_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  testing::TestRootfs root_;
};

TEST_F(BoxRootlessTest, NonRootUserRunsABox) {
  auto [rc, out] = RunAsUser(testing::ProbeSpec(root_, {"status"}));
  if (rc == 91 && out.find("user namespace") != std::string::npos)
    GTEST_SKIP() << "this kernel refuses unprivileged user namespaces: " << out;
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Uid:\t0\t0\t0\t0"), std::string::npos) << out;  // root in the box
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  // And the default host view works rootless too.
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c", "test -d /usr/bin && test ! -e /home && echo view-ok"};
  auto [rc2, out2] = RunAsUser(s);
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("view-ok"), std::string::npos) << out2;
}

// The escape battery again, each box started by an unprivileged user (issue 9): what holds
// for root's boxes holds for a user's, whose box root is that user outside.
TEST_F(BoxRootlessTest, TheEscapeBatteryHoldsForAnUnprivilegedUser) {
  const std::string canary = root_.path() + "/../silk-rootless-canary";
  { std::ofstream(canary) << "host"; }
  const auto attempts = testing::EscapeAttempts(std::to_string(getpid()), canary);
  ASSERT_GE(attempts.size(), 30u);
  for (const auto& a : attempts) {
    auto [rc, out] = RunAsUser(testing::ProbeSpec(root_, a.args));
    if (rc == 91 && out.find("user namespace") != std::string::npos)
      GTEST_SKIP() << "this kernel refuses unprivileged user namespaces: " << out;
    EXPECT_NE(rc, 91) << a.name << ": the box did not start: " << out;
    EXPECT_NE(rc, 0) << a.name << " succeeded inside an unprivileged user's box:\n" << out;
    EXPECT_FALSE(testing::ProbeNeverTried(rc)) << a.name << ": exit " << rc << "\n" << out;
  }
  std::string after;
  std::ifstream(canary) >> after;
  EXPECT_EQ(after, "host") << "the host canary was changed";
  ::unlink(canary.c_str());
}

TEST_F(BoxRootlessTest, LimitsWithoutCgroupAccessAreAClearError) {
  auto s = testing::ProbeSpec(root_, {"caps"});
  s.memory_max = 64 << 20;
  auto [rc, out] = RunAsUser(s);
  EXPECT_EQ(rc, 91) << out;
  EXPECT_NE(out.find("cgroup"), std::string::npos) << out;
}

}  // namespace
}  // namespace silk::compat

namespace silk::compat {
namespace {

// A kernel that refuses user namespaces: user.max_user_namespaces is per user namespace,
// so the test sets it to 0 inside a user namespace of its own (the host is untouched)
// and asks for a box with a user namespace there.
TEST(BoxUserNamespaces, RefusedByTheKernelIsAClearError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    auto say = [&](const std::string& s) { (void)!write(p[1], s.data(), s.size()); };
    if (unshare(CLONE_NEWUSER) != 0) {
      say("unshare failed");
      _exit(2);
    }
    auto put = [](const char* path, const char* text) {
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      bool ok = fd >= 0 && write(fd, text, strlen(text)) == static_cast<ssize_t>(strlen(text));
      if (fd >= 0) close(fd);
      return ok;
    };
    if (!put("/proc/self/uid_map", "0 0 1") || !put("/proc/self/setgroups", "deny") ||
        !put("/proc/self/gid_map", "0 0 1") || !put("/proc/sys/user/max_user_namespaces", "0")) {
      say("setting up the test namespace failed: " + std::string(strerror(errno)));
      _exit(3);
    }
    BoxSpec s;
    s.command = "true";
    s.user_namespace = UserNamespaceMode::kAlways;
    char tmpl[] = "/tmp/silk-compat-state-XXXXXX";
    RunOptions o;
    o.state_root = mkdtemp(tmpl);
    auto r = RunBox(s, o);
    rmdir(o.state_root.c_str());
    if (r) {
      say("box ran");
      _exit(4);
    }
    say(r.error().ToString());
    _exit(r.error().code() == ErrorCode::kUnsupported ? 0 : 5);
  }
  close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(child, &st, 0);
  if (WIFEXITED(st) && (WEXITSTATUS(st) == 2 || WEXITSTATUS(st) == 3))
    GTEST_SKIP() << "cannot build a user namespace without user namespaces here: " << out;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find("user namespace"), std::string::npos) << out;
}

}  // namespace
}  // namespace silk::compat
