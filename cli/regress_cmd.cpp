// silk regress: every workload of a suite under every profile of a lineage, each in a
// box; the matrix, the first denied syscall of each failure, the first generation where
// each workload breaks; a terminal table, JUnit XML, a self-contained HTML report and
// JSON (also the baseline format). Exit 1 on a regression against --baseline (or on
// any failure without one).
#include <iostream>

#include "base/file.hpp"
#include "cli/commands.hpp"
#include "layers/box_runner.hpp"
#include "layers/regress_runner.hpp"
#include "policy/regress_report.hpp"
#include "policy/suite.hpp"

namespace silk::cli {

int RegressMain(const Args& args) {
  std::string profiles, suite, baseline, junit, html, json_out, log = "/dev/null";
  unsigned jobs = 1;
  int run = 0;
  bool update = false, json = false;
  po::options_description o("Options");
  o.add_options()("profiles", po::value(&profiles)->required(), "a lineage directory")(
      "suite", po::value(&suite)->required(), "the workload suite")(
      "baseline", po::value(&baseline), "compare with this recorded matrix (JSON)")(
      "update-baseline", po::bool_switch(&update), "write the matrix to --baseline and accept it")(
      "junit", po::value(&junit), "write JUnit XML here")(
      "html", po::value(&html), "write the self-contained HTML report here")(
      "json-out", po::value(&json_out), "write the matrix as JSON here")(
      "json", po::bool_switch(&json), "print the matrix as JSON instead of the table")(
      "jobs", po::value(&jobs),
      "boxes in parallel (default 1; see the compat note in layers/box_runner.hpp)")(
      "run", po::value(&run), "SILK_RUN for every workload (default 0)")(
      "log", po::value(&log), "append the workloads' output here (default /dev/null)");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk regress --profiles DIR --suite SUITE [--baseline FILE] [options]",
                          "Runs every workload of SUITE under every profile of the lineage in "
                          "DIR, each in a box, and reports the matrix.",
                          o, {}, args, vm))
    return *rc;
  if (update && baseline.empty())
    return UsageError("silk regress", "--update-baseline needs --baseline FILE");
  if (jobs < 1) return UsageError("silk regress", "--jobs must be at least 1");
  auto s = policy::LoadSuite(suite);
  if (!s) return ReportError(s.error());
  policy::Baseline base;
  if (!baseline.empty() && !update) {
    auto text = ReadFile(baseline);
    if (!text) return ReportError(text.error());
    auto b = policy::ParseBaseline(*text, baseline);
    if (!b) return ReportError(b.error());
    base = *b;
  }
  layers::RegressRequest req;
  req.profiles_dir = profiles;
  req.suite = *s;
  req.jobs = jobs;
  req.run = run;
  Result<policy::RegressMatrix> m = [&]() -> Result<policy::RegressMatrix> {
    auto log_fd = SILK_TRY(layers::OpenWorkloadLog(log));
    req.output_fd = log_fd.get();
    return layers::RunRegress(req);
  }();
  if (!m) return ReportError(m.error());

  const std::string as_json = policy::MatrixToJson(*m);
  for (const auto& [path, text] :
       {std::pair{junit, policy::RenderJunitXml(*m)}, std::pair{html, policy::RenderHtml(*m)},
        std::pair{json_out, as_json}}) {
    if (path.empty()) continue;
    if (auto w = WriteFileAtomic(path, text); !w) return ReportError(w.error());
  }
  std::cout << (json ? as_json : policy::RenderTerminal(*m));
  if (update) {
    if (auto w = WriteFileAtomic(baseline, as_json); !w) return ReportError(w.error());
    std::cerr << "baseline " << baseline << " updated\n";
    return kExitOk;
  }
  if (!baseline.empty()) {
    auto regressions = policy::CompareToBaseline(base, *m);
    if (regressions.empty()) {
      std::cerr << "no regression against " << baseline << "\n";
      return kExitOk;
    }
    std::cerr << regressions.size() << " regression(s) against " << baseline << ":\n";
    for (const auto& r : regressions)
      std::cerr << "  " << r.workload << " under " << r.generation << ": " << r.why << "\n";
    return kExitFailure;
  }
  return m->Failures() ? kExitFailure : kExitOk;
}

}  // namespace silk::cli
