#include "compat/internal/child.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "compat/internal/caps.hpp"
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

// Sends the seccomp listener fd to the supervisor.
int SendFd(int sock, int fd) {
  char kind = kMsgListener;
  iovec iov{&kind, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
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
  if (LockCapabilities(p.keep_caps) != 0) Die(fd, kStageCaps, errno);
  if (p.set_ids) {
    if (p.set_groups && setgroups(0, nullptr) != 0) Die(fd, kStageSetIds, errno);
    if (setresgid(p.gid, p.gid, p.gid) != 0) Die(fd, kStageSetIds, errno);
    if (setresuid(p.uid, p.uid, p.uid) != 0) Die(fd, kStageSetIds, errno);
  }
  if (SetCapabilities(p.keep_caps) != 0) Die(fd, kStageCaps, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die(fd, kStageNoNewPrivs, errno);
  if (chdir(p.cwd) != 0) Die(fd, kStageCwd, errno);
  for (int i = 0; i < 3; ++i)
    if (p.stdio[i] >= 0 && p.stdio[i] != i && dup2(p.stdio[i], i) < 0) Die(fd, kStageStdio, errno);
  // Every inherited fd but stdin/stdout/stderr closes at execve.
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  if (p.filter) {
    int lfd = policy::InstallFilter(*p.filter, p.install);
    if (lfd < 0) Die(fd, kStageSeccomp, -lfd);
    if (p.install.new_listener) {
      if (SendFd(fd, lfd) != 0) Die(fd, kStageSendListener, errno);
      close(lfd);
    }
  }
  // The supervisor may block signals it handles through a signalfd; the box starts clean.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int err = Exec(p);
  Die(fd, kStageExec, err);
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
    default:
      return "setting up the box";
  }
}

}  // namespace silk::compat::internal
