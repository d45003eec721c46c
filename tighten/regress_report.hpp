// The regression matrix of `silk regress`: every workload of a suite under every
// profile of a lineage, and its renderings for people and CI: a terminal table, JUnit
// XML, one self-contained HTML page (matrix plus an inline SVG chart of the allow-set
// size per profile, no external resources), and JSON, which is also the baseline
// format (`--baseline FILE`, `--update-baseline`). The reports and the JSON call a
// lineage's profiles "generations" (the JSON fields "generations" and "generation"),
// as baselines recorded before have them; in the code a generation is a whole testbed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace silk::tighten {

struct RegressCell {
  bool pass = false;
  int exit_status = 0;
  bool timed_out = false;
  std::string first_denial;  // "socket(0x11, 0x3, ...) -> errno(EPERM)"; empty if none
  std::string detail;        // why it failed otherwise (exec failure, box error)
  double ms = 0;
};

struct RegressProfile {
  std::string name;  // profile meta.name (or file stem)
  std::string file;
  std::string extends;
  size_t allow_set_size = 0;  // syscalls the profile allows on the native arch
};

struct RegressMatrix {
  std::string suite;
  std::vector<RegressProfile> profiles;  // lineage order, root first
  std::vector<std::string> workloads;
  std::vector<std::vector<RegressCell>> cells;  // [profile][workload]

  // The first profile (in lineage order) under which `workload` fails, or nullopt.
  std::optional<size_t> FirstBreak(size_t workload) const;
  size_t Failures() const;
};

// Pass/fail per (profile name, workload), read from a MatrixToJson file.
using Baseline = std::map<std::pair<std::string, std::string>, bool>;

// Where and against what a matrix was made, for the JUnit and HTML reports.
struct ReportContext {
  std::string hostname;
  std::string timestamp;  // ISO 8601, UTC: "2024-05-01T12:00:00Z"
  std::string silk_version;
  std::string baseline_file;         // "" without a baseline
  std::optional<Baseline> baseline;  // failures it records are accepted
};

// True if the cell (profile g, workload w) fails and `baseline` records it failing:
// a known failure, which does not fail the run.
bool AcceptedByBaseline(const RegressMatrix& m, size_t g, size_t w,
                        const std::optional<Baseline>& baseline);

std::string RenderTerminal(const RegressMatrix& m);
// JUnit XML that agrees with silk regress's exit status: a failure the baseline accepts
// is <skipped message="accepted by baseline: ...">, not <failure>; every test suite
// carries timestamp, hostname and time; a failing or skipped case carries the first
// denial (or why it failed) in <system-out>.
std::string RenderJunitXml(const RegressMatrix& m, const ReportContext& context = {});
// The HTML report names the host, silk version, date, each profile's file
// and the baseline, and labels its chart's axes.
std::string RenderHtml(const RegressMatrix& m, const ReportContext& context = {});
std::string MatrixToJson(const RegressMatrix& m);
// Errors (kInvalidInput) name the file and what is wrong.
Result<Baseline> ParseBaseline(const std::string& json_text, const std::string& file);

struct Regression {
  std::string profile;  // RegressProfile::name
  std::string workload;
  std::string why;  // "passed in the baseline, fails now: ..." / "new cell, fails: ..."
};
// Cells that fail now and did not fail in the baseline (passed, or were not there).
std::vector<Regression> CompareToBaseline(const Baseline& baseline, const RegressMatrix& m);

}  // namespace silk::tighten
