#include "compat/internal/counted_learning.hpp"

#include <algorithm>
#include <vector>

namespace silk::compat::internal {
namespace {

// The counted syscalls and their counters, or why there are none.
Result<std::pair<std::vector<int>, SyscallCounters>> Open(const policy::EffectivePolicy& native,
                                                          const SyscallObserver& observer,
                                                          int cgroup_dir_fd) {
  if (native.arch != "SCMP_ARCH_X86_64")
    return Fail(ErrorCode::kUnsupported,
                "counting is implemented for x86_64 boxes only, not " + native.arch);
  std::vector<int> counted = CountableSyscalls(native, observer);
  if (counted.empty())
    return Fail(ErrorCode::kUnsupported,
                "the profile allows no syscall whatever its arguments: nothing to count");
  std::vector<KeyedSyscall> keyed;
  for (int nr : counted)
    if (auto args = observer.CountedArguments(nr); args && !args->empty())
      keyed.push_back({nr, *args});
  auto counters = SILK_TRY(SyscallCounters::Open(cgroup_dir_fd, keyed));
  return std::make_pair(std::move(counted), std::move(counters));
}

}  // namespace

CountedLearning::CountedLearning(const policy::EffectivePolicy& native,
                                 const SyscallObserver& observer, int cgroup_dir_fd, bool wanted) {
  if (!wanted) return;
  auto opened = Open(native, observer, cgroup_dir_fd);
  if (!opened) {
    unavailable_ = opened.error().ToString();
    return;
  }
  filter_ = LearningFilter(std::move(opened->first));
  counters_ = std::move(opened->second);
}

Result<void> CountedLearning::Enable() { return counters_ ? counters_->Enable() : Result<void>(); }

Result<void> CountedLearning::Report(const NotifyHandler* handler,
                                     SyscallObserver& observer) const {
  if (!counters_) return {};
  // Only what the filter let through: notified calls were reported one by one.
  const auto totals = SILK_TRY(counters_->Read(filter_.counted()));
  for (auto [nr, count] : totals) {
    if (handler) {
      auto it = handler->I386Continued().find(nr);
      if (it != handler->I386Continued().end()) count -= std::min(count, it->second);
    }
    if (count) observer.OnCounted(nr, count);
  }
  bool complete = true;
  for (const auto& t : SILK_TRY(counters_->ReadKeys(&complete)))
    if (totals.count(t.nr)) observer.OnCountedArguments(t.nr, t.values, complete);
  return {};
}

}  // namespace silk::compat::internal
