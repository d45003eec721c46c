#include "compat/internal/namespaces.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::compat::internal {

uint64_t BoxCloneFlags(bool user_ns) {
  uint64_t f = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC;
  if (user_ns) f |= CLONE_NEWUSER;
  return f;
}

std::string UserNamespaceHint() {
  std::string hint;
  if (auto v = ReadFile("/proc/sys/user/max_user_namespaces"); v && Trim(*v) == "0")
    hint = "user.max_user_namespaces is 0";
  if (auto v = ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); v && Trim(*v) == "0")
    hint = "kernel.unprivileged_userns_clone is 0";
  if (auto v = ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
      v && Trim(*v) == "1")
    hint = "kernel.apparmor_restrict_unprivileged_userns is 1";
  return hint.empty() ? "the kernel refused a new user namespace" : hint;
}

Result<Cloned> CloneBox(uint64_t flags, int cgroup_fd) {
  int pidfd = -1;
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long rc = syscall(SYS_clone3, &args, sizeof args);
  if (rc < 0) {
    int err = errno;
    if ((flags & CLONE_NEWUSER) && (err == EPERM || err == ENOSPC || err == EUSERS))
      return Fail(Error(ErrorCode::kUnsupported,
                        "cannot create a user namespace for an unprivileged box (" +
                            UserNamespaceHint() + "); run as root or enable user namespaces",
                        err));
    if (err == ENOSYS)
      return Fail(Error(ErrorCode::kUnsupported, "clone3 needs Linux 5.3 or later", err));
    return FailErrno("clone3 of the box", err);
  }
  Cloned c;
  c.pid = static_cast<pid_t>(rc);
  if (rc > 0) c.pidfd.Reset(pidfd);
  return c;
}

}  // namespace silk::compat::internal
