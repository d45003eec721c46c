// The tighten workflow: the next profile of a lineage from a parent and a suite. Learn
// what the suite's workloads use under the parent, optionally minimise against the whole
// suite, give the child its lineage metadata (extends the parent, generation + 1, notes
// that say how it was made) and prove child ⊆ parent. One call that `silk policy
// tighten`, a node manager or a generation can make; the workloads run wherever the
// executor runs them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/executor.hpp"
#include "tighten/learn.hpp"
#include "tighten/minimize.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

struct TightenRequest {
  policy::Profile parent;  // resolved (LoadParentProfile), with a meta.name
  std::string parent_ref;  // how the caller named the parent, for the notes
  Suite suite;             // the workloads the child must serve
  int runs_per_workload = 1;
  bool minimize = false;  // also minimise against the whole suite
  unsigned jobs = 2;      // oracle runs at once when minimising
  unsigned confirm_runs = 1;
  std::string child_name;  // meta.name of the child
};

struct TightenResult {
  policy::Profile child;  // ⊆ parent (checked), extends parent.meta.name
  LearnResult learned;
  // Set when the request asked for minimisation; allowed_before is the learned
  // profile's allowed-syscall count.
  std::optional<MinimizeResult> minimized;
  size_t allowed_before = 0;
};

// Errors: kInvalidInput when a workload fails under the parent itself (the message
// carries LearnSummary, so it says which run and why), the executor's errors, the
// minimiser's (see MinimizeAgainstWorkloads), kDenied if the child is not ⊆ parent (a
// bug; never returned silently).
Result<TightenResult> Tighten(WorkloadExecutor& executor, const TightenRequest& request);

// Loads a profile by path or built-in name and resolves it for a box with `caps`; a
// profile without a silk name (a plain Docker/Podman file) is named after its file, so
// children can extend it. Errors: LoadResolvedProfile's.
Result<policy::Profile> LoadParentProfile(const std::string& ref,
                                          const std::vector<std::string>& caps);

// `learn --merge`: `learned` united with `earlier` (learned under the same parent), ∩
// parent, and checked ⊆ parent. Errors: MergeLearned's, kDenied if not ⊆ parent.
Result<policy::Profile> MergeWithEarlier(const policy::Profile& learned,
                                         const policy::Profile& earlier,
                                         const policy::Profile& parent);

// What learning found, for people: syscalls learned, the C library's floor added, each
// failed run, the calls the parent denied, and why nothing was counted in the kernel.
std::string LearnSummary(const LearnResult& r);
// What minimisation did, for people: `before` -> kept, removed by mode, oracle runs,
// whether the result is proven 1-minimal, and the kept names.
std::string MinimizeSummary(const MinimizeResult& r, size_t before);

}  // namespace silk::tighten
