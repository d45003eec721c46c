#include "tighten/regress.hpp"

#include <algorithm>

#include "base/parallel.hpp"

#include "policy/algebra.hpp"
#include "policy/effective.hpp"
#include "policy/lineage.hpp"
#include "policy/resolve.hpp"
#include "policy/syscalls.hpp"

namespace silk::tighten {

Result<size_t> AllowSetSize(const policy::Profile& profile) {
  policy::Profile resolved = profile;
  if (policy::NeedsResolve(profile))
    resolved = SILK_TRY(policy::Resolve(profile, policy::BoxResolveOptions()));
  auto e = SILK_TRY(policy::MakeEffective(resolved, policy::ArchName(policy::NativeArch())));
  return SILK_TRY(policy::CountAllowed(e)).total;
}

Result<RegressMatrix> RunRegress(WorkloadExecutor& executor, const RegressRequest& request) {
  auto lineage = SILK_TRY(policy::LoadLineage(request.profiles_dir));
  // A broken lineage is refused before any workload runs: its matrix would mean nothing.
  SILK_TRY(WithContext(policy::RequireLineageHolds(lineage, policy::BoxResolveOptions()),
                       request.profiles_dir));
  if (request.suite.workloads.empty())
    return Fail(ErrorCode::kInvalidInput,
                "empty suite " + request.suite.dir + ": no workload to run");
  std::vector<std::string> order = lineage.roots;
  for (const auto& [child, parent] : lineage.Edges())
    if (std::find(order.begin(), order.end(), child) == order.end()) order.push_back(child);

  RegressMatrix m;
  m.suite = request.suite.dir;
  for (const auto& w : request.suite.workloads) m.workloads.push_back(w.name);

  for (const auto& name : order) {
    const auto& node = lineage.nodes.at(name);
    RegressProfile p;
    p.name = name;
    p.file = node.file;
    p.extends = node.parent;
    p.allow_set_size = SILK_TRY(WithContext(AllowSetSize(node.profile), "profile " + node.file));

    std::vector<RegressCell> row(m.workloads.size());
    SILK_TRY(ParallelFor(static_cast<int>(std::max(1u, request.jobs)), row.size(),
                         [&](size_t i) -> Result<void> {
                           auto r = executor.Execute(request.suite.workloads[i], request.run,
                                                     node.profile, {.report_denials = true});
                           RegressCell& c = row[i];
                           if (!r) {  // the run could not be set up: a failing cell that says why
                             c.pass = false;
                             c.detail = r.error().ToString();
                             return {};
                           }
                           c.pass = r->pass;
                           c.exit_status = r->exit_status;
                           c.timed_out = r->timed_out;
                           c.first_denial = r->first_denial;
                           c.detail = r->exec_failure;
                           c.ms = r->ms;
                           return {};
                         }));
    m.profiles.push_back(std::move(p));
    m.cells.push_back(std::move(row));
  }
  return m;
}

bool RegressVerdict::failed() const {
  if (baseline) return !regressions.empty();
  return matrix.Failures() != 0;
}

Result<RegressVerdict> RegressAgainstBaseline(WorkloadExecutor& executor,
                                              const RegressRequest& request,
                                              std::optional<Baseline> baseline,
                                              bool update_baseline) {
  RegressVerdict v;
  v.matrix = SILK_TRY(RunRegress(executor, request));
  if (update_baseline) {
    // The new baseline accepts every failure of this matrix.
    v.baseline = SILK_TRY(ParseBaseline(MatrixToJson(v.matrix), "the new baseline"));
    return v;
  }
  v.baseline = std::move(baseline);
  if (v.baseline) v.regressions = CompareToBaseline(*v.baseline, v.matrix);
  return v;
}

}  // namespace silk::tighten
