// Boxes end to end on the real kernel (root): exit codes, the root fs view, capabilities,
// namespaces, limits, denial reports, bad input, and teardown (also after SIGKILL).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "box_test_util.hpp"
#include "tests/common/kernel_features.hpp"

namespace silk::compat {
namespace {

using testing::Captured;
using testing::ProbeSpec;
using testing::RootBoxTest;
using testing::RunCaptured;
using testing::TestRootfs;

using silk::testing::KernelRunsInt80;

class BoxTest : public RootBoxTest {
 protected:
};

TEST_F(BoxTest, RunsAndPropagatesExitStatus) {
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c", "echo hi; exit 7"};
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 7);
  EXPECT_EQ(c.out, "hi\n");
}

TEST_F(BoxTest, SignalBecomes128PlusN) {
  BoxSpec s;
  s.command = "/bin/sh";
  // pid 1 ignores signals it has no handler for; a child of it does not.
  s.args = {"-c", "sh -c 'kill -SEGV $$'; exit $?"};
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 128 + SIGSEGV);
  // The box's init itself killed by a signal: the filter's SIGSYS on int 0x80, or
  // SIGSEGV where the kernel has no IA-32 emulation and faults int 0x80 itself.
  auto k = RunCaptured(ProbeSpec(root_, {"int80"}), opts_);
  ASSERT_TRUE(k.outcome);
  const int want = KernelRunsInt80() ? SIGSYS : SIGSEGV;
  EXPECT_EQ(k.outcome->exit_status, 128 + want);
  EXPECT_EQ(k.outcome->term_signal, want);
}

TEST_F(BoxTest, CommandNotFoundIs127WithAClearMessage) {
  BoxSpec s;
  s.command = "no-such-command-xyz";
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 127);
  EXPECT_NE(c.outcome->exec_failure.find("not found in the box"), std::string::npos);
  s.command = "/etc/passwd";  // exists, not executable
  auto d = RunCaptured(s, opts_);
  ASSERT_TRUE(d.outcome);
  EXPECT_EQ(d.outcome->exit_status, 126);
}

TEST_F(BoxTest, DefaultViewIsMinimalAndReadOnly) {
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c",
            "ls /; echo --; ls /dev; echo --; touch /usr/x 2>/dev/null || echo usr-ro; "
            "touch /tmp/x && echo tmp-rw; touch /scratch/x && echo scratch-rw; "
            "test -e /home || echo no-home; test -e /root || echo no-root; "
            "test -s /etc/shadow || echo shadow-masked; hostname"};
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  for (const char* d : {"usr\n", "etc\n", "proc\n", "tmp\n", "scratch\n", "dev\n"})
    EXPECT_NE(c.out.find(d), std::string::npos) << d << " in\n" << c.out;
  auto dev = c.out.substr(c.out.find("--\n") + 3);
  dev = dev.substr(0, dev.find("--\n"));
  for (const auto& name : Split(Trim(dev), '\n'))
    EXPECT_TRUE(name == "null" || name == "zero" || name == "full" || name == "random" ||
                name == "urandom" || name == "tty" || name == "shm" || name == "fd" ||
                name == "stdin" || name == "stdout" || name == "stderr")
        << "unexpected /dev/" << name;
  for (const char* m :
       {"usr-ro", "tmp-rw", "scratch-rw", "no-home", "no-root", "shadow-masked", "box\n"})
    EXPECT_NE(c.out.find(m), std::string::npos) << m << " in\n" << c.out;
}

