// The box's learning filter (RunOptions::observer): sends every syscall, of every
// architecture, to the supervisor (SECCOMP_RET_USER_NOTIF), except the native x86_64
// syscalls in `counted`, which it allows: those are counted in the kernel instead
// (syscall_counters.hpp), and the supervisor would have let them continue anyway (the
// caller passes only syscalls the profile allows unconditionally). With nothing counted it
// is one instruction.
//
// Why the counted ones need no notification: the supervisor would only have answered
// "continue", and their arguments make no rules; their numbers are counted in the kernel
// instead (syscall_counters.hpp). The box's setup needs no exception: after the filter its child
// makes no syscall but execve (see box.hpp). The notified calls' verdicts come from the
// profile's effective policy (PrepareLearningPolicy), never from a compiled filter.
//
// Shape: arch check, x32 check, then a binary search over the counted numbers' ranges.
// Every path to an allow reads only arch and nr, so the kernel's constant-action cache
// (5.11+) skips the filter entirely for counted syscalls.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "compat/box.hpp"
#include "policy/effective.hpp"

namespace silk::compat::internal {

class LearningFilter {
 public:
  // `counted`: x86_64 syscall numbers (any order, duplicates allowed).
  explicit LearningFilter(std::vector<int> counted = {});
  // Points into this object: keep it alive (and unmoved) until the child has installed it.
  sock_fprog Fprog() {
    return sock_fprog{static_cast<unsigned short>(insns_.size()), insns_.data()};
  }
  const std::vector<sock_filter>& program() const { return insns_; }
  // The native syscalls it allows without notification (sorted).
  const std::vector<int>& counted() const { return counted_; }

 private:
  std::vector<sock_filter> insns_;
  std::vector<int> counted_;
};

// The native syscalls a learning box can count instead of notifying: those `native`
// (the profile's effective x86_64 policy) allows whatever their arguments and that
// `observer` accepts counted (SyscallObserver::CountedArguments), except execve (the
// box's own call, whose last attempt is reported as the workload's start) and socket
// (the supervisor mediates raw and packet sockets). Empty when native is not x86_64.
std::vector<int> CountableSyscalls(const policy::EffectivePolicy& native,
                                   const SyscallObserver& observer);

}  // namespace silk::compat::internal
