#include "compat/internal/namespaces.hpp"

#include <linux/sched.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

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

namespace {

// This thread's effective ids become `owner` for its lifetime (see CloneBox). Only the
// calling thread changes: raw syscalls, not glibc's setxid broadcast.
class ThreadActsAs {
 public:
  static Result<void> Begin(const NamespaceOwner& owner, ThreadActsAs& self) {
    self.bits_ = prctl(PR_GET_SECUREBITS);
    self.dumpable_ = prctl(PR_GET_DUMPABLE);
    if (self.bits_ < 0 || self.dumpable_ < 0) return FailErrno("reading securebits");
    if (prctl(PR_SET_SECUREBITS, self.bits_ | SECBIT_NO_SETUID_FIXUP) != 0)
      return FailErrno("keeping capabilities across the namespace owner switch");
    self.active_ = true;
    if (syscall(SYS_setresgid, -1, owner.gid, -1) != 0 ||
        syscall(SYS_setresuid, -1, owner.uid, -1) != 0)
      return FailErrno("acting as host uid " + std::to_string(owner.uid) +
                       " to create the box's user namespace");
    return {};
  }
  ThreadActsAs() = default;
  ThreadActsAs(const ThreadActsAs&) = delete;
  ThreadActsAs& operator=(const ThreadActsAs&) = delete;
  // In the parent only (the child keeps the owner's ids until it sets its own).
  void End() {
    if (!active_) return;
    active_ = false;
    // Cannot fail for a thread whose real and saved ids are root, and must not: a
    // supervisor thread left with another euid would act with the wrong rights.
    if (syscall(SYS_setresuid, -1, 0, -1) != 0 || syscall(SYS_setresgid, -1, 0, -1) != 0 ||
        prctl(PR_SET_SECUREBITS, bits_) != 0 || prctl(PR_SET_DUMPABLE, dumpable_) != 0)
      abort();
  }
  // In the child: its ids are its own to change.
  void Abandon() { active_ = false; }
  ~ThreadActsAs() { End(); }

 private:
  int bits_ = 0, dumpable_ = 1;
  bool active_ = false;
};

}  // namespace

Result<Cloned> CloneBox(uint64_t flags, int cgroup_fd, const NamespaceOwner* owner) {
  ThreadActsAs acting;
  if (owner) SILK_TRY(ThreadActsAs::Begin(*owner, acting));
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
  if (rc == 0) {
    acting.Abandon();  // the child keeps the owner's ids (see the header)
    return Cloned{};
  }
  int err = errno;
  acting.End();
  if (rc < 0) {
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
