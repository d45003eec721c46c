// `silk policy minimize` and `tighten --minimize`: minimise a profile with ddmin
// (policy/ddmin_profile.hpp) where the oracle is a set of workloads, each run in its own
// compatibility box under the candidate profile; a candidate passes when every workload
// exits as expected.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/ddmin_profile.hpp"
#include "policy/suite.hpp"

namespace silk::layers {

struct MinimizeRequest {
  policy::Profile profile;  // resolved
  std::vector<policy::Workload> oracle;
  policy::MinimizeOptions options;
  // A candidate that breaks the dynamic loader (no mmap, no exit_group) often spins
  // until killed, so candidates get max(min_candidate_timeout, factor x the slowest
  // run under the input profile), capped by the workload's own timeout.
  double candidate_timeout_factor = 10;
  double min_candidate_timeout = 2;
  int output_fd = -1;  // the workloads' stdout/stderr go here; -1 = inherit
};

// Errors: kInvalidInput (no oracle workload), kNotFound (an oracle command is not found
// in the box), kInvalidInput "nothing to preserve" (an oracle workload fails under the
// input profile itself; the message says which and how), or box errors.
Result<policy::MinimizeResult> MinimizeAgainstWorkloads(const MinimizeRequest& request);

}  // namespace silk::layers
