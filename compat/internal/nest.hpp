// Nest-ready boxes (BoxSpec::nest): what the supervisor does so that a box can host a
// node manager making boxes of its own. The box's cgroups are delegated to its root (the
// directories only, v2 also the files a delegatee writes; the box's own limits stay
// root's), and mounted in the box by the child, in its cgroup namespace. And the one
// seccomp question nesting raises: the kernel lets a process's filter chain hold one
// listener only (SECCOMP_FILTER_FLAG_NEW_LISTENER fails with EBUSY when a filter already
// in the chain has one: has_duplicate_listener(), kernel/seccomp.c, Linux 5.9+ (commit
// dfe719fef03d)), so silk inside a box whose filter notifies must build its boxes'
// filters without one.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/internal/mounts.hpp"

namespace silk::compat::internal {

// Gives host uid/gid `uid`/`gid` (the box's root) the box's cgroup directories `paths`
// (BoxCgroup::Paths()): mkdir and rmdir in them, and on cgroup2 the delegatee's files
// (cgroup.procs, cgroup.threads, cgroup.subtree_control; cgroup v2's delegation model,
// Documentation/admin-guide/cgroup-v2.rst "Delegation"). Each directory's limit files
// stay root's: the box cannot raise its own limits. Returns the hierarchies to mount in
// the box (MountPlanBuilder::AddCgroupMounts), read from /proc/self/mountinfo.
// Errors: kSystem (chown, or a path on no cgroup mount).
Result<std::vector<MountPlanBuilder::CgroupMount>> DelegateCgroups(
    const std::vector<std::string>& paths, uid_t uid, gid_t gid);

// Whether a filter installed by this process's children may have a listener: false when
// a filter already in this process's chain has one (silk in a box that notifies). Asked
// of the kernel once, in a throwaway child that installs an allow-all filter with
// SECCOMP_FILTER_FLAG_NEW_LISTENER (EBUSY: no). True without a filter (Seccomp: 0).
bool SeccompListenerAvailable();

// The box's own tun device node: a character device like /dev/net/tun, made at `node`
// (in the box's state directory), mode 0600, owned by the box's root. The host's node is
// often root's alone (0600), and the box's root is an unprivileged host uid. False when
// this process cannot mknod (silk in a box: then its /dev/net/tun, which its parent made
// its root's, is bound as it is). Errors: kSystem (stat, chown).
Result<bool> MakeTunNode(const std::string& node, uid_t uid, gid_t gid);

}  // namespace silk::compat::internal
