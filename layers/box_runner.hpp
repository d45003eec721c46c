// Running one workload of a suite in a compatibility box (compat::RunBox) under a given
// profile, for `silk policy minimize/tighten` (the oracle) and `silk regress` (the
// matrix). Adds what compat's API does not have yet: a timeout (a watchdog kills every
// process of the box's cgroups, which takes the box's pid namespace down) and output
// redirection (boxes inherit the supervisor's stdio, see QuietStdio).
// Known issue: with several boxes starting from different threads at once, a box child
// has been seen blocked on a futex before execve (a lock inherited across compat's
// clone); its watchdog then reports a timeout. One job at a time avoids it.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box.hpp"
#include "policy/profile.hpp"
#include "policy/suite.hpp"

namespace silk::layers {

// The syscalls compat::RunBox's child makes after installing the profile's filter and
// before the workload's execve (passing the seccomp listener to the supervisor, closing
// it, resetting the signal mask, execve itself). A profile learned from the workload
// alone lacks them, so learning adds them (when the parent allows them).
inline const std::vector<std::string> kBoxRuntimeSyscalls = {"sendmsg", "close", "rt_sigprocmask",
                                                             "execve"};

struct BoxRun {
  bool pass = false;  // exit status as expected, no timeout, command started
  int exit_status = 0;
  bool timed_out = false;
  std::string exec_failure;
  std::string first_denial;  // "name(args) pid P -> verdict"; empty if none
  size_t denials = 0;        // distinct denied calls
  double ms = 0;
};

// Runs run number `run` of `w` in a box under the profile file `profile_path`.
// report_denials: record denials (seccomp user notification; slower) for first_denial.
// Errors: box setup failures from compat::RunBox (kSystem, kNotFound, ...).
Result<BoxRun> RunWorkloadInBox(const policy::Workload& w, int run, const std::string& profile_path,
                                bool report_denials);

// Writes `profile` to a fresh temporary file that is deleted with the object.
class TempProfileFile {
 public:
  static Result<TempProfileFile> Create(const policy::Profile& profile);
  TempProfileFile(TempProfileFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempProfileFile& operator=(TempProfileFile&&) = delete;
  ~TempProfileFile();
  const std::string& path() const { return path_; }

 private:
  explicit TempProfileFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Points this process's stdin at /dev/null and stdout/stderr at `log_path` (appended;
// "/dev/null" to drop) while it lives, so boxes, which inherit them, do not mix their
// output into silk's report; restores them after. report_fd() is the original stdout.
// Process-wide: create one, in the CLI, around all box runs.
class QuietStdio {
 public:
  static Result<QuietStdio> Create(const std::string& log_path);
  QuietStdio(QuietStdio&& o) noexcept;
  QuietStdio& operator=(QuietStdio&&) = delete;
  ~QuietStdio();
  int report_fd() const { return saved_[1]; }
  int error_fd() const { return saved_[2]; }

 private:
  QuietStdio() = default;
  int saved_[3] = {-1, -1, -1};
};

}  // namespace silk::layers
