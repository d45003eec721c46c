#include "tighten/minimize.hpp"

#include <algorithm>
#include <optional>

#include "base/parallel.hpp"
#include "tighten/learn_model.hpp"

namespace silk::tighten {
namespace {

void Count(OracleRunStats* stats, const WorkloadOutcome& r) {
  if (!stats) return;
  const auto ms = static_cast<uint64_t>(r.ms);
  if (r.pass) {
    ++stats->passed;
    stats->passed_ms += ms;
  } else if (r.timed_out) {
    ++stats->timed_out;
    stats->timed_out_ms += ms;
  } else {
    ++stats->failed;
    stats->failed_ms += ms;
  }
}

Result<bool> AllPass(WorkloadExecutor& executor, const std::vector<Workload>& oracle,
                     const policy::Profile& p, OracleRunStats* stats) {
  for (const auto& w : oracle) {
    auto r = SILK_TRY(executor.Execute(w, 0, p, {}));
    Count(stats, r);
    if (!r.pass) return false;
  }
  return true;
}

}  // namespace

Result<MinimizeResult> MinimizeAgainstWorkloads(WorkloadExecutor& executor,
                                                const MinimizeRequest& request) {
  if (request.oracle.empty())
    return Fail(ErrorCode::kInvalidInput, "minimize: no oracle workload given");
  // Under the input profile every oracle workload must pass, else there is nothing to
  // preserve; say which one fails and why (with the first denial).
  std::vector<Workload> oracle = request.oracle;
  // The runs are made `jobs` at a time, as the candidates' will be, so the slowest one
  // (the base of the candidate timeout) is measured under the same contention.
  const unsigned jobs = std::max(1u, request.options.ddmin.jobs);
  const unsigned runs = std::max(request.options.ddmin.confirm_runs + 1, jobs);
  for (auto& w : oracle) {
    std::vector<std::optional<WorkloadOutcome>> outcomes(runs);
    SILK_TRY(ParallelFor(static_cast<int>(jobs), runs, [&](size_t i) -> Result<void> {
      outcomes[i] = SILK_TRY(executor.Execute(w, 0, request.profile, {}));
      return {};
    }));
    double slowest_ms = 0;
    for (auto& outcome : outcomes) {
      WorkloadOutcome r = std::move(*outcome);
      // Only a failure needs the denial report (and the slower notifying filter).
      if (!r.pass && r.exec_failure.empty() && !r.timed_out)
        r = SILK_TRY(executor.Execute(w, 0, request.profile, {.report_denials = true}));
      if (!r.exec_failure.empty())
        return Fail(ErrorCode::kNotFound,
                    "minimize: oracle '" + w.name + "' cannot start in the box: " + r.exec_failure);
      if (!r.pass) {
        std::string why = r.timed_out
                              ? "timed out after " + std::to_string(w.timeout_seconds) + " s"
                              : "exit status " + std::to_string(r.exit_status) + " (expected " +
                                    std::to_string(w.expect_exit) + ")";
        if (!r.first_denial.empty()) why += ", first denied syscall " + r.first_denial;
        return Fail(ErrorCode::kInvalidInput,
                    "minimize: the oracle '" + w.name + "' fails under the input profile " +
                        "itself (" + why + "), so there is nothing to preserve; fix the " +
                        "oracle or start from a wider profile");
      }
      slowest_ms = std::max(slowest_ms, r.ms);
    }
    w.timeout_seconds =
        std::min(w.timeout_seconds, std::max(request.min_candidate_timeout,
                                             request.candidate_timeout_factor * slowest_ms / 1000));
    if (request.stats && &w == &oracle.front()) {
      request.stats->slowest_pass_ms = static_cast<uint64_t>(slowest_ms);
      request.stats->candidate_timeout_ms = static_cast<uint64_t>(w.timeout_seconds * 1000);
    }
  }
  MinimizeOptions options = request.options;
  // The executor's runtime needs them after the filter is installed (a box reporting
  // denials takes its listener with them).
  for (auto& name : executor.RuntimeSyscalls()) options.pinned.push_back(name);
  options.ddmin.assume_full_passes = true;
  auto result = SILK_TRY(MinimizeProfile(
      request.profile,
      [&](const policy::Profile& candidate) {
        return AllPass(executor, oracle, candidate, request.stats);
      },
      options));
  // ⊆ the input by construction; proven with the algebra all the same.
  SILK_TRY(CheckSubsetOf(result.profile, request.profile, "minimised profile"));
  return result;
}

}  // namespace silk::tighten