TEST_F(BoxTest, NoCapabilitiesNoNewPrivsSeccompOn) {
  auto c = RunCaptured(ProbeSpec(root_, {"caps"}), opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 0) << c.out;  // every set empty
  auto st = RunCaptured(ProbeSpec(root_, {"status"}), opts_);
  ASSERT_TRUE(st.outcome);
  EXPECT_NE(st.out.find("NoNewPrivs:\t1"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("Seccomp:\t2"), std::string::npos) << st.out;
}

TEST_F(BoxTest, GrantedCapabilitySurvivesExecAndNothingElse) {
  auto s = ProbeSpec(root_, {"caps"});
  s.capabilities = {"CAP_NET_BIND_SERVICE"};
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_NE(c.out.find("CapEff:\t0000000000000400"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("CapBnd:\t0000000000000400"), std::string::npos) << c.out;
}

TEST_F(BoxTest, OwnNamespaces) {
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c", "echo pid=$$; ls /sys/class/net | tr '\\n' ' '; echo; cat /proc/net/dev | wc -l"};
  s.hostname = "inside";
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  // Its own pid namespace: the command is pid 2 under silk's init, pid 1 without it.
  EXPECT_NE(c.out.find("pid=2\n"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("lo \n"), std::string::npos) << c.out;  // only lo
  s.init = false;
  auto bare = RunCaptured(s, opts_);
  ASSERT_TRUE(bare.outcome) << bare.outcome.error().ToString();
  EXPECT_NE(bare.out.find("pid=1\n"), std::string::npos) << bare.out;
}

TEST_F(BoxTest, LimitsApplyAndCgroupsAreRemoved) {
  auto s = ProbeSpec(root_, {"forkbomb"});
  s.pids_max = 32;
  s.memory_max = 64 << 20;
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 1) << c.out;  // fork failed before 100000
  auto m = ProbeSpec(root_, {"memhog", "512"});
  m.memory_max = 64 << 20;
  auto h = RunCaptured(m, opts_);
  ASSERT_TRUE(h.outcome);
  EXPECT_EQ(h.outcome->exit_status, 128 + SIGKILL) << h.out;  // OOM-killed in its cgroup
  // The outcome says why: the kernel counted the kill in the box's memory cgroup.
  EXPECT_GE(h.outcome->oom_kills, 1u);
  EXPECT_TRUE(h.outcome->oom_killed);
  // A box that stayed under its limit reports none.
  EXPECT_EQ(c.outcome->oom_kills, 0u);
  EXPECT_FALSE(c.outcome->oom_killed);
  // Nothing left under silk/ in any hierarchy for these boxes.
  for (const char* ctrl : {"memory", "pids"}) {
    auto self = ReadFile("/proc/self/cgroup");
    ASSERT_TRUE(self);
    for (const auto& line : Split(*self, '\n')) {
      auto p = Split(line, ':');
      if (p.size() == 3 && p[1] == ctrl) {
        std::string dir =
            std::string("/sys/fs/cgroup/") + ctrl + p[2] + "/silk/" + h.outcome->box_id;
        EXPECT_NE(access(dir.c_str(), F_OK), 0) << dir << " left behind";
      }
    }
  }
}

TEST_F(BoxTest, ReportDenialsNamesTheSyscall) {
  auto s = ProbeSpec(root_, {"bpf"});
  s.report_denials = true;
  auto c = RunCaptured(s, opts_);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 1);
  ASSERT_EQ(c.outcome->denials.denials.size(), 1u) << c.outcome->denials.ToText();
  const Denial& d = c.outcome->denials.denials[0];
  EXPECT_EQ(d.syscall, "bpf");
  EXPECT_EQ(d.count, 1u);
  EXPECT_EQ(d.verdict, "errno(EPERM)");
  EXPECT_NE(c.outcome->denials.ToJson().find("\"syscall\": \"bpf\""), std::string::npos);
}

TEST_F(BoxTest, PacketSocketsOnlyWhenGranted) {
  auto s = ProbeSpec(root_, {"socket-packet"});
  auto denied = RunCaptured(s, opts_);
  ASSERT_TRUE(denied.outcome) << denied.outcome.error().ToString();
  EXPECT_EQ(denied.outcome->exit_status, 1);
  ASSERT_EQ(denied.outcome->denials.raw_socket_decisions.size(), 1u);
  EXPECT_FALSE(denied.outcome->denials.raw_socket_decisions[0].allowed);
  s.raw_sockets = true;
  auto granted = RunCaptured(s, opts_);
  ASSERT_TRUE(granted.outcome);
  EXPECT_EQ(granted.outcome->exit_status, 0) << granted.out;
  ASSERT_EQ(granted.outcome->denials.raw_socket_decisions.size(), 1u);
  EXPECT_TRUE(granted.outcome->denials.raw_socket_decisions[0].allowed);
  // Also mediated when every denial is notified for the report.
  s.report_denials = true;
  s.raw_sockets = false;
  auto reported = RunCaptured(s, opts_);
  ASSERT_TRUE(reported.outcome) << reported.outcome.error().ToString();
  EXPECT_EQ(reported.outcome->exit_status, 1);
  ASSERT_EQ(reported.outcome->denials.raw_socket_decisions.size(), 1u);
  EXPECT_FALSE(reported.outcome->denials.raw_socket_decisions[0].allowed);
  ASSERT_EQ(reported.outcome->denials.denials.size(), 1u) << reported.outcome->denials.ToText();
  EXPECT_EQ(reported.outcome->denials.denials[0].syscall, "socket");
}

TEST_F(BoxTest, BadInputIsAClearErrorAndLeavesNothing) {
  BoxSpec s;
  s.command = "true";
  s.rootfs = "/no/such/rootfs";
  auto r = RunBox(s, opts_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().ToString().find("/no/such/rootfs"), std::string::npos);
  s.rootfs.clear();
  s.profile = "no-such-profile";
  r = RunBox(s, opts_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().ToString().find("no-such-profile"), std::string::npos)
      << r.error().ToString();
  s.profile = kDefaultProfile;
  s.cpu_weight = 0;
  r = RunBox(s, opts_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().ToString().find("cpu_weight"), std::string::npos);
  s.cpu_weight = 100;
  s.io_weight = 100;  // this host has no proportional blkio weight
  r = RunBox(s, opts_);
  if (!r) {
    EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported) << r.error().ToString();
    EXPECT_NE(r.error().ToString().find("io_weight"), std::string::npos) << r.error().ToString();
  }
}

