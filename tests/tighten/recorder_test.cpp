// The syscall recorder on real programs in real compatibility boxes (root: boxes create
// namespaces and cgroups): threads, exec'd children, denials attributed to the right
// thread, the box's setup not attributed, the box is a real one, command not found,
// timeouts.
#include "tighten/syscall_recorder.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <iostream>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "base/unique_fd.hpp"
#include "tighten/learn.hpp"
#include "tests/common/kernel_features.hpp"

namespace silk::tighten {
namespace {

constexpr const char* kX86_64 = "SCMP_ARCH_X86_64";

// Podman's default profile (Debian containers-common) for a box without capabilities,
// minus its clone3 entry, so that silk's clone3 policy (ENOSYS) applies as it does in
// gen0-sliver.
policy::Profile Parent() {
  auto p = LoadResolvedProfile("/usr/share/containers/seccomp.json");
  EXPECT_TRUE(p) << p.error().ToString();
  for (auto& r : p->syscalls) std::erase(r.names, "clone3");
  std::erase_if(p->syscalls, [](const auto& r) { return r.names.empty(); });
  return *p;
}

bool Saw(const tighten::Observations& o, const std::string& name) {
  auto it = o.by_arch.find(kX86_64);
  if (it == o.by_arch.end()) return false;
  for (const auto& [nr, s] : it->second)
    if (s.name == name) return true;
  return false;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Both ways of learning: frequent syscalls counted in the kernel (the default), and
// every syscall notified to the supervisor.
class RecorderModes : public ::testing::TestWithParam<bool> {};

TEST_P(RecorderModes, ThreadsAndExecedChildrenAreRecorded) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder creates namespaces";
  RecordSpec spec;
  spec.count_in_kernel = GetParam();
  // sh forks, execs python3, which starts threads, which call getppid (used nowhere else
  // here) and exit; sh itself never starts threads.
  spec.argv = {"/bin/sh", "-c",
               "python3 -c 'import os, threading\n"
               "ts = [threading.Thread(target=os.getppid) for _ in range(3)]\n"
               "[t.start() for t in ts]; [t.join() for t in ts]' && exit 3"};
  auto r = RecordSyscalls(spec, Parent());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_FALSE(r->timed_out);
  const auto& o = r->observations;
  EXPECT_TRUE(Saw(o, "execve"));
  EXPECT_TRUE(Saw(o, "getppid"));
  EXPECT_TRUE(Saw(o, "clone"));  // glibc falls back from clone3 (ENOSYS under gen0-sliver)
  // The three threads call getppid once each (and sh once at its start).
  for (const auto& [nr, s] : o.by_arch.at(kX86_64))
    if (s.name == "getppid") {
      EXPECT_GE(s.count, 3u);
    }
  if (GetParam()) {
    EXPECT_TRUE(r->counting_unavailable.empty()) << r->counting_unavailable;
    EXPECT_GT(r->counted_syscalls, 100u);  // podman-default allows ~300 without conditions
  } else {
    EXPECT_EQ(r->counted_syscalls, 0u);
    // Every notified call names its thread: sh, python, 3 threads.
    EXPECT_GE(o.pids.size(), 5u);
  }
  // The box's own setup (mounts, pivot_root, seccomp) is not attributed.
  EXPECT_FALSE(Saw(o, "mount"));
  EXPECT_FALSE(Saw(o, "pivot_root"));
  EXPECT_FALSE(Saw(o, "seccomp"));
  // clone3 was denied by the parent (clone3 policy ENOSYS) and reported as such.
  bool clone3_denied = std::any_of(o.denied.begin(), o.denied.end(),
                                   [](const auto& d) { return d.name == "clone3"; });
  EXPECT_TRUE(clone3_denied);
  // Key arguments: clone flags of the threads.
  const auto& calls = o.by_arch.at(kX86_64);
  for (const auto& [nr, s] : calls) {
    if (s.name == "clone") {
      EXPECT_FALSE(s.key_args.empty());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Learning, RecorderModes, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Counted" : "NotifyAll"; });

using silk::testing::KernelRunsInt80;

// Counting gives the same profile as notifying every call, with the same number of
// calls: a workload with processes, threads and pipes, deterministic in what it calls.
// It also makes i386 getpid calls (int 0x80 from 64-bit code): the kernel counts them
// under number 20, which is writev on x86_64; they must not show up as writev.
TEST(Recorder, CountedLearningSeesWhatNotifyAllSees) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder creates namespaces";
  // Without IA-32 emulation int 0x80 is a fault (SIGSEGV): the i386 part is left out.
  const bool int80 = KernelRunsInt80();
  if (!int80)
    std::cout << "[ NOTE ] this kernel has no IA-32 emulation: the i386 part is not checked\n";
  const std::string i386_part =
      int80 ? "code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
              "code.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))  # eax=20; int 0x80; ret\n"
              "getpid32 = "
              "ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(code)))\n"
              "assert all(getpid32() == os.getpid() for _ in range(100))\n"
            : "";
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "python3 -c 'import os, threading, ctypes, mmap\n"
      "def work():\n"
      "    for _ in range(500): os.getppid(); os.stat(\"/\")\n"
      "ts = [threading.Thread(target=work) for _ in range(2)]\n"
      "[t.start() for t in ts]; [t.join() for t in ts]\n" +
          i386_part +
          "import fcntl, termios, struct\n"
          "r, w = os.pipe(); os.write(w, b\"x\" * 100)\n"
          "for _ in range(50): fcntl.fcntl(r, fcntl.F_GETFL); fcntl.ioctl(r, termios.FIONREAD, "
          "b\"1234\")\n"
          "os.read(r, 100)' | cat"};
  std::map<std::string, uint64_t> counts[2];
  std::map<std::string, std::set<std::vector<uint64_t>>> keys[2];
  for (int counted = 0; counted < 2; ++counted) {
    RecordSpec spec;
    spec.argv = argv;
    spec.count_in_kernel = counted == 1;
    auto r = RecordSyscalls(spec, Parent());
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->exit_status, 0);
    ASSERT_TRUE(r->counting_unavailable.empty()) << r->counting_unavailable;
    for (const auto& [nr, s] : r->observations.by_arch.at(kX86_64)) {
      counts[counted][s.name] = s.count;
      keys[counted][s.name] = s.key_args;
    }
    if (!int80) continue;
    auto i386 = r->observations.by_arch.find("SCMP_ARCH_X86");
    ASSERT_NE(i386, r->observations.by_arch.end());
    ASSERT_TRUE(i386->second.count(20));
    EXPECT_EQ(i386->second.at(20).count, 100u);  // i386 getpid
  }
  EXPECT_FALSE(counts[0].count("writev"));  // the workload itself never calls writev
  std::set<std::string> names[2];
  for (int i = 0; i < 2; ++i)
    for (const auto& [name, n] : counts[i]) names[i].insert(name);
  EXPECT_EQ(names[0], names[1]);
  // The key arguments (ioctl requests, fcntl commands, clone flags) are the same too.
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_TRUE(keys[1]["ioctl"].count({FIONREAD}));
  EXPECT_TRUE(keys[1]["fcntl"].count({F_GETFL}));
  // Calls whose number depends only on the script.
  for (const char* name : {"getppid", "newfstatat", "pipe2"}) {
    EXPECT_EQ(counts[0][name], counts[1][name]) << name;
  }
  EXPECT_GE(counts[1]["getppid"], 1000u);  // the threads' calls (sh makes one more)
}

// Counting works whatever the parent allows (with and without counted key arguments:
// gen0-sliver allows ioctl and fcntl only for some arguments, so none is keyed there).
TEST(Recorder, CountsUnderEveryBuiltinParent) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder creates namespaces";
  for (const char* name : {"gen0-sliver", "podman-default"}) {
    auto parent = LoadResolvedProfile(name);
    ASSERT_TRUE(parent) << parent.error().ToString();
    RecordSpec spec;
    spec.argv = {"/bin/sh", "-c", "ls / > /dev/null"};
    auto r = RecordSyscalls(spec, *parent);
    ASSERT_TRUE(r) << name << ": " << r.error().ToString();
    EXPECT_EQ(r->exit_status, 0) << name;
    EXPECT_TRUE(r->counting_unavailable.empty()) << name << ": " << r->counting_unavailable;
    EXPECT_GT(r->counted_syscalls, 50u) << name;
    EXPECT_TRUE(Saw(r->observations, "getdents64")) << name;
  }
}

// An unprivileged user learns too: the box runs in a user namespace without cgroups,
// nothing can be counted in the kernel, so every syscall is notified, and the outcome says
// why. Runs as "nobody" in a forked process.
TEST(Recorder, UnprivilegedLearningNotifiesEverySyscallAndSaysWhy) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const policy::Profile parent = Parent();
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    if (setgroups(0, nullptr) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
      _exit(90);
    // A process that changed uid from root is non-dumpable (its /proc files stay root's);
    // a login of this user would be dumpable.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    unsetenv("XDG_RUNTIME_DIR");
    RecordSpec spec;
    spec.argv = {"busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000"};
    UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
    spec.stdout_fd = spec.stderr_fd = null.get();
    auto r = RecordSyscalls(spec, parent);
    std::string line = !r ? "error: " + r.error().ToString()
                          : "exit " + std::to_string(r->exit_status) + " counted " +
                                std::to_string(r->counted_syscalls) + " read " +
                                std::to_string(Saw(r->observations, "read")) + " why " +
                                r->counting_unavailable;
    (void)!write(p[1], line.data(), line.size());
    _exit(0);
  }
  close(p[1]);
  UniqueFd rd(p[0]);
  const std::string out = ReadAll(rd.get());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_EQ(out.rfind("exit 0 counted 0 read 1 why ", 0), 0u) << out;
  EXPECT_NE(out.find("no cgroup v2 directory"), std::string::npos) << out;
}

