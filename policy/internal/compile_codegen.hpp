// silk's own BPF generator for one architecture's effective policy.
//
// libseccomp 2.5.4 builds wrong argument trees when one syscall has several rules with
// range comparisons on shared arguments (podman-default's socket rules plus a box's
// AF_PACKET rule: socket(AF_NETLINK, .., NETLINK_AUDIT) allowed instead of denied), and
// spends ~6 ms per architecture on a Podman-sized profile. The generator implements
// EffectivePolicy::Evaluate directly:
//
//   ld nr
//   binary search over the syscall numbers whose verdict is not the default (groups of
//   up to 8 "jeq nr" leaves; unconditional verdicts return at the leaf, so the path of
//   an argument-free syscall reads only nr and the kernel's constant-action cache
//   (5.11+) skips the filter for it)
//   ret default
//   per argument-checked syscall: its rules, most restrictive verdict first; the first
//   rule whose conditions all hold returns its verdict; none: the default.
//
// "Most restrictive first, first match wins" is Evaluate's "the most restrictive
// matching verdict wins", so overlapping rules need no region splitting. Conditions are
// exact 64-bit comparisons over the two 32-bit halves of seccomp_data.args[i]; for i386
// the high half is taken as 0 (the kernel passes 32-bit registers, and int 0x80 from
// 64-bit code may leave stale high bits that the syscall itself ignores).
// The program assumes the caller checked seccomp_data.arch (compile_stitch.hpp does).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/compile.hpp"
#include "policy/effective.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy::internal {

struct ArchCode {
  std::vector<sock_filter> program;
  bool has_notify = false;  // some path returns SECCOMP_RET_USER_NOTIF
};

// The program for `ep` (whose arch is `arch`). Errors (kUnsupported) when a rule's code
// is too long for classic BPF's 8-bit conditional jumps.
Result<ArchCode> GenerateArch(const EffectivePolicy& ep, ArchToken arch,
                              const CompileOptions& options);

// A readable listing of what GenerateArch compiles, in libseccomp's PFC syntax
// (if ($syscall == N) ... action X;), one section per architecture.
std::string ArchPfc(const EffectivePolicy& ep, ArchToken arch, const CompileOptions& options);

}  // namespace silk::policy::internal
