#include "tighten/learn.hpp"

#include "base/log.hpp"
#include "policy/builtin.hpp"
#include "policy/resolve.hpp"

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

Result<LearnResult> Learn(WorkloadExecutor& executor, const LearnRequest& request) {
  if (request.workloads.empty())
    return Fail(ErrorCode::kInvalidInput, "learn: no workload to learn from");
  const ExecuteOptions options{.learn = true,
                               .count_in_kernel = request.count_in_kernel,
                               .capabilities = request.capabilities};
  LearnResult result;
  for (const auto& w : request.workloads) {
    for (int run = 0; run < request.runs_per_workload; ++run) {
      auto rec = SILK_TRY(WithContext(executor.Execute(w, run, request.parent, options),
                                      "learning workload " + w.name));
      LearnRun r;
      r.workload = w.name;
      r.run = run;
      r.exit_status = rec.exit_status;
      r.timed_out = rec.timed_out;
      r.exec_failure = rec.exec_failure;
      r.pass = rec.pass;
      r.elapsed_ms = rec.ms;
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
  ProposeOptions propose = request.propose;
  for (auto& name : executor.RuntimeSyscalls()) propose.runtime_syscalls.push_back(name);
  result.proposal = SILK_TRY(ProposeProfile(result.observations, request.parent, propose));
  return result;
}

}  // namespace silk::tighten
