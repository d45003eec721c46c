// A box is never host root (issue 9): as root too, every box runs in its own user
// namespace whose ids map onto a host range no other live box holds, owned by that
// range's base uid, so the kernel's per-uid quotas a box exhausts are its own.
#include <sys/inotify.h>
#include <unistd.h>

#include <future>
#include <string>

#include "compat/box.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::ProbeSpec;
using testing::RootBoxTest;

// A box running `spec` on a thread, with pipes for stdin and stdout: the test reads
// what the box says and ends it by closing its stdin.
class HeldBox {
 public:
  HeldBox(const BoxSpec& spec, RunOptions o) {
    if (pipe2(in_, O_CLOEXEC) != 0 || pipe2(out_, O_CLOEXEC) != 0) return;
    o.stdin_fd = in_[0];
    o.stdout_fd = out_[1];
    o.timeout_ms = 120000;
    result_ = std::async(std::launch::async, [spec, o] { return RunBox(spec, o); });
  }
  ~HeldBox() { (void)Finish(); }
  // The box's first line of output (blocks until it comes or the box ends).
  std::string Line() {
    std::string line;
    char ch;
    while (read(out_[0], &ch, 1) == 1 && ch != '\n') line += ch;
    return line;
  }
  Result<BoxOutcome> Finish() {
    if (in_[1] >= 0) close(std::exchange(in_[1], -1));
    if (!result_.valid()) return Fail(ErrorCode::kInternal, "not started");
    auto r = result_.get();
    for (int* fd : {&in_[0], &out_[0], &out_[1]})
      if (*fd >= 0) close(std::exchange(*fd, -1));
    return r;
  }

 private:
  int in_[2] = {-1, -1}, out_[2] = {-1, -1};
  std::future<Result<BoxOutcome>> result_;
};

// Whether host root can still create an inotify instance.
bool HostRootCanInotify() {
  int fd = inotify_init1(IN_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

class BoxUserns : public RootBoxTest {};

// Escape 4: 128 inotify instances in a box made inotify_init() fail for host root
// while the box lived. The box's quota is its own uid's now; with --userns never
// (documented as weaker) the same box still takes host root's, which shows the test can
// tell the two apart.
TEST_F(BoxUserns, BoxCannotExhaustHostRootsInotifyQuota) {
  const int kWant = 4096;  // far above max_user_instances (128 by default)
  {
    HeldBox box(ProbeSpec(root_, {"inotify", std::to_string(kWant)}), opts_);
    std::string said = box.Line();
    ASSERT_EQ(said.rfind("held ", 0), 0u) << said;
    EXPECT_LT(std::stoi(said.substr(5)), kWant) << "the box met no quota: " << said;
    EXPECT_TRUE(HostRootCanInotify())
        << "host root's inotify quota went to the box (" << said << ")";
    auto r = box.Finish();
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->exit_status, 0);
  }
  BoxSpec weaker = ProbeSpec(root_, {"inotify", std::to_string(kWant)});
  weaker.user_namespace = UserNamespaceMode::kNever;
  HeldBox box(weaker, opts_);
  std::string said = box.Line();
  ASSERT_EQ(said.rfind("held ", 0), 0u) << said;
  EXPECT_FALSE(HostRootCanInotify()) << "control: a --userns never box shares host root's quota";
  ASSERT_TRUE(box.Finish());
  EXPECT_TRUE(HostRootCanInotify());
}

// Box root is an unprivileged host uid, and two live boxes never share a range.
TEST_F(BoxUserns, LiveBoxesGetDisjointUnprivilegedRanges) {
  BoxSpec s = ProbeSpec(root_, {"-c", "read -r l < /proc/self/uid_map; echo $l; read -r x"});
  s.command = "/bin/sh";
  HeldBox a(s, opts_), b(s, opts_);
  auto first = [](const std::string& line) -> long long {
    unsigned long long inside = 0, outside = 0, count = 0;
    if (sscanf(line.c_str(), "%llu %llu %llu", &inside, &outside, &count) != 3 || inside != 0 ||
        count != 65536)
      return -1;
    return static_cast<long long>(outside);
  };
  const std::string la = a.Line(), lb = b.Line();
  const long long fa = first(la), fb = first(lb);
  ASSERT_GE(fa, 65536) << la;
  ASSERT_GE(fb, 65536) << lb;
  EXPECT_GE(std::llabs(fa - fb), 65536) << la << " / " << lb;
  ASSERT_TRUE(a.Finish());
  ASSERT_TRUE(b.Finish());
}

// A state root the box's host uid cannot search is refused before anything starts, with
// the directory named and what to do.
TEST_F(BoxUserns, UnsearchableStateRootIsAClearError) {
  testing::TempStateRoot closed("silk-userns-closed");
  chmod(closed.path().c_str(), 0700);
  RunOptions o = opts_;
  o.state_root = closed.path();
  auto r = RunBox(ProbeSpec(root_, {"status"}), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().ToString().find(closed.path() + " (mode 0700"), std::string::npos)
      << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("chmod o+x"), std::string::npos);
  EXPECT_TRUE(closed.RemoveIfEmpty()) << "the refused box left state behind";
}

}  // namespace
}  // namespace silk::compat
