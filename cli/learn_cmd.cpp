// silk policy learn | minimize | tighten: progressively tightening API profiles.
//   learn     run a command (or a suite) under PARENT and propose the profile it needs
//   minimize  ddmin a profile against an oracle run in boxes (1-minimal result)
//   tighten   PARENT ∩ learned-for-SUITE, optionally minimised against the suite
// Parses, calls tighten/ (learn, minimise, the tighten workflow) on a local box
// executor, prints.

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "cli/commands.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "tighten/learn.hpp"
#include "tighten/local_box_executor.hpp"
#include "tighten/minimize.hpp"
#include "tighten/tighten.hpp"

namespace silk::cli {
namespace {

namespace pol = silk::policy;
using nlohmann::ordered_json;

Result<std::vector<std::string>> Caps(const std::string& list) {
  if (list.empty() || list == "none") return std::vector<std::string>{};
  return WithContext(pol::ParseCapList(list), "--caps");
}

std::string StemOr(const std::string& path, const std::string& fallback) {
  if (path.empty() || path == "-") return fallback;
  return std::filesystem::path(path).stem().string();
}

// Writes the profile to `out` (a notice on `report`), or to stdout when `out` is "" or
// "-" and `json` is false (with --json, the profile goes into the JSON instead).
Result<void> WriteOut(const std::string& out, const pol::Profile& p, std::ostream& report,
                      bool json = false) {
  const std::string text = pol::WriteProfile(p);
  if (out.empty() || out == "-") {
    if (!json) std::cout << text;
    return {};
  }
  SILK_TRY(WriteFileAtomic(out, text));
  report << "wrote " << out << " (profile " << p.meta.name << ", extends " << p.meta.extends
         << ")\n";
  return {};
}

ordered_json LearnJson(const tighten::LearnResult& r) {
  ordered_json j;
  j["syscalls"] = r.observations.DistinctAllowed();
  j["conditioned"] = r.proposal.conditioned;
  j["floor_added"] = r.proposal.floor_added;
  j["total_calls"] = r.observations.total;
  j["counting_unavailable"] = r.counting_unavailable;
  // Calls per syscall and architecture, over every run.
  j["calls"] = ordered_json::object();
  for (const auto& [arch, calls] : r.observations.by_arch)
    for (const auto& [nr, s] : calls) j["calls"][arch][s.name] = s.count;
  j["runs"] = ordered_json::array();
  for (const auto& run : r.runs)
    j["runs"].push_back({{"workload", run.workload},
                         {"run", run.run},
                         {"pass", run.pass},
                         {"exit_status", run.exit_status},
                         {"timed_out", run.timed_out},
                         {"ms", run.elapsed_ms},
                         {"syscalls", run.syscalls},
                         {"counted_in_kernel", run.counted_syscalls}});
  j["denied"] = ordered_json::array();
  for (const auto& d : r.observations.denied)
    j["denied"].push_back({{"syscall", d.name},
                           {"nr", d.nr},
                           {"args", d.args},
                           {"pid", d.pid},
                           {"count", d.count},
                           {"verdict", pol::VerdictToString(d.verdict)}});
  return j;
}

// With --json and no --out file, the profile travels inside the JSON.
void AddProfileJson(ordered_json& j, const std::string& out, const pol::Profile& p) {
  if (out.empty() || out == "-")
    j["profile"] = ordered_json::parse(pol::WriteProfile(p));
  else
    j["out"] = out;
}

ordered_json MinimizeJson(const tighten::MinimizeResult& r, size_t before) {
  return ordered_json{{"allowed_before", before},
                      {"kept", r.kept},
                      {"removed_eperm", r.removed_eperm},
                      {"removed_enosys", r.removed_enosys},
                      {"oracle_runs", r.oracle_runs},
                      {"cache_hits", r.cache_hits},
                      {"flaky_candidates", r.flaky_candidates},
                      {"seconds", r.seconds},
                      {"one_minimal", r.one_minimal},
                      {"removed_by_proof", r.removed_by_proof}};
}

// The oracle workloads: --suite DIR, or --oracle 'CMD' (run with /bin/sh -c).
Result<std::vector<tighten::Workload>> OracleWorkloads(const std::string& suite,
                                                       const std::string& oracle, double timeout) {
  if (!suite.empty() && !oracle.empty())
    return Fail(ErrorCode::kInvalidInput, "give --oracle or --suite, not both");
  if (!suite.empty()) return SILK_TRY(tighten::LoadSuite(suite)).workloads;
  if (oracle.empty())
    return Fail(ErrorCode::kInvalidInput, "no oracle: give --oracle 'CMD' or --suite DIR");
  return std::vector<tighten::Workload>{tighten::ShellWorkload("oracle", oracle, timeout)};
}

// The parent profile for a box with `caps` (see tighten::LoadParentProfile).
Result<pol::Profile> LoadParent(const std::string& ref, const std::string& caps) {
  return tighten::LoadParentProfile(ref, SILK_TRY(Caps(caps)));
}

}  // namespace

int RunPolicyLearn(const Args& all) {
  auto [args, cmd] = SplitAtDoubleDash(all);
  std::string from = "gen0-sliver", merge, out, name, suite, caps;
  int runs = 1;
  double timeout = 60;
  bool no_args = false, exact = false, notify_all = false;
  Output out_("silk policy learn");
  po::options_description o("Options");
  o.add_options()("from", po::value(&from),
                  "parent profile (file or built-in name; default "
                  "gen0-sliver)")("merge", po::value(&merge),
                                  "a profile learned before (from the same parent) to unite with")(
      "out", po::value(&out), "write the learned profile here (default: stdout)")(
      "name", po::value(&name), "profile name (default: from --out)")(
      "suite", po::value(&suite), "learn from every workload of this suite instead of CMD")(
      "runs", po::value(&runs), "runs per workload, each with SILK_RUN=n (default 1)")(
      "timeout", po::value(&timeout), "seconds before CMD is killed (default 60)")(
      "caps", po::value(&caps), "capabilities the box will have (default none)")(
      "no-arg-conditions", po::bool_switch(&no_args), "learn plain allow rules only")(
      "exact", po::bool_switch(&exact),
      "exactly the observed syscalls: leave out the C library's floor (malloc, locks, "
      "signal return, exit) that a few runs may not show")(
      "notify-all", po::bool_switch(&notify_all),
      "send every syscall to the supervisor, also the frequent ones that are otherwise "
      "counted in the kernel (slower; for comparison)");
  out_.AddJsonFlag(o,
                   "print the summary as JSON on stdout (with the profile in it when there "
                   "is no --out; an error as an error object)");
  out_.AddQuietFlag(o);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk policy learn [options] [--suite DIR | -- CMD ARGS...]",
                          "Runs CMD (or a suite) under PARENT, records every syscall of all its "
                          "threads and children, and writes a profile that allows exactly "
                          "that, ⊆ PARENT. Calls PARENT denies are reported, not added.\n"
                          "A learning run that fails (a run exits non-zero, times out or "
                          "cannot start) writes nothing and exits 1.",
                          o, {}, args, vm, out_))
    return *rc;
  if (cmd.empty() == suite.empty())
    return out_.Usage("give either -- CMD ARGS... or --suite DIR", "--suite");
  if (runs < 1) return out_.Usage("--runs must be at least 1", "--runs");

  auto parent = LoadParent(from, caps);
  if (!parent) return out_.Fail(parent.error(), kExitFailure, "--from");

  tighten::LearnRequest req;
  req.parent = *parent;
  req.runs_per_workload = runs;
  req.capabilities = *Caps(caps);  // LoadParent checked them
  req.propose.arg_conditions = !no_args;
  req.propose.libc_floor = !exact;
  req.count_in_kernel = !notify_all;
  req.propose.name = name.empty() ? StemOr(out, "learned") : name;
  if (!suite.empty()) {
    auto s = tighten::LoadSuite(suite);
    if (!s) return out_.Fail(s.error(), kExitFailure, "--suite");
    req.workloads = s->workloads;
    req.propose.notes = "learned from suite " + suite + " (" + std::to_string(s->workloads.size()) +
                        " workloads, " + std::to_string(runs) + " runs each) under " + from;
  } else {
    tighten::Workload w;
    w.name = "cmd";
    w.command = cmd;
    w.timeout_seconds = timeout;
    req.workloads = {w};
    req.propose.notes = "learned from: " + Join(cmd, " ") + " under " + from;
  }
  tighten::LocalBoxExecutor executor;  // the workload's output is silk's
  auto r = tighten::Learn(executor, req);
  if (!r) return out_.Fail(r.error());
  if (!r->all_passed()) {
    // What a failing run used is not what the workload needs: write nothing.
    size_t failed = 0;
    for (const auto& run : r->runs) failed += !run.pass;
    Error e(ErrorCode::kInvalidInput,
            std::to_string(failed) + " of " + std::to_string(r->runs.size()) +
                " learning runs failed, so nothing was written" +
                (out.empty() || out == "-" ? "" : " to " + out) +
                "; make the workload pass under " + from + " first:\n" + tighten::LearnSummary(*r));
    if (out_.json()) {
      ordered_json j = ErrorJson("invalid_input", e.ToString(), suite.empty() ? "CMD" : "--suite");
      j["learn"] = LearnJson(*r);
      out_.Json(j);
      std::cerr << "silk: error: " << e.ToString();
      return kExitFailure;
    }
    return out_.Fail(e);
  }
  if (!merge.empty()) {
    auto earlier = LoadParent(merge, caps);
    if (!earlier) return out_.Fail(earlier.error(), kExitFailure, "--merge");
    auto merged = tighten::MergeWithEarlier(r->proposal.profile, *earlier, *parent);
    if (!merged) return out_.Fail(merged.error(), kExitFailure, "--merge");
    r->proposal.profile = *merged;
  }
  if (auto w = WriteOut(out, r->proposal.profile, out_.Notice(), out_.json()); !w)
    return out_.Fail(w.error(), kExitFailure, "--out");
  if (out_.json()) {
    ordered_json j = LearnJson(*r);
    AddProfileJson(j, out, r->proposal.profile);
    out_.Json(j);
  } else {
    std::cerr << tighten::LearnSummary(*r);
  }
  return kExitOk;
}