TEST(Recorder, DenialIsAttributedToTheThreadThatMadeIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder's box creates namespaces";
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  RecordSpec spec;
  spec.stdout_fd = wr.get();
  // An exec'd child (python3 under sh) whose second thread tries bpf(2), which the
  // parent denies without CAP_SYS_ADMIN.
  spec.argv = {"/bin/sh", "-c",
               "python3 -c 'import ctypes, threading\n"
               "libc = ctypes.CDLL(None, use_errno=True)\n"
               "def f():\n"
               "    print(threading.get_native_id(), flush=True)\n"
               "    libc.syscall(321, 0, 0, 0)\n"
               "t = threading.Thread(target=f); t.start(); t.join()'"};
  auto r = RecordSyscalls(spec, Parent());
  wr.Reset();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 0);
  pid_t tid = std::stoi(ReadAll(rd.get()));  // in the box's pid namespace
  const auto& d = r->observations.denied;
  auto it = std::find_if(d.begin(), d.end(), [](const auto& x) { return x.name == "bpf"; });
  ASSERT_NE(it, d.end());
  ASSERT_TRUE(r->box_tids.count(it->pid));
  EXPECT_EQ(r->box_tids.at(it->pid), tid);
  // Not the main thread of python3: that one made other calls before the thread started.
  EXPECT_NE(tid, 1);
  EXPECT_EQ(it->count, 1u);
  EXPECT_EQ(policy::VerdictToString(it->verdict), "errno(EPERM)");
  EXPECT_FALSE(Saw(r->observations, "bpf"));  // denied: reported, not learned
}

