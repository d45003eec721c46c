#include "compat/internal/child.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "compat/internal/caps.hpp"
#include "compat/internal/fault_gate.hpp"
#include "compat/internal/netlink.hpp"

namespace silk::compat::internal {
namespace {

[[noreturn]] void Die(int fd, uint32_t stage, int err) {
  ChildReport r;
  r.stage = stage;
  r.err = err;
  (void)!send(fd, &r, sizeof r, MSG_NOSIGNAL);
  _exit(127);
}

// Announces where the listener will be, with the gate's fd when there is one.
int SendListenerAt(int sock, int listener_at, int gate_fd) {
  ListenerAt at;
  at.fd = listener_at;
  at.gated = gate_fd >= 0;
  iovec iov = {&at, sizeof at};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (gate_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &gate_fd, sizeof gate_fd);
  }
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof at) ? 0 : -1;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// execvp semantics without allocation: try each PATH entry, remember the most telling
// errno (EACCES beats ENOENT).
int Exec(const ChildPlan& p) {
  if (strchr(p.command, '/')) {
    execve(p.command, p.argv, p.envp);
    return errno;
  }
  int best = ENOENT;
  size_t clen = strlen(p.command);
  const char* dir = p.path;
  while (dir && *dir) {
    const char* end = strchr(dir, ':');
    size_t dlen = end ? static_cast<size_t>(end - dir) : strlen(dir);
    if (dlen + 1 + clen + 1 <= p.exec_buf_size) {
      char* b = p.exec_buf;
      if (dlen == 0) {
        b[0] = '.';
        dlen = 1;
      } else {
        memcpy(b, dir, dlen);
      }
      b[dlen] = '/';
      memcpy(b + dlen + 1, p.command, clen + 1);
      execve(b, p.argv, p.envp);
      if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE) best = errno;
      if (errno == ENOEXEC) return errno;
    }
    if (!end) break;
    dir = end + 1;
  }
  return best;
}

// The kernel clears the parent-death signal and the dumpable flag whenever the child's
// ids change: set them again (dumpable: /proc/self/ files, loginuid among them, belong
// to root otherwise, not to the box), then make sure the supervisor did not die before
// the signal was armed (its end of the sync socket would be closed).
void RearmAfterIdChange(int fd, bool dumpable) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) Die(fd, kStageSetIds, errno);
  if (dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) Die(fd, kStageSetIds, errno);
  pollfd pf = {fd, POLLRDHUP, 0};
  if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP))) _exit(127);
}

void NoOp(int) {}

// The signals silk's init passes on to the command: every catchable one that is not
// about init itself (SIGCHLD) or a fault of its own (SEGV, BUS, ILL, FPE, TRAP, SYS).
constexpr int kForwarded[] = {SIGHUP,  SIGINT,    SIGQUIT, SIGUSR1,  SIGUSR2, SIGPIPE, SIGALRM,
                              SIGTERM, SIGCONT,   SIGTSTP, SIGTTIN,  SIGTTOU, SIGURG,  SIGXCPU,
                              SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO,   SIGPWR,  SIGABRT};

// silk's init, pid 1 of the box: reaps every process that ends (orphans are reparented
// to it), forwards the catchable signals to `command` and exits with its status once it
// has ended (128+N when signal N killed it; the signal goes to the supervisor through
// the handoff page, since a namespace's init cannot die of a signal it sends itself).
// Holds no descriptor. A signal reaches a namespace's init only when it has a handler,
// hence the empty handlers; they never run, the signals stay blocked and are taken
// with sigwaitinfo.
[[noreturn]] void RunInit(pid_t command, ChildHandoff* handoff) {
  sigset_t wait_for;
  sigfillset(&wait_for);
  sigprocmask(SIG_BLOCK, &wait_for, nullptr);
  struct sigaction sa = {};
  sa.sa_handler = NoOp;
  sigfillset(&sa.sa_mask);
  for (int sig : kForwarded) sigaction(sig, &sa, nullptr);
  sigaction(SIGCHLD, &sa, nullptr);
  sigemptyset(&wait_for);
  for (int sig : kForwarded) sigaddset(&wait_for, sig);
  sigaddset(&wait_for, SIGCHLD);
  syscall(SYS_close_range, 0u, ~0u, 0u);
  for (;;) {
    int status = 0;
    pid_t ended;
    while ((ended = waitpid(-1, &status, WNOHANG)) > 0) {
      if (ended != command) continue;
      if (WIFSIGNALED(status)) {
        handoff->command_signal.store(WTERMSIG(status), std::memory_order_release);
        _exit(128 + WTERMSIG(status));
      }
      _exit(WEXITSTATUS(status));
    }
    if (ended < 0 && errno == ECHILD) _exit(127);  // cannot happen: the command is ours
    siginfo_t info;
    int sig = sigwaitinfo(&wait_for, &info);
    if (sig > 0 && sig != SIGCHLD) kill(command, sig);
  }
}

