#include "tighten/minimize.hpp"

#include "tighten/local_box_executor.hpp"

#include <algorithm>
#include <optional>
#include <thread>

namespace silk::tighten {
namespace {

void Count(OracleRunStats* stats, const BoxRun& r) {
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

Result<bool> AllPass(const std::vector<tighten::Workload>& oracle, const policy::Profile& p,
                     int output_fd, OracleRunStats* stats) {
  auto file = SILK_TRY(TempProfileFile::Create(p));
  for (const auto& w : oracle) {
    auto r = SILK_TRY(RunWorkloadInBox(w, 0, file.path(), {.output_fd = output_fd}));
    Count(stats, r);
    if (!r.pass) return false;
  }
  return true;
}

}  // namespace

Result<tighten::MinimizeResult> MinimizeAgainstWorkloads(const MinimizeRequest& request) {
  if (request.oracle.empty())
    return Fail(ErrorCode::kInvalidInput, "minimize: no oracle workload given");
  // Under the input profile every oracle workload must pass, else there is nothing to
  // preserve; say which one fails and why (with the first denial).
  auto file = SILK_TRY(TempProfileFile::Create(request.profile));
  std::vector<tighten::Workload> oracle = request.oracle;
  // The runs are made `jobs` at a time, as the candidates' will be, so the slowest one
  // (the base of the candidate timeout) is measured under the same contention.
  const unsigned jobs = std::max(1u, request.options.ddmin.jobs);
  const unsigned runs = std::max(request.options.ddmin.confirm_runs + 1, jobs);
  for (auto& w : oracle) {
    double slowest_ms = 0;
    for (unsigned start = 0; start < runs; start += jobs) {
      const unsigned end = std::min(runs, start + jobs);
      std::vector<std::optional<Result<BoxRun>>> results(end - start);
      {
        std::vector<std::jthread> workers;
        for (unsigned i = start; i < end; ++i)
          workers.emplace_back([&, i] {
            results[i - start] =
                RunWorkloadInBox(w, 0, file.path(), {.output_fd = request.output_fd});
          });
      }
      for (auto& result : results) {
        BoxRun r = SILK_TRY(std::move(*result));
        // Only a failure needs the denial report (and the slower notifying filter).
        if (!r.pass && r.exec_failure.empty() && !r.timed_out)
          r = SILK_TRY(RunWorkloadInBox(w, 0, file.path(),
                                        {.report_denials = true, .output_fd = request.output_fd}));
        if (!r.exec_failure.empty())
          return Fail(ErrorCode::kNotFound, "minimize: oracle '" + w.name +
                                                "' cannot start in the box: " + r.exec_failure);
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
    }
    w.timeout_seconds =
        std::min(w.timeout_seconds, std::max(request.min_candidate_timeout,
                                             request.candidate_timeout_factor * slowest_ms / 1000));
    if (request.stats && &w == &oracle.front()) {
      request.stats->slowest_pass_ms = static_cast<uint64_t>(slowest_ms);
      request.stats->candidate_timeout_ms = static_cast<uint64_t>(w.timeout_seconds * 1000);
    }
  }
  tighten::MinimizeOptions options = request.options;
  // Boxes reporting denials (silk regress) need the listener handoff after the filter.
  options.pinned.insert(options.pinned.end(), kBoxRuntimeSyscalls.begin(),
                        kBoxRuntimeSyscalls.end());
  options.ddmin.assume_full_passes = true;
  return tighten::MinimizeProfile(
      request.profile,
      [&](const policy::Profile& candidate) {
        return AllPass(oracle, candidate, request.output_fd, request.stats);
      },
      options);
}

}  // namespace silk::tighten