TEST_F(BoxTest, StdinPassesThrough) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "from-host\n", 10), 10);
  close(p[1]);
  int saved = dup(0);
  dup2(p[0], 0);
  close(p[0]);
  BoxSpec s;
  s.command = "/bin/cat";
  auto c = RunCaptured(s, opts_);
  dup2(saved, 0);
  close(saved);
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.out, "from-host\n");
}

// The supervisor is SIGKILLed mid-run: the box dies with it, and the next start's sweep
// removes its cgroups and state.
TEST_F(BoxTest, SweepAfterSupervisorSigkill) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t sup = fork();
  if (sup == 0) {
    close(ready[0]);
    BoxSpec s;
    s.rootfs = root_.path();
    s.command = "/bin/sh";
    s.args = {"-c", "echo started; exec sleep 100"};
    s.memory_max = 64 << 20;
    s.pids_max = 10;
    dup2(ready[1], 1);
    RunOptions o = opts_;
    o.box_id = "killed-supervisor";
    auto r = RunBox(s, o);
    _exit(r ? 0 : 3);
  }
  close(ready[1]);
  char buf[16] = {0};
  ASSERT_GT(read(ready[0], buf, sizeof buf), 0);  // the box is running
  close(ready[0]);
  std::string dir = state_.path() + "/killed-supervisor";
  auto cgroups = ReadFile(dir + "/cgroups");
  ASSERT_TRUE(cgroups) << "state not recorded";
  auto box_pids = [&] {
    std::set<pid_t> pids;
    for (const auto& p : Split(*cgroups, '\n')) {
      if (p.empty()) continue;
      auto procs = ReadFile(p + "/cgroup.procs");
      if (!procs) continue;
      for (const auto& line : Split(*procs, '\n'))
        if (!Trim(line).empty()) pids.insert(std::stoi(std::string(Trim(line))));
    }
    return pids;
  };
  // A pidfd per box process, taken while the supervisor lives: each becomes readable
  // when its process exits (pidfd_open(2)), so the test waits for the exits themselves.
  std::vector<UniqueFd> exits;
  for (pid_t p : box_pids()) {
    UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, p, 0)));
    if (fd.get() >= 0) exits.push_back(std::move(fd));
  }
  ASSERT_FALSE(exits.empty()) << "no box process found in " << *cgroups;
  ASSERT_EQ(kill(sup, SIGKILL), 0);
  int st;
  waitpid(sup, &st, 0);
  // The box (pdeathsig -> pid namespace init) dies with its supervisor. The poll timeout
  // only keeps a broken teardown from hanging the test.
  for (auto& fd : exits) {
    pollfd pfd{fd.get(), POLLIN, 0};
    EXPECT_EQ(poll(&pfd, 1, 60 * 1000), 1) << "a box process survived its supervisor";
  }
  EXPECT_TRUE(box_pids().empty()) << "box processes survived their supervisor";
  // Stale until swept.
  EXPECT_EQ(access(dir.c_str(), F_OK), 0);
  auto swept = SweepStaleBoxes(state_.path());
  ASSERT_TRUE(swept) << swept.error().ToString();
  ASSERT_EQ(swept->reclaimed.size(), 1u);
  EXPECT_EQ(swept->reclaimed[0], "killed-supervisor");
  EXPECT_NE(access(dir.c_str(), F_OK), 0);
  for (const auto& p : Split(*cgroups, '\n')) {
    if (!p.empty()) {
      EXPECT_NE(access(p.c_str(), F_OK), 0) << p << " left behind";
    }
  }
}

