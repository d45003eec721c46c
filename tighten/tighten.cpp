#include "tighten/tighten.hpp"

#include <filesystem>
#include <sstream>

#include "base/strings.hpp"
#include "tighten/ddmin_profile.hpp"
#include "tighten/learn_model.hpp"

namespace silk::tighten {

Result<TightenResult> Tighten(WorkloadExecutor& executor, const TightenRequest& request) {
  TightenResult out;
  LearnRequest lr;
  lr.parent = request.parent;
  lr.workloads = request.suite.workloads;
  lr.runs_per_workload = request.runs_per_workload;
  lr.propose.name = request.child_name;
  out.learned = SILK_TRY(Learn(executor, lr));
  if (!out.learned.all_passed())
    return Fail(ErrorCode::kInvalidInput,
                "tighten: some workloads fail under the parent " + request.parent_ref +
                    " itself, so the suite cannot define the child:\n" + LearnSummary(out.learned));
  std::string notes = "tightened from " + request.parent_ref + " for suite " + request.suite.dir +
                      ": learned " + std::to_string(out.learned.observations.DistinctAllowed()) +
                      " syscalls from " + std::to_string(out.learned.runs.size()) + " runs";
  policy::Profile child = out.learned.proposal.profile;
  if (request.minimize) {
    MinimizeRequest mr;
    mr.profile = child;
    mr.oracle = request.suite.workloads;
    mr.options.ddmin.jobs = request.jobs;
    mr.options.ddmin.confirm_runs = request.confirm_runs;
    mr.options.name = request.child_name;
    out.allowed_before = AllowedNames(child).size();
    MinimizeResult m = SILK_TRY(MinimizeAgainstWorkloads(executor, mr));
    notes += "; minimised against the suite to " + std::to_string(m.kept.size()) + " syscalls (" +
             std::to_string(m.oracle_runs) + " oracle runs, " +
             (m.one_minimal ? "1-minimal" : "not proven 1-minimal") + ")";
    child = m.profile;
    out.minimized = std::move(m);
  }
  // Lineage: the child extends the parent directly (the learned step is internal).
  child.meta.name = request.child_name;
  child.meta.extends = request.parent.meta.name;
  child.meta.generation = request.parent.meta.generation ? *request.parent.meta.generation + 1 : 1;
  child.meta.notes = notes;
  SILK_TRY(CheckSubsetOf(child, request.parent, "tightened profile"));
  out.child = std::move(child);
  return out;
}

Result<policy::Profile> LoadParentProfile(const std::string& ref,
                                          const std::vector<std::string>& caps) {
  auto p = SILK_TRY(LoadResolvedProfile(ref, caps));
  if (p.meta.name.empty())
    p.meta.name = ref.empty() || ref == "-" ? ref : std::filesystem::path(ref).stem().string();
  return p;
}

Result<policy::Profile> MergeWithEarlier(const policy::Profile& learned,
                                         const policy::Profile& earlier,
                                         const policy::Profile& parent) {
  auto merged = SILK_TRY(MergeLearned(learned, earlier, parent));
  SILK_TRY(CheckSubsetOf(merged, parent, "merged profile"));
  return merged;
}

std::string LearnSummary(const LearnResult& r) {
  std::ostringstream os;
  const auto& o = r.observations;
  size_t failed = 0;
  for (const auto& run : r.runs) failed += !run.pass;
  os << "learned " << o.DistinctAllowed() << " syscalls (" << r.proposal.conditioned.size()
     << " with argument conditions: " << Join(r.proposal.conditioned, ", ") << ") from "
     << r.runs.size() << " runs, " << o.total << " syscalls\n";
  if (!r.proposal.floor_added.empty())
    os << "added " << r.proposal.floor_added.size()
       << " unobserved from the C library's floor (--exact leaves them out): "
       << Join(r.proposal.floor_added, " ") << "\n";
  for (const auto& run : r.runs)
    if (!run.pass)
      os << "  run " << run.run << " of " << run.workload << " FAILED: "
         << (run.timed_out ? "timed out"
                           : (run.exec_failure.empty() ? "exit " + std::to_string(run.exit_status)
                                                       : run.exec_failure))
         << "\n";
  if (!o.denied.empty()) {
    os << o.denied.size() << " distinct calls the parent denies (reported, not added):\n";
    for (const auto& d : o.denied) os << "  " << DeniedAttemptToString(d) << "\n";
  }
  if (failed) os << failed << " of " << r.runs.size() << " runs failed\n";
  if (!r.counting_unavailable.empty())
    os << "note: every syscall went through the supervisor (slower), because frequent ones "
          "could not be counted in the kernel: "
       << r.counting_unavailable << "\n";
  return os.str();
}

std::string MinimizeSummary(const MinimizeResult& r, size_t before) {
  std::ostringstream os;
  os << "minimised " << before << " -> " << r.kept.size() << " allowed syscalls: removed "
     << r.removed_enosys.size() + r.removed_eperm.size() << " (" << r.removed_eperm.size()
     << " EPERM, " << r.removed_enosys.size() << " ENOSYS"
     << (r.removed_enosys.empty() ? "" : ": " + Join(r.removed_enosys, ", ")) << ")\n"
     << "oracle runs " << r.oracle_runs << " (cache hits " << r.cache_hits << ", flaky "
     << r.flaky_candidates << "), " << static_cast<int>(r.seconds * 10) / 10.0 << " s, "
     << (r.one_minimal ? "proven 1-minimal" : "NOT proven 1-minimal (flaky oracle?)") << "\n";
  if (!r.removed_by_proof.empty())
    os << "the proof under the written profile also removed: " << Join(r.removed_by_proof, ", ")
       << "\n";
  os << "kept: " << Join(r.kept, " ") << "\n";
  return os.str();
}

}  // namespace silk::tighten