int RunPolicyMinimize(const Args& args) {
  std::string profile, oracle, suite, out, name, log = "/dev/null", caps;
  unsigned jobs = 2, confirm = 1;
  size_t max_runs = 0;
  double timeout = 60;
  Output out_("silk policy minimize");
  po::options_description o("Options");
  o.add_options()("profile", po::value(&profile)->required(), "the profile to minimise")(
      "oracle", po::value(&oracle),
      "shell command run in a box under each candidate; exit 0 = "
      "pass")("suite", po::value(&suite), "use every workload of a suite as the oracle")(
      "jobs", po::value(&jobs), "oracle runs in parallel (default 2)")(
      "confirm", po::value(&confirm),
      "re-runs that must agree before a pass is believed "
      "(default 1)")("max-runs", po::value(&max_runs),
                     "give up after this many oracle runs (default: no limit)")(
      "timeout", po::value(&timeout), "seconds per oracle run (default 60)")(
      "out", po::value(&out), "write the minimised profile here (default: stdout)")(
      "name", po::value(&name), "profile name (default: from --out)")(
      "caps", po::value(&caps), "capabilities to resolve --profile for (default none)")(
      "log", po::value(&log), "append the oracle's output here (default /dev/null)");
  out_.AddJsonFlag(o,
                   "print the report as JSON on stdout (with the profile in it when there is "
                   "no --out; an error as an error object)");
  out_.AddQuietFlag(o);
  po::variables_map vm;
  if (auto rc =
          ParseArgs("silk policy minimize --profile P (--oracle 'CMD' | --suite DIR) [options]",
                    "Finds a 1-minimal allow set of P for which the oracle still passes "
                    "(ddmin; removed syscalls get ENOSYS where a fallback needs it, EPERM "
                    "otherwise), and proves it 1-minimal.",
                    o, {}, args, vm, out_))
    return *rc;
  if (jobs < 1) return out_.Usage("--jobs must be at least 1", "--jobs");
  auto workloads = OracleWorkloads(suite, oracle, timeout);
  if (!workloads)
    return out_.Fail(
        workloads.error(),
        workloads.error().code() == ErrorCode::kInvalidInput ? kExitUsage : kExitFailure,
        suite.empty() ? "--oracle" : "--suite");
  auto p = LoadParent(profile, caps);
  if (!p) return out_.Fail(p.error(), kExitFailure, "--profile");

  tighten::MinimizeRequest req;
  req.profile = *p;
  req.oracle = *workloads;
  req.options.ddmin.jobs = jobs;
  req.options.ddmin.confirm_runs = confirm;
  req.options.ddmin.max_oracle_runs = max_runs;
  req.options.name = name.empty() ? StemOr(out, "minimised") : name;
  req.options.notes = "minimised from " + profile + " against " +
                      (suite.empty() ? "oracle '" + oracle + "'" : "suite " + suite);
  const size_t before = tighten::AllowedNames(*p).size();
  Result<tighten::MinimizeResult> r = [&]() -> Result<tighten::MinimizeResult> {
    auto log_fd = SILK_TRY(tighten::OpenWorkloadLog(log));
    tighten::LocalBoxExecutor executor(log_fd.get());
    return tighten::MinimizeAgainstWorkloads(executor, req);
  }();
  if (!r) return out_.Fail(r.error());
  if (auto w = WriteOut(out, r->profile, out_.Notice(), out_.json()); !w)
    return out_.Fail(w.error(), kExitFailure, "--out");
  if (out_.json()) {
    ordered_json j = MinimizeJson(*r, before);
    AddProfileJson(j, out, r->profile);
    out_.Json(j);
  } else {
    std::cerr << tighten::MinimizeSummary(*r, before);
  }
  return kExitOk;
}