// Learning runs in a real box: pivot_root'ed root without the host's /home, no
// capabilities, its own hostname; none of the box's setup calls are attributed.
TEST(Recorder, LearningRunsInARealBox) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder's box creates namespaces";
  ASSERT_EQ(access("/home", F_OK), 0) << "the host has no /home to hide";
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  RecordSpec spec;
  spec.stdout_fd = wr.get();
  spec.argv = {"/bin/sh", "-c",
               "test -e /home && echo home; grep '^CapEff:' /proc/self/status; "
               "cat /proc/sys/kernel/hostname"};
  auto r = RecordSyscalls(spec, Parent());
  wr.Reset();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 0);
  std::string out = ReadAll(rd.get());
  EXPECT_EQ(out.find("home"), std::string::npos) << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("box\n"), std::string::npos) << out;
  const auto& o = r->observations;
  EXPECT_TRUE(Saw(o, "execve"));
  EXPECT_TRUE(Saw(o, "clone") || Saw(o, "fork") || Saw(o, "vfork"));
  for (const char* setup : {"pivot_root", "mount", "umount2", "sethostname", "setsid", "capset",
                            "seccomp", "unshare", "setrlimit", "close_range", "sendmsg"})
    EXPECT_FALSE(Saw(o, setup)) << setup << " is the box's setup, not the workload's";
}

// Of the box's execve attempts along PATH only the one that worked is the workload's.
TEST(Recorder, OnlyTheSuccessfulExecIsAttributed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder's box creates namespaces";
  RecordSpec spec;
  spec.env = {"PATH=/nonexistent:/also-missing:/usr/bin:/bin"};
  spec.argv = {"true"};
  auto r = RecordSyscalls(spec, Parent());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 0);
  const auto& calls = r->observations.by_arch.at(kX86_64);
  auto it = std::find_if(calls.begin(), calls.end(),
                         [](const auto& c) { return c.second.name == "execve"; });
  ASSERT_NE(it, calls.end());
  EXPECT_EQ(it->second.count, 1u);
  EXPECT_FALSE(Saw(r->observations, "rt_sigprocmask"));  // the box's, before execve
}

TEST(Recorder, CommandNotFound) {
  RecordSpec spec;
  spec.argv = {"no-such-command-silk"};
  auto r = RecordSyscalls(spec, Parent());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_status, 127);
  EXPECT_NE(r->exec_failure.find("not found"), std::string::npos);
}

TEST(Recorder, HangingWorkloadTimesOutAndIsCleanedUp) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the recorder creates a pid namespace";
  RecordSpec spec;
  // A child that ignores SIGTERM and outlives the shell: the pid namespace takes it.
  spec.argv = {"/bin/sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000"};
  spec.timeout_seconds = 0.5;
  auto r = RecordSyscalls(spec, Parent());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_LT(r->elapsed_ms, 5000);
  // Every recorded process is gone.
  for (pid_t pid : r->observations.pids) EXPECT_NE(kill(pid, 0), 0) << pid;
}

}  // namespace
}  // namespace silk::tighten