// Forks the command off silk's init; returns in the command's process only.
void StartUnderInit(int fd, ChildHandoff* handoff) {
  // Non-dumpable before the fork, so that no box process can ever ptrace init or read
  // its memory (the box has no CAP_SYS_PTRACE); the command is made dumpable again.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Die(fd, kStageInit, errno);
  // The raw clone: glibc's fork() would run atfork handlers whose locks another thread
  // of the supervisor may have held at clone time.
  long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (child < 0) Die(fd, kStageInit, errno);
  if (child > 0) RunInit(static_cast<pid_t>(child), handoff);
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) Die(fd, kStageInit, errno);
}

}  // namespace

void RunChild(const ChildPlan& p) {
  int fd = p.sync_fd;
  // The box dies with the supervisor thread; if the supervisor is already gone, the
  // read below sees EOF.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char go = 0;
  ssize_t n;
  do n = recv(fd, &go, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'G') Die(fd, kStageWaitGo, n < 0 ? errno : EPIPE);
  if (p.enter_pidfd >= 0) {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Die(fd, kStageEnter, errno);
    if (setns(p.enter_pidfd, p.enter_flags) != 0) Die(fd, kStageEnter, errno);
  }
  if (p.become_ns_root) {
    if (syscall(SYS_setresgid, 0, 0, 0) != 0 || syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresuid, 0, 0, 0) != 0)
      Die(fd, kStageNsRoot, errno);
    RearmAfterIdChange(fd, p.enter_pidfd < 0);
  }
  // A new session: no controlling terminal, so TIOCSTI into the caller's tty fails.
  if (setsid() < 0) Die(fd, kStageSetsid, errno);
  if (p.unshare_cgroup && unshare(CLONE_NEWCGROUP) != 0) Die(fd, kStageCgroupNs, errno);
  if (p.hostname && sethostname(p.hostname, strlen(p.hostname)) != 0)
    Die(fd, kStageHostname, errno);
  if (p.loopback_up && LoopbackUpAsyncSafe() != 0) Die(fd, kStageLoopback, errno);
  size_t failed = 0;
  if (ExecuteMountPlan(p.mounts, &failed) != 0)
    Die(fd, kMountBase + static_cast<uint32_t>(failed), errno);
  for (size_t i = 0; i < p.rlimit_count; ++i) {
    rlimit rl{p.rlimits[i].soft, p.rlimits[i].hard};
    if (setrlimit(p.rlimits[i].resource, &rl) != 0) Die(fd, kStageRlimit, errno);
  }
  // Bounding set and securebits first (needs CAP_SETPCAP), then the uid switch (caps
  // untouched thanks to SECBIT_NO_SETUID_FIXUP), then the final sets.
  if (LockCapabilities(p.keep_caps, p.last_cap) != 0) Die(fd, kStageCaps, errno);
  if (p.set_ids) {
    // Raw syscalls, not glibc's wrappers: those broadcast the change to every thread of
    // the process (__nptl_setxid), and this child of a multithreaded supervisor inherits
    // a thread list whose threads do not exist here; it would wait on them forever.
    if (p.set_groups && syscall(SYS_setgroups, 0, nullptr) != 0) Die(fd, kStageSetIds, errno);
    if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) Die(fd, kStageSetIds, errno);
    if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) Die(fd, kStageSetIds, errno);
    RearmAfterIdChange(fd, p.enter_pidfd < 0);
  }
  if (SetCapabilities(p.keep_caps, p.last_cap) != 0) Die(fd, kStageCaps, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die(fd, kStageNoNewPrivs, errno);
  if (chdir(p.cwd) != 0) Die(fd, kStageCwd, errno);
  for (int i = 0; i < 3; ++i)
    if (p.stdio[i] >= 0 && p.stdio[i] != i && dup2(p.stdio[i], i) < 0) Die(fd, kStageStdio, errno);
  if (p.controlling_tty && ioctl(0, TIOCSCTTY, 0) != 0) Die(fd, kStageStdio, errno);
  // Every inherited fd but stdin/stdout/stderr closes at execve.
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  // The supervisor may block signals it handles through a signalfd; the box starts clean.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (p.run_init) StartUnderInit(fd, p.handoff);
  if (p.filter) {
    int expect = -1;
    FaultGateChild gate;
    if (p.install.new_listener) {
      // seccomp() returns the lowest free fd: find it and announce it while the socket
      // is still ours to use (after the filter, sendmsg may be denied or notified),
      // with the gate we will wait at (fault_gate.hpp) where userfaultfd works here.
      // The gate's fd was the lowest free one, and is again once we close our copy.
      expect = gate.Open() == 0 ? gate.uffd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (expect < 0) Die(fd, kStageSendListener, errno);
      if (gate.uffd < 0) close(expect);
      if (SendListenerAt(fd, expect, gate.uffd) != 0) Die(fd, kStageSendListener, errno);
      gate.CloseFd();
    }
    int lfd = policy::InstallFilter(*p.filter, p.install);
    if (lfd < 0) Die(fd, kStageSeccomp, -lfd);
    if (p.install.new_listener) {
      if (lfd != expect) {  // cannot happen: nothing opened an fd in between
        p.handoff->exec_errno.store(EBADF);
        _exit(127);
      }
      // Wait without a syscall until the supervisor has taken the listener (CLOEXEC:
      // execve drops this copy): asleep at the gate, or spinning on the page without one.
      if (gate.page != nullptr)
        gate.Pass();
      else
        while (!p.handoff->listener_taken.load(std::memory_order_acquire)) CpuRelax();
    }
  }
  // From here on only execve: a failure is told through the shared page.
  int err = Exec(p);
  p.handoff->exec_errno.store(err, std::memory_order_release);
  _exit(127);
}

