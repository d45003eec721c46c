#include "layers/minimize_runner.hpp"

#include "layers/box_runner.hpp"

#include <algorithm>

namespace silk::layers {
namespace {

Result<bool> AllPass(const std::vector<policy::Workload>& oracle, const policy::Profile& p,
                     int output_fd) {
  auto file = SILK_TRY(TempProfileFile::Create(p));
  for (const auto& w : oracle) {
    auto r = SILK_TRY(RunWorkloadInBox(w, 0, file.path(), {.output_fd = output_fd}));
    if (!r.pass) return false;
  }
  return true;
}

}  // namespace

Result<policy::MinimizeResult> MinimizeAgainstWorkloads(const MinimizeRequest& request) {
  if (request.oracle.empty())
    return Fail(ErrorCode::kInvalidInput, "minimize: no oracle workload given");
  // Under the input profile every oracle workload must pass, else there is nothing to
  // preserve; say which one fails and why (with the first denial).
  auto file = SILK_TRY(TempProfileFile::Create(request.profile));
  std::vector<policy::Workload> oracle = request.oracle;
  for (auto& w : oracle) {
    double slowest_ms = 0;
    for (unsigned i = 0; i <= request.options.ddmin.confirm_runs; ++i) {
      auto r = SILK_TRY(RunWorkloadInBox(w, 0, file.path(), {.output_fd = request.output_fd}));
      // Only a failure needs the denial report (and the slower notifying filter).
      if (!r.pass && r.exec_failure.empty() && !r.timed_out)
        r = SILK_TRY(RunWorkloadInBox(w, 0, file.path(),
                                      {.report_denials = true, .output_fd = request.output_fd}));
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
  }
  policy::MinimizeOptions options = request.options;
  // Boxes reporting denials (silk regress) need the listener handoff after the filter.
  options.pinned.insert(options.pinned.end(), kBoxRuntimeSyscalls.begin(),
                        kBoxRuntimeSyscalls.end());
  options.ddmin.assume_full_passes = true;
  return policy::MinimizeProfile(
      request.profile,
      [&](const policy::Profile& candidate) {
        return AllPass(oracle, candidate, request.output_fd);
      },
      options);
}

}  // namespace silk::layers