int RunPolicyTighten(const Args& args) {
  std::string parent_name, suite, out, name, log = "/dev/null", caps;
  unsigned jobs = 2, confirm = 1;
  int runs = 1;
  bool minimize = false;
  Output out_("silk policy tighten");
  po::options_description o("Options");
  o.add_options()("parent", po::value(&parent_name)->required(), "the parent profile")(
      "suite", po::value(&suite)->required(), "the workloads the child must serve")(
      "out", po::value(&out)->required(), "write the child profile here")(
      "minimize", po::bool_switch(&minimize), "also minimise against the whole suite")(
      "runs", po::value(&runs), "learning runs per workload (default 1)")(
      "jobs", po::value(&jobs), "parallel oracle runs when minimising (default 2)")(
      "confirm", po::value(&confirm), "re-runs confirming a passing verdict (default 1)")(
      "name", po::value(&name), "profile name (default: from --out)")(
      "caps", po::value(&caps), "capabilities to resolve PARENT for (default none)")(
      "log", po::value(&log), "append the workloads' output here (default /dev/null)");
  out_.AddJsonFlag(o, "print the report as JSON on stdout (an error as an error object)");
  out_.AddQuietFlag(o);
  po::positional_options_description pos;
  pos.add("parent", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk policy tighten PARENT --suite SUITE [--minimize] --out CHILD",
                          "The next profile of a lineage: PARENT ∩ what the suite's workloads "
                          "were learned to use, optionally minimised against the whole suite. "
                          "CHILD ⊆ PARENT always; its notes record how it was made.",
                          o, pos, args, vm, out_))
    return *rc;
  if (runs < 1 || jobs < 1) return out_.Usage("--runs/--jobs must be >= 1", "--runs");
  auto parent = LoadParent(parent_name, caps);
  if (!parent) return out_.Fail(parent.error(), kExitFailure, "PARENT");
  auto s = tighten::LoadSuite(suite);
  if (!s) return out_.Fail(s.error(), kExitFailure, "--suite");

  tighten::TightenRequest req;
  req.parent = *parent;
  req.parent_ref = parent_name;
  req.suite = *s;
  req.runs_per_workload = runs;
  req.minimize = minimize;
  req.jobs = jobs;
  req.confirm_runs = confirm;
  req.child_name = name.empty() ? StemOr(out, "tightened") : name;
  Result<tighten::TightenResult> r = [&]() -> Result<tighten::TightenResult> {
    auto log_fd = SILK_TRY(tighten::OpenWorkloadLog(log));
    tighten::LocalBoxExecutor executor(log_fd.get());
    return tighten::Tighten(executor, req);
  }();
  if (!r) return out_.Fail(r.error());
  const pol::Profile& child = r->child;
  out_.Notice() << "checked: " << child.meta.name << " ⊆ " << parent->meta.name << "\n";
  if (auto w = WriteOut(out, child, out_.Notice(), out_.json()); !w)
    return out_.Fail(w.error(), kExitFailure, "--out");
  if (out_.json()) {
    ordered_json report;
    report["learn"] = LearnJson(r->learned);
    if (r->minimized) report["minimize"] = MinimizeJson(*r->minimized, r->allowed_before);
    AddProfileJson(report, out, child);
    out_.Json(report);
  } else {
    std::cerr << tighten::LearnSummary(r->learned);
    if (r->minimized) std::cerr << tighten::MinimizeSummary(*r->minimized, r->allowed_before);
  }
  return kExitOk;
}

}  // namespace silk::cli
