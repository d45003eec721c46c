// `silk policy minimize` and `tighten --minimize`: minimise a profile with ddmin
// (ddmin_profile.hpp) where the oracle is a set of workloads, each run by a workload
// executor (executor.hpp) under the candidate profile; a candidate passes when every
// workload exits as expected.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "tighten/ddmin_profile.hpp"
#include "tighten/executor.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

// Where a minimisation's time goes: every oracle workload run under a candidate (the
// input profile's checks not included), counted by outcome. Updated from the ddmin
// workers' threads.
struct OracleRunStats {
  std::atomic<size_t> passed{0}, failed{0}, timed_out{0};
  std::atomic<uint64_t> passed_ms{0}, failed_ms{0}, timed_out_ms{0};
  std::atomic<uint64_t> slowest_pass_ms{0};       // under the input profile (the timeout's base)
  std::atomic<uint64_t> candidate_timeout_ms{0};  // the first oracle workload's
};

struct MinimizeRequest {
  policy::Profile profile;  // resolved
  std::vector<tighten::Workload> oracle;
  tighten::MinimizeOptions options;
  // A candidate that breaks the dynamic loader (no mmap, no exit_group) often spins
  // until killed, so candidates get max(min_candidate_timeout, factor x the slowest
  // run under the input profile), capped by the workload's own timeout. The input
  // profile is run max(confirm_runs + 1, jobs) times, jobs at a time like the
  // candidates, so the slowest run is measured under the same contention. A candidate
  // that times out fails; too small a factor turns slow passes into flaky verdicts.
  double candidate_timeout_factor = 10;
  double min_candidate_timeout = 2;
  OracleRunStats* stats = nullptr;  // optional, owned by the caller
};

// Runs the oracle on `executor` (options.ddmin.jobs runs at once); the executor's
// runtime syscalls are never removed. Errors: kInvalidInput (no oracle workload),
// kNotFound (an oracle command cannot start under the executor), kInvalidInput "nothing
// to preserve" (an oracle workload fails under the input profile itself; the message
// says which and how, with its first denied call), the executor's errors, or kDenied if
// the result is not ⊆ the input (a bug; never returned silently).
Result<MinimizeResult> MinimizeAgainstWorkloads(WorkloadExecutor& executor,
                                                const MinimizeRequest& request);

}  // namespace silk::tighten
