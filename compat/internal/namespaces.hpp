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
//
// `owner` (root callers, with CLONE_NEWUSER): the host uid/gid that owns the new user
// namespace. The kernel charges a namespace's per-uid counts (inotify instances,
// mqueue bytes, user namespaces, ...) at the parent level to the namespace's owner, the
// creator's effective uid; a namespace created by root would let its box exhaust host
// root's quotas. So the calling thread (only it: raw syscalls, not glibc's process-wide
// setxid) takes euid/egid `owner` for the clone, keeping its capabilities
// (SECBIT_NO_SETUID_FIXUP) for CLONE_INTO_CGROUP, and restores its ids, securebits and
// dumpable flag right after. The child starts with euid `owner` and host root as its
// real and saved uid: it must setresuid() to an id of its namespace once the maps are
// written, before it does anything else.
struct NamespaceOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<Cloned> CloneBox(uint64_t flags, int cgroup_fd = -1, const NamespaceOwner* owner = nullptr);

// Whether this kernel lets the caller create user namespaces at all (for messages).
std::string UserNamespaceHint();

}  // namespace silk::compat::internal