const char* ChildStageName(uint32_t stage) {
  switch (stage) {
    case kStageWaitGo:
      return "waiting for the supervisor";
    case kStageSetsid:
      return "setsid";
    case kStageCgroupNs:
      return "unshare(CLONE_NEWCGROUP)";
    case kStageHostname:
      return "sethostname";
    case kStageLoopback:
      return "bringing up lo";
    case kStageMountPrivate:
      return "making mounts private";
    case kStagePivot:
      return "pivot_root";
    case kStageCwd:
      return "chdir to the working directory";
    case kStageRlimit:
      return "setrlimit";
    case kStageSetIds:
      return "setting uid/gid";
    case kStageCaps:
      return "dropping capabilities";
    case kStageNoNewPrivs:
      return "PR_SET_NO_NEW_PRIVS";
    case kStageSeccomp:
      return "installing the seccomp filter";
    case kStageSendListener:
      return "passing the seccomp listener to the supervisor";
    case kStageStdio:
      return "setting up stdin/stdout/stderr";
    case kStageExec:
      return "execve";
    case kStageNsRoot:
      return "becoming root of the box's user namespace";
    case kStageInit:
      return "starting the command under silk's init";
    case kStageEnter:
      return "entering the box's namespaces (setns)";
    default:
      return "setting up the box";
  }
}

}  // namespace silk::compat::internal
