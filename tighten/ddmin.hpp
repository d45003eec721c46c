// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
// Input", TSE 2002): finds a 1-minimal subset of n items for which an oracle still
// passes. silk minimises API profiles with it (the items are allowed syscalls; see
// ddmin_profile.hpp), but this file knows nothing about syscalls.
//
// Properties the callers rely on:
// - Deterministic: the same oracle gives the same result for any number of workers.
//   Candidates are tested in a fixed order on `jobs` workers, each taking the next
//   untested candidate when it is free, and the lowest-index passing candidate is taken
//   once every candidate before it has failed, exactly as the sequential algorithm
//   would. (Oracle run counts may differ between runs: a worker may test a candidate
//   after the one that passes; its verdict only fills the cache.)
// - Every subset is tested at most once (a cache keyed by the subset).
// - A passing verdict (the one that shrinks the set, so the one that can do harm if it
//   is wrong) is confirmed by re-running the oracle `confirm_runs` times; a candidate
//   whose runs disagree is flaky, counted, and treated as failing (conservative: the
//   items stay).
// - The result is checked 1-minimal: removing any single remaining item fails.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "base/result.hpp"

namespace silk::tighten {

// Runs the workload with exactly the items in `kept` (sorted, indices < n) and says
// whether it passed. Must be safe to call from several threads at once. An Error aborts
// the minimisation and is returned as it is.
using DdminOracle = std::function<Result<bool>(const std::vector<size_t>& kept)>;

struct DdminOptions {
  unsigned jobs = 1;           // oracle runs in parallel (>= 1)
  unsigned confirm_runs = 1;   // extra runs that must agree before a pass is believed
  size_t max_oracle_runs = 0;  // 0 = unlimited; otherwise stop (kTimeout) beyond this
  // Skip the initial check that the full set passes (the caller already did it).
  bool assume_full_passes = false;
};

struct DdminResult {
  std::vector<size_t> kept;     // sorted
  std::vector<size_t> removed;  // sorted
  size_t oracle_runs = 0;       // oracle invocations, confirmation re-runs included
  size_t cache_hits = 0;        // candidates answered from the cache
  size_t flaky_candidates = 0;  // candidates whose runs disagreed
  double seconds = 0;           // wall time
  bool one_minimal = false;     // every kept item was shown necessary
};

// Minimises {0..n-1} against `oracle`. Errors: kInvalidInput if the full set does not
// pass (there is nothing to preserve), kTimeout if max_oracle_runs is exceeded, or the
// oracle's own error.
Result<DdminResult> Ddmin(size_t n, const DdminOracle& oracle, const DdminOptions& options = {});

}  // namespace silk::tighten
