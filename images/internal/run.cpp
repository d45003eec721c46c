#include "images/internal/run.hpp"

#include "base/strings.hpp"
#include "base/subprocess.hpp"

namespace silk::images::internal {
namespace {

std::string Tail(const std::string& s, size_t max_lines) {
  auto lines = Split(Trim(s), '\n');
  if (lines.size() > max_lines)
    lines.erase(lines.begin(), lines.end() - static_cast<long>(max_lines));
  return Join(lines, "\n");
}

}  // namespace

Result<RunOutput> Run(const std::vector<std::string>& argv, const std::string& package,
                      const std::string& cwd) {
  if (argv.empty()) return Fail(ErrorCode::kInternal, "Run: empty argv");
  std::string cmd = Join(argv, " ");
  SpawnOptions o;
  o.argv = argv;
  o.cwd = cwd;
  o.unset_env = {"LANG"};
  o.set_env = {{"LC_ALL", "C"}};
  auto captured = RunAndCapture(o);
  if (!captured) {
    if (captured.error().code() == ErrorCode::kNotFound)
      return Fail(
          Error(ErrorCode::kNotFound,
                argv[0] + " is not installed (Debian package " + package + "; run ci/setup)",
                captured.error().sys_errno()));
    return Fail(std::move(captured.error()).Wrap("running " + cmd));
  }
  const ExitStatus& status = captured->status;
  if (!status.success()) {
    std::string tail = Tail(captured->err.empty() ? captured->out : captured->err, 5);
    return Fail(ErrorCode::kSystem, cmd + (status.exited() ? " failed with " : " was ") +
                                        status.Describe() + (tail.empty() ? "" : ":\n" + tail));
  }
  return RunOutput{std::move(captured->out), std::move(captured->err)};
}

}  // namespace silk::images::internal