TEST_F(BoxTest, SweepLeavesLiveBoxesAlone) {
  auto s = SweepStaleBoxes(state_.path());
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->reclaimed.empty());
}

}  // namespace
}  // namespace silk::compat

namespace silk::compat {
namespace {

// veth on a bridge the test creates: the box gets eth0 with its address, the HTB cap on
// eth0, and reaches a listener on the bridge's address. Everything is removed after.
TEST_F(BoxTest, VethOnABridgeWithEgressCap) {
  const char* br = "silkbrtest0";
  std::system((std::string("ip link del ") + br + " 2>/dev/null").c_str());
  ASSERT_EQ(std::system((std::string("ip link add ") + br +
                         " type bridge && ip addr add "
                         "10.231.0.1/24 dev " +
                         br + " && ip link set " + br + " up")
                            .c_str()),
            0);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(47123);
  inet_pton(AF_INET, "10.231.0.1", &a.sin_addr);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(ls, 1), 0);
  std::string got;
  std::thread acceptor([&] {
    pollfd p{ls, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return;
    int c = accept(ls, nullptr, nullptr);
    char buf[64];
    ssize_t n = read(c, buf, sizeof buf);
    if (n > 0) got.assign(buf, static_cast<size_t>(n));
    close(c);
  });
  BoxSpec s;
  s.command = "/bin/sh";
  s.args = {"-c",
            "ip -4 -o addr show dev eth0; tc qdisc show dev eth0; tc class show dev eth0; "
            "echo from-box | busybox nc 10.231.0.1 47123"};
  s.network.mode = NetworkMode::kVeth;
  s.network.bridge = br;
  s.network.address = "10.231.0.2/24";
  s.network.gateway = "10.231.0.1";
  s.network.egress_rate = 1 << 20;
  auto c = RunCaptured(s, opts_);
  acceptor.join();
  close(ls);
  auto veth_left =
      std::system((std::string("ip link show master ") + br + " | grep -q . ").c_str());
  std::system((std::string("ip link del ") + br).c_str());
  ASSERT_TRUE(c.outcome) << c.outcome.error().ToString();
  EXPECT_EQ(c.outcome->exit_status, 0) << c.out;
  EXPECT_NE(c.out.find("inet 10.231.0.2/24"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("qdisc htb 1: root"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("rate 8388Kbit"), std::string::npos) << c.out;  // 1 MiB/s
  EXPECT_EQ(got, "from-box\n");
  EXPECT_NE(veth_left, 0) << "the host end of the veth outlived the box";
}

TEST_F(BoxTest, MissingBridgeIsAClearError) {
  BoxSpec s;
  s.command = "true";
  s.network.mode = NetworkMode::kVeth;
  s.network.bridge = "nosuchbr0";
  s.network.address = "10.232.0.2/24";
  auto r = RunBox(s, opts_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().ToString().find("nosuchbr0"), std::string::npos) << r.error().ToString();
}

}  // namespace
}  // namespace silk::compat

namespace silk::compat {
namespace {

TEST_F(BoxTest, TimeoutKillsTheBox) {
  BoxSpec s;
  s.command = "/bin/sleep";
  s.args = {"30"};
  RunOptions o = opts_;
  o.timeout_ms = 300;
  auto r = RunBox(s, o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_status, 128 + SIGKILL);
  // Killed by the timeout, not before it (`sleep 30` never ends on its own here).
  EXPECT_GE(r->elapsed_ms, o.timeout_ms);
}

}  // namespace
}  // namespace silk::compat
