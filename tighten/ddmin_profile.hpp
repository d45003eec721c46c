// Minimising an API profile against an oracle (`silk policy minimize`, `tighten
// --minimize`): ddmin (ddmin.hpp) over the syscalls the profile allows, then the denial
// mode of each removed syscall.
//
// A removed syscall is first denied with ENOSYS (glibc and other runtimes fall back on
// ENOSYS, e.g. clone3 -> clone, so more syscalls can go). After ddmin, all removed
// syscalls are tried with EPERM in one run; if the oracle fails, ddmin finds the
// smallest set that must stay ENOSYS, the rest get EPERM. The result lists each
// removed syscall's mode. Removing only narrows what the profile allows, so the result
// is ⊆ the input by construction (callers still check it with the algebra).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/ddmin.hpp"

namespace silk::tighten {

// Runs the oracle under `candidate`; true = pass. Thread-safe (called from `jobs`
// threads at once).
using ProfileOracle = std::function<Result<bool>(const policy::Profile& candidate)>;

struct MinimizeOptions {
  DdminOptions ddmin;
  bool choose_eperm = true;  // the ENOSYS/EPERM phase; off: every removal stays ENOSYS
  // Allowed syscalls that are never removed (and not counted as items): what the box
  // runtime needs after installing the filter (WorkloadExecutor::RuntimeSyscalls).
  std::vector<std::string> pinned;
  std::string name;   // meta.name of the result
  std::string notes;  // meta.notes
};

struct MinimizeResult {
  policy::Profile profile;
  std::vector<std::string> kept;            // allowed syscalls left, sorted
  std::vector<std::string> removed_enosys;  // sorted
  std::vector<std::string> removed_eperm;   // sorted
  size_t oracle_runs = 0;                   // both phases
  size_t cache_hits = 0;
  size_t flaky_candidates = 0;
  double seconds = 0;
  // Every kept syscall's removal (pinned ones aside) was shown to fail the oracle.
  bool one_minimal = false;
  // Syscalls the final proof under the profile as written found removable (also in
  // removed_enosys): it takes them and proves again, so one_minimal holds for the
  // written profile.
  std::vector<std::string> removed_by_proof;
};

// The syscall names `profile` allows (in some rule with action allow or log), sorted.
std::vector<std::string> AllowedNames(const policy::Profile& profile);

// `profile` with only `kept` of its allowed names still allowed; the others denied with
// ENOSYS (`enosys`) or EPERM (every other removed name). Rules left without names are
// dropped. Lineage: extends = profile.meta.name, generation + 1.
policy::Profile RestrictProfile(const policy::Profile& profile,
                                const std::vector<std::string>& kept,
                                const std::vector<std::string>& enosys);

// Minimises `profile` (resolved). Errors: kInvalidInput when the oracle fails under
// `profile` itself (nothing to preserve), kTimeout past ddmin.max_oracle_runs, or the
// oracle's error.
Result<MinimizeResult> MinimizeProfile(const policy::Profile& profile, const ProfileOracle& oracle,
                                       const MinimizeOptions& options = {});

}  // namespace silk::tighten
