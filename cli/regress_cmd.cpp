// silk regress: every workload of a suite under every profile of a lineage, each in a
// box; the matrix, the first denied syscall of each failure, the first profile under
// which each workload breaks; a terminal table, JUnit XML, a self-contained HTML report and
// JSON (also the baseline format). Exit 1 on a regression against --baseline (or on
// any failure without one), on a broken lineage and on empty input.
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "base/file.hpp"
#include "cli/commands.hpp"
#include "tighten/local_box_executor.hpp"
#include "tighten/regress.hpp"
#include "tighten/regress_report.hpp"
#include "tighten/suite.hpp"

namespace silk::cli {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

int RegressMain(const Args& args) {
  std::string profiles, suite, baseline, junit, html, json_out, log = "/dev/null";
  unsigned jobs = 1;
  int run = 0;
  bool update = false;
  Output out("silk regress");
  po::options_description o("Options");
  o.add_options()("profiles", po::value(&profiles)->required(), "a lineage directory")(
      "suite", po::value(&suite)->required(), "the workload suite")(
      "baseline", po::value(&baseline), "compare with this recorded matrix (JSON)")(
      "update-baseline", po::bool_switch(&update), "write the matrix to --baseline and accept it")(
      "junit", po::value(&junit), "write JUnit XML here")(
      "html", po::value(&html), "write the self-contained HTML report here")(
      "json-out", po::value(&json_out), "write the matrix as JSON here");
  out.AddJsonFlag(o,
                  "print the matrix as JSON instead of the table (with \"regressions\" when "
                  "there is a baseline; an error as an error object)");
  o.add_options()("jobs", po::value(&jobs), "boxes in parallel (default 1)")(
      "run", po::value(&run), "SILK_RUN for every workload (default 0)")(
      "log", po::value(&log), "append the workloads' output here (default /dev/null)");
  out.AddQuietFlag(o);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk regress --profiles DIR --suite SUITE [--baseline FILE] [options]",
          "Runs every workload of SUITE under every profile of the lineage in DIR, each in a\n"
          "box, and reports the matrix. The lineage is checked first (every child ⊆ its\n"
          "parent, resolved as a box resolves it: no capabilities); a broken lineage runs\n"
          "nothing. Each generation's size is its allowed-syscall count on this machine's\n"
          "architecture: the syscalls some argument values let run, for any arguments or\n"
          "only under argument conditions (the count silk policy show prints).\n"
          "Exit status: 0 no failure (or, with --baseline, none the baseline does not\n"
          "record); 1 a failure or regression, a broken lineage, an empty lineage or\n"
          "suite, or another error; 2 usage. JUnit agrees: failures the baseline accepts\n"
          "are <skipped>.",
          o, {}, args, vm, out))
    return *rc;
  if (update && baseline.empty())
    return out.Usage("--update-baseline needs --baseline FILE", "--update-baseline");
  if (jobs < 1) return out.Usage("--jobs must be at least 1", "--jobs");
  auto s = tighten::LoadSuite(suite);
  if (!s) return out.Fail(s.error(), kExitFailure, "--suite");
  tighten::ReportContext context;
  context.hostname = HostName();
  context.timestamp = UtcNow();
  context.silk_version = "silk " SILK_VERSION;
  if (!baseline.empty() && !update) {
    auto text = ReadFile(baseline);
    if (!text) return out.Fail(text.error(), kExitFailure, "--baseline");
    auto b = tighten::ParseBaseline(*text, baseline);
    if (!b) return out.Fail(b.error(), kExitFailure, "--baseline");
    context.baseline = *b;
    context.baseline_file = baseline;
  }
  tighten::RegressRequest req;
  req.profiles_dir = profiles;
  req.suite = *s;
  req.jobs = jobs;
  req.run = run;
  Result<tighten::RegressVerdict> v = [&]() -> Result<tighten::RegressVerdict> {
    auto log_fd = SILK_TRY(tighten::OpenWorkloadLog(log));
    tighten::LocalBoxExecutor executor(log_fd.get());
    return tighten::RegressAgainstBaseline(executor, req, context.baseline, update);
  }();
  if (!v) return out.Fail(v.error(), kExitFailure, "--profiles");
  const tighten::RegressMatrix& m = v->matrix;
  context.baseline = v->baseline;
  if (update) context.baseline_file = baseline;

  const std::string as_json = tighten::MatrixToJson(m);
  for (const auto& [path, text, flag] :
       {std::tuple{junit, tighten::RenderJunitXml(m, context), "--junit"},
        std::tuple{html, tighten::RenderHtml(m, context), "--html"},
        std::tuple{json_out, as_json, "--json-out"}}) {
    if (path.empty()) continue;
    if (auto w = WriteFileAtomic(path, text); !w) return out.Fail(w.error(), kExitFailure, flag);
    out.Notice() << "wrote " << path << "\n";
  }
  if (update) {
    if (auto w = WriteFileAtomic(baseline, as_json); !w)
      return out.Fail(w.error(), kExitFailure, "--baseline");
    if (out.json())
      std::cout << as_json;
    else
      std::cout << tighten::RenderTerminal(m);
    out.Notice() << "baseline " << baseline << " updated\n";
    return kExitOk;
  }
  if (out.json()) {
    auto j = nlohmann::ordered_json::parse(as_json);
    if (v->baseline) {
      j["baseline"] = baseline;
      j["regressions"] = nlohmann::ordered_json::array();
      for (const auto& r : v->regressions)
        j["regressions"].push_back(
            {{"generation", r.profile}, {"workload", r.workload}, {"why", r.why}});
    }
    out.Json(j);
  } else {
    std::cout << tighten::RenderTerminal(m);
  }
  if (!v->failed()) {
    if (v->baseline) out.Notice() << "no regression against " << baseline << "\n";
    return kExitOk;
  }
  if (!v->baseline) return kExitFailure;
  std::cerr << v->regressions.size() << " regression(s) against " << baseline << ":\n";
  for (const auto& r : v->regressions)
    std::cerr << "  " << r.workload << " under " << r.profile << ": " << r.why << "\n";
  return kExitFailure;
}

}  // namespace silk::cli
