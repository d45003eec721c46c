#include "tighten/learn.hpp"

#include "base/log.hpp"
#include "policy/builtin.hpp"
#include "policy/resolve.hpp"
#include "tighten/local_box_executor.hpp"

namespace silk::tighten {

bool LearnResult::all_passed() const {
  for (const auto& r : runs)
    if (!r.pass) return false;
  return true;
}

Result<policy::Profile> LoadResolvedProfile(const std::string& path_or_name,
                                            const std::vector<std::string>& caps) {
  policy::Profile p = SILK_TRY(policy::LoadProfile(path_or_name));
  if (!policy::NeedsResolve(p)) return p;
  policy::ResolveOptions options;
  options.caps = caps;
  return WithContext(policy::Resolve(p, options), "resolving profile " + path_or_name);
}

Result<LearnResult> Learn(const LearnRequest& request) {
  if (request.workloads.empty())
    return Fail(ErrorCode::kInvalidInput, "learn: no workload to learn from");
  LearnResult result;
  for (const auto& w : request.workloads) {
    for (int run = 0; run < request.runs_per_workload; ++run) {
      RecordSpec spec;
      spec.argv = SILK_TRY(tighten::ExpandCommand(w, run));
      spec.env = tighten::RunEnvironment(w, run);
      spec.timeout_seconds = w.timeout_seconds;
      spec.stdout_fd = request.output_fd;
      spec.capabilities = request.capabilities;
      spec.stderr_fd = request.output_fd;
      spec.count_in_kernel = request.count_in_kernel;
      auto rec = SILK_TRY(
          WithContext(RecordSyscalls(spec, request.parent), "learning workload " + w.name));
      LearnRun r;
      r.workload = w.name;
      r.run = run;
      r.exit_status = rec.exit_status;
      r.timed_out = rec.timed_out;
      r.exec_failure = rec.exec_failure;
      r.pass = !rec.timed_out && rec.exec_failure.empty() && rec.exit_status == w.expect_exit;
      r.elapsed_ms = rec.elapsed_ms;
      r.syscalls = rec.observations.total;
      r.denied = rec.observations.denied.size();
      r.counted_syscalls = rec.counted_syscalls;
      if (result.counting_unavailable.empty())
        result.counting_unavailable = rec.counting_unavailable;
      LogInfo("learn: " + w.name + " run " + std::to_string(run) + ": " +
              (r.pass ? "ok" : "FAILED (exit " + std::to_string(r.exit_status) + ")") + ", " +
              std::to_string(r.syscalls) + " syscalls, " +
              std::to_string(rec.observations.DistinctAllowed()) + " distinct");
      result.observations.Merge(rec.observations);
      result.runs.push_back(std::move(r));
    }
  }
  tighten::ProposeOptions propose = request.propose;
  propose.runtime_syscalls.insert(propose.runtime_syscalls.end(), kBoxRuntimeSyscalls.begin(),
                                  kBoxRuntimeSyscalls.end());
  result.proposal = SILK_TRY(tighten::ProposeProfile(result.observations, request.parent, propose));
  return result;
}

}  // namespace silk::tighten
