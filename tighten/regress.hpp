// `silk regress`: every workload of a suite under every profile of a lineage, each run
// by a workload executor (executor.hpp) with denial reporting, into a RegressMatrix,
// and the matrix judged against a baseline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/executor.hpp"
#include "tighten/regress_report.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

struct RegressRequest {
  std::string profiles_dir;  // a lineage directory (policy/lineage.hpp)
  Suite suite;
  unsigned jobs = 1;  // workloads run at once
  int run = 0;        // SILK_RUN for every workload
};

// Profiles in lineage order: roots (a built-in parent included) first, then children
// breadth-first. Before any workload runs, the lineage must hold (every child ⊆ its
// parent, resolved as a box resolves: no capabilities) and the suite must have a
// workload. A run the executor cannot set up is a failing cell that says why.
// Errors: the lineage's load errors (kInvalidInput, also for an empty directory);
// kDenied for a broken lineage, with every reason; kInvalidInput for an empty suite.
Result<RegressMatrix> RunRegress(WorkloadExecutor& executor, const RegressRequest& request);

// A matrix judged as `silk regress` judges it.
struct RegressVerdict {
  RegressMatrix matrix;
  // What the matrix was judged against: the given baseline, or with update_baseline the
  // matrix itself (every failure accepted); nullopt without one.
  std::optional<Baseline> baseline;
  std::vector<Regression> regressions;  // failures the baseline does not accept
  // With a baseline: a regression; without: any failing cell.
  bool failed() const;
};

// RunRegress, then the comparison with `baseline` (or, with update_baseline, the new
// matrix becomes the baseline and nothing regresses). Errors: RunRegress's.
Result<RegressVerdict> RegressAgainstBaseline(WorkloadExecutor& executor,
                                              const RegressRequest& request,
                                              std::optional<Baseline> baseline,
                                              bool update_baseline);

// The number of syscalls `profile` allows on the native architecture, resolved as a
// box resolves it (no capabilities): policy::CountAllowed's total.
Result<size_t> AllowSetSize(const policy::Profile& profile);

}  // namespace silk::tighten
