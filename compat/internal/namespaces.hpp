// Namespaces of a box and the clone3() that creates them (fork-like: no new stack, the
// child continues on a copy of the caller's stack and must stay async-signal-safe).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

// CLONE_NEW{PID,NS,NET,UTS,IPC} (+ CLONE_NEWUSER when `user_ns`). The cgroup namespace
// is unshared by the child after the supervisor has moved it into its cgroups, so that
// the namespace's root is the box's cgroup.
uint64_t BoxCloneFlags(bool user_ns);

struct Cloned {
  pid_t pid = 0;   // 0 in the child
  UniqueFd pidfd;  // parent only
};

// clone3(flags | CLONE_PIDFD, exit_signal SIGCHLD). Errors: kUnsupported for EINVAL/
// ENOSYS (old kernel) and for EPERM/ENOSPC creating a user namespace (unprivileged user
// namespaces disabled), kSystem otherwise.
// `cgroup_fd` >= 0: the child is born in that cgroup2 directory (CLONE_INTO_CGROUP).
Result<Cloned> CloneBox(uint64_t flags, int cgroup_fd = -1);

// Whether this kernel lets the caller create user namespaces at all (for messages).
std::string UserNamespaceHint();

}  // namespace silk::compat::internal
