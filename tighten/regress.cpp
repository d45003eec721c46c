#include "tighten/regress.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include "policy/algebra.hpp"
#include "policy/effective.hpp"
#include "policy/lineage.hpp"
#include "policy/resolve.hpp"
#include "policy/syscalls.hpp"
#include "tighten/local_box_executor.hpp"

namespace silk::tighten {

Result<size_t> AllowSetSize(const policy::Profile& profile) {
  policy::Profile resolved = profile;
  if (policy::NeedsResolve(profile))
    resolved = SILK_TRY(policy::Resolve(profile, policy::BoxResolveOptions()));
  auto e = SILK_TRY(policy::MakeEffective(resolved, policy::ArchName(policy::NativeArch())));
  return SILK_TRY(policy::CountAllowed(e)).total;
}

Result<tighten::RegressMatrix> RunRegress(const RegressRequest& request) {
  auto lineage = SILK_TRY(policy::LoadLineage(request.profiles_dir));
  // A broken lineage is refused before any box runs: its matrix would mean nothing.
  SILK_TRY(WithContext(policy::RequireLineageHolds(lineage, policy::BoxResolveOptions()),
                       request.profiles_dir));
  if (request.suite.workloads.empty())
    return Fail(ErrorCode::kInvalidInput,
                "empty suite " + request.suite.dir + ": no workload to run");
  std::vector<std::string> order = lineage.roots;
  for (const auto& [child, parent] : lineage.Edges())
    if (std::find(order.begin(), order.end(), child) == order.end()) order.push_back(child);

  tighten::RegressMatrix m;
  m.suite = request.suite.dir;
  for (const auto& w : request.suite.workloads) m.workloads.push_back(w.name);

  for (const auto& name : order) {
    const auto& node = lineage.nodes.at(name);
    tighten::RegressGeneration g;
    g.name = name;
    g.file = node.file;
    g.extends = node.parent;
    g.allow_set_size = SILK_TRY(WithContext(AllowSetSize(node.profile), "profile " + node.file));
    // A built-in parent is run by name; files by path.
    const std::string profile_ref =
        node.file.rfind("<builtin:", 0) == 0 ? "builtin:" + name : node.file;

    std::vector<tighten::RegressCell> row(m.workloads.size());
    const size_t jobs = std::max(1u, request.jobs);
    for (size_t start = 0; start < row.size(); start += jobs) {
      const size_t end = std::min(row.size(), start + jobs);
      std::vector<std::optional<Result<BoxRun>>> runs(end - start);
      std::vector<std::thread> workers;
      for (size_t i = start; i < end; ++i)
        workers.emplace_back([&, i] {
          runs[i - start] =
              RunWorkloadInBox(request.suite.workloads[i], request.run, profile_ref,
                               {.report_denials = true, .output_fd = request.output_fd});
        });
      for (auto& t : workers) t.join();
      for (size_t i = start; i < end; ++i) {
        auto& r = *runs[i - start];
        tighten::RegressCell& c = row[i];
        if (!r) {  // the box could not be set up: a failing cell that says why
          c.pass = false;
          c.detail = r.error().ToString();
          continue;
        }
        c.pass = r->pass;
        c.exit_status = r->exit_status;
        c.timed_out = r->timed_out;
        c.first_denial = r->first_denial;
        c.detail = r->exec_failure;
        c.ms = r->ms;
      }
    }
    m.generations.push_back(std::move(g));
    m.cells.push_back(std::move(row));
  }
  return m;
}

}  // namespace silk::tighten
