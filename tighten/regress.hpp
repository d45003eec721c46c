// `silk regress`: every workload of a suite under every profile of a lineage, each run
// in its own compatibility box with denial reporting, into a tighten::RegressMatrix.
#pragma once

#include <string>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/regress_report.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

struct RegressRequest {
  std::string profiles_dir;  // a lineage directory (policy/lineage.hpp)
  tighten::Suite suite;
  unsigned jobs = 1;   // boxes in parallel
  int run = 0;         // SILK_RUN for every workload
  int output_fd = -1;  // the workloads' stdout/stderr go here; -1 = inherit
};

// Generations in lineage order: roots (a built-in parent included) first, then children
// breadth-first. Before any box runs, the lineage must hold (every child ⊆ its parent,
// resolved as a box resolves: no capabilities) and the suite must have a workload.
// Errors: the lineage's load errors (kInvalidInput, also for an empty directory);
// kDenied for a broken lineage, with every reason; kInvalidInput for an empty suite;
// box setup errors.
Result<tighten::RegressMatrix> RunRegress(const RegressRequest& request);

// The number of syscalls `profile` allows on the native architecture, resolved as a
// box resolves it (no capabilities): policy::CountAllowed's total.
Result<size_t> AllowSetSize(const policy::Profile& profile);

}  // namespace silk::tighten
