#include "tighten/suite.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/json_object.hpp"

namespace silk::tighten {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Error Bad(const std::string& file, const std::string& field, const std::string& what) {
  return Error(ErrorCode::kInvalidInput, file + ": " + field + ": " + what);
}

}  // namespace

Result<Workload> ParseWorkload(const std::string& json_text, const std::string& dir) {
  const std::string file = dir + "/workload.json";
  json j = SILK_TRY(ParseStrictJson(json_text, file, {.what = "a workload", .needed_depth = 2}));
  Workload w;
  w.dir = dir;
  w.name = fs::path(dir).filename().string();
  if (w.name.empty()) w.name = fs::path(dir).parent_path().filename().string();
  JsonProblems problems;
  JsonObjectReader r(j, "", "workload", problems);
  r.String("description", w.description);
  r.Strings("command", w.command);
  r.Uint("expect_exit", w.expect_exit, 255);
  if (r.Number("timeout", w.timeout_seconds) &&
      !(w.timeout_seconds > 0 && w.timeout_seconds <= 3600))
    r.Problem("timeout",
              "expected seconds in (0, 3600], found " + DescribeJson(*r.Find("timeout")));
  r.Strings("files", w.files);
  if (r.Strings("env", w.env)) {
    for (size_t i = 0; i < w.env.size(); ++i)
      if (w.env[i].find('=') == std::string::npos || w.env[i][0] == '=')
        problems.Report(JsonPointerChild(r.Child("env"), i),
                        "expected NAME=VALUE, found " + QuoteWord(w.env[i]));
  }
  r.Finish();
  SILK_TRY(problems.Check(file));
  if (w.command.empty() || w.command[0].empty())
    return Fail(Bad(file, "command", "missing or empty; give the argv, e.g. [\"true\"]"));
  for (size_t i = 0; i < w.files.size(); ++i) {
    const auto& f = w.files[i];
    if (f.empty() || f[0] == '/' || f.find("..") != std::string::npos)
      return Fail(Bad(file, "files[" + std::to_string(i) + "]",
                      QuoteWord(f) + " must be a relative path inside the workload directory"));
    struct stat st {};
    if (stat((dir + "/" + f).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return Fail(Bad(file, "files[" + std::to_string(i) + "]",
                      QuoteWord(f) + " does not exist in " + dir));
  }
  for (size_t i = 0; i < w.command.size(); ++i) {
    const auto& a = w.command[i];
    if (a.size() > 1 && a[0] == '@' &&
        std::find(w.files.begin(), w.files.end(), a.substr(1)) == w.files.end())
      return Fail(Bad(file, "command[" + std::to_string(i) + "]",
                      QuoteWord(a) + " names a file not listed in \"files\""));
  }
  return w;
}

Result<Suite> LoadSuite(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Fail(ErrorCode::kNotFound, "suite '" + dir + "' is not a directory");
  Suite suite;
  suite.dir = dir;
  auto load_one = [&](const std::string& wdir) -> Result<void> {
    auto text = SILK_TRY(ReadRegularFile(wdir + "/workload.json"));
    suite.workloads.push_back(SILK_TRY(ParseWorkload(text, wdir)));
    return {};
  };
  if (fs::exists(dir + "/workload.json", ec)) {
    SILK_TRY(load_one(fs::path(dir).lexically_normal().string()));
    return suite;
  }
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory() && fs::exists(entry.path() / "workload.json"))
      dirs.push_back(entry.path().string());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) SILK_TRY(load_one(d));
  if (suite.workloads.empty())
    return Fail(ErrorCode::kInvalidInput,
                "empty suite: no subdirectory of '" + dir +
                    "' holds a workload.json (see tests/workloads/ for examples)");
  return suite;
}

Workload ShellWorkload(const std::string& name, const std::string& command_line,
                       double timeout_seconds) {
  Workload w;
  w.name = name;
  w.command = {"/bin/sh", "-c", command_line};
  w.timeout_seconds = timeout_seconds;
  return w;
}

Result<std::vector<std::string>> ExpandCommand(const Workload& w, int run) {
  std::vector<std::string> argv;
  const std::string run_str = std::to_string(run);
  for (const auto& a : w.command) {
    if (a.size() > 1 && a[0] == '@' &&
        std::find(w.files.begin(), w.files.end(), a.substr(1)) != w.files.end()) {
      argv.push_back(SILK_TRY(ReadFile(w.dir + "/" + a.substr(1))));
      continue;
    }
    std::string s = a;
    for (size_t pos; (pos = s.find("{run}")) != std::string::npos;) s.replace(pos, 5, run_str);
    argv.push_back(s);
  }
  return argv;
}

std::vector<std::string> RunEnvironment(const Workload& w, int run) {
  std::vector<std::string> env = w.env;
  auto has = [&](const std::string& name) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
  };
  if (!has("PATH")) env.push_back("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  if (!has("HOME")) env.push_back("HOME=/tmp");
  if (!has("LANG")) env.push_back("LANG=C.UTF-8");
  env.push_back("SILK_RUN=" + std::to_string(run));
  return env;
}

}  // namespace silk::tighten
