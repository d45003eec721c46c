// `silk policy learn` and the learning half of `silk policy tighten`: run workloads under
// a parent profile through a workload executor that records every syscall, merge what
// they did, and propose the learned profile (learn_model.hpp), ⊆ parent.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "tighten/executor.hpp"
#include "tighten/learn_model.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

struct LearnRequest {
  policy::Profile parent;  // resolved (policy/resolve.hpp)
  std::vector<tighten::Workload> workloads;
  int runs_per_workload = 1;              // run n gets SILK_RUN=n (varied inputs)
  std::vector<std::string> capabilities;  // granted to the workloads (parent resolved for them)
  // Count frequent syscalls in the kernel (ExecuteOptions::count_in_kernel); false
  // records every syscall one by one.
  bool count_in_kernel = true;
  tighten::ProposeOptions propose;
};

struct LearnRun {
  std::string workload;
  int run = 0;
  int exit_status = 0;
  bool timed_out = false;
  std::string exec_failure;
  bool pass = false;  // exit status as expected and no timeout
  double elapsed_ms = 0;
  uint64_t syscalls = 0;
  size_t denied = 0;            // distinct denied attempts in this run
  size_t counted_syscalls = 0;  // syscalls counted in the kernel (the rest were notified)
};

struct LearnResult {
  tighten::Observations observations;  // merged over every run
  std::vector<LearnRun> runs;
  tighten::Proposal proposal;
  // Why syscalls could not be counted in the kernel (every syscall was notified, which is
  // slower); empty when they were or when the request asked for notification.
  std::string counting_unavailable;
  bool all_passed() const;
};

// Runs every workload `runs_per_workload` times on `executor` in learning mode and
// proposes the learned profile (the executor's runtime syscalls added where the parent
// allows them). A failing workload run does not stop learning (it is in `runs`);
// errors are the executor's setup failures (kSystem, kUnsupported) or kInvalidInput (no
// workloads).
Result<LearnResult> Learn(WorkloadExecutor& executor, const LearnRequest& request);

// Loads a parent profile by path or built-in name and resolves it for the native
// architecture and `caps` (a box has none by default).
Result<policy::Profile> LoadResolvedProfile(const std::string& path_or_name,
                                            const std::vector<std::string>& caps = {});

}  // namespace silk::tighten
