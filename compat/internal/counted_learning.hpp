// A learning box's side of counted learning (RunOptions::count_in_kernel): which native
// syscalls its filter lets through uncounted by the supervisor, their in-kernel counters
// (syscall_counters.hpp), and the totals reported to the observer after the box exits.
#pragma once

#include <optional>
#include <string>

#include "base/result.hpp"
#include "compat/box.hpp"
#include "compat/internal/learn_filter.hpp"
#include "compat/internal/notify.hpp"
#include "compat/internal/syscall_counters.hpp"
#include "policy/effective.hpp"

namespace silk::compat::internal {

class CountedLearning {
 public:
  // Plans and opens the counters for a box whose native policy is `native`, in cgroup v2
  // directory `cgroup_dir_fd` (-1: none). Never fails: when counting is not wanted or
  // not possible, the filter notifies everything and unavailable() says why.
  CountedLearning(const policy::EffectivePolicy& native, const SyscallObserver& observer,
                  int cgroup_dir_fd, bool wanted);

  // The box's learning filter: keep this object alive and unmoved until it is installed.
  LearningFilter& filter() { return filter_; }
  const std::string& unavailable() const { return unavailable_; }

  // Starts counting (at the listener handoff: the box makes no syscall but execve from
  // there on).
  Result<void> Enable();
  // After the box exited: reports each counted syscall's total (less the i386 calls the
  // supervisor let continue under the same number, which the kernel counted too) and
  // the key-argument tuples to `observer`.
  Result<void> Report(const NotifyHandler* handler, SyscallObserver& observer) const;

 private:
  LearningFilter filter_;
  std::optional<SyscallCounters> counters_;
  std::string unavailable_;
};

}  // namespace silk::compat::internal
