#include "policy/install.hpp"

#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

namespace silk::policy {

InstallOptions InstallOptionsFor(const CompiledFilter& filter, bool tsync) {
  InstallOptions o;
  o.new_listener = filter.has_notify;
  o.tsync = tsync;
  return o;
}

int SetNoNewPrivs() noexcept {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  return 0;
}

int InstallFilter(const sock_fprog& prog, const InstallOptions& options) noexcept {
  unsigned long flags = 0;
  if (options.new_listener) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  if (options.tsync) flags |= SECCOMP_FILTER_FLAG_TSYNC;
  if (options.tsync && options.new_listener) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  if (options.log) flags |= SECCOMP_FILTER_FLAG_LOG;
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return -errno;
  return static_cast<int>(rc);
}

}  // namespace silk::policy
