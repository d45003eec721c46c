// Installing a compiled seccomp filter in the calling thread (or process, with TSYNC).
// For the compat helper: everything here is async-signal-safe and allocation-free, so
// it may run between clone() and execve(). Prepare the sock_fprog (CompiledFilter::
// Fprog()) and the InstallOptions before cloning; the program must stay alive (it is
// copied by the kernel during the call).
#pragma once

#include <linux/filter.h>

#include "policy/compile.hpp"

namespace silk::policy {

struct InstallOptions {
  bool new_listener = false;  // SECCOMP_FILTER_FLAG_NEW_LISTENER: return a notify fd
  bool tsync = false;         // SECCOMP_FILTER_FLAG_TSYNC: every thread of the process
  bool log = false;           // SECCOMP_FILTER_FLAG_LOG: log every non-allow action
};

// The options a compiled filter needs: a listener exactly when it can notify.
InstallOptions InstallOptionsFor(const CompiledFilter& filter, bool tsync = false);

// prctl(PR_SET_NO_NEW_PRIVS, 1): required to install a filter without CAP_SYS_ADMIN.
// Returns 0 or -errno. Async-signal-safe.
int SetNoNewPrivs() noexcept;

// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Returns the listener fd (>= 0) when
// options.new_listener is set, 0 otherwise, or -errno: -EACCES without no_new_privs or
// CAP_SYS_ADMIN, -EINVAL for a malformed program or flag this kernel lacks, -EBUSY if
// another listener is installed, -ESRCH (with tsync) if a thread could not be synced.
// With both tsync and new_listener, SECCOMP_FILTER_FLAG_TSYNC_ESRCH is added so that the
// return value stays the listener fd. Async-signal-safe.
int InstallFilter(const sock_fprog& prog, const InstallOptions& options) noexcept;

}  // namespace silk::policy
