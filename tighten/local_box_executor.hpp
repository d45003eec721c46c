// Running one workload of a suite in a compatibility box (compat::RunBox) under a given
// profile, for `silk policy minimize/tighten` (the oracle) and `silk regress` (the
// matrix). The workload's timeout is the box's (compat kills its pid namespace), its
// stdin is /dev/null and its output goes where the caller says.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "policy/profile.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

// The syscalls compat::RunBox's child makes after installing the profile's filter and
// before the workload's execve: execve itself (the supervisor takes the seccomp
// listener with pidfd_getfd). Learning adds them when the parent allows them.
inline const std::vector<std::string> kBoxRuntimeSyscalls = {"execve"};

struct BoxRun {
  bool pass = false;  // exit status as expected, no timeout, command started
  int exit_status = 0;
  bool timed_out = false;
  std::string exec_failure;
  std::string first_denial;                 // "name(args) pid P -> verdict"; empty if none
  size_t denials = 0;                       // distinct denied calls
  std::vector<compat::Denial> denial_list;  // every distinct denied call, first seen first
  double ms = 0;
};

struct BoxRunOptions {
  // Record denials (seccomp user notification; slower) for BoxRun::first_denial.
  bool report_denials = false;
  // The workload's stdout and stderr go here (the caller owns the fd); -1 inherits.
  int output_fd = -1;
};

// Runs run number `run` of `w` in a box under the profile file `profile_path`.
// Errors: box setup failures from compat::RunBox (kSystem, kNotFound, ...).
// The limits of every workload box (learning, minimisation, regression): 512 pids, 1 GiB
// of memory. Limits need cgroups, which only root (or a delegated user) can create, so an
// unprivileged user's boxes run without them (the syscalls they make are the same).
void SetWorkloadBoxLimits(compat::BoxSpec& spec);

Result<BoxRun> RunWorkloadInBox(const tighten::Workload& w, int run,
                                const std::string& profile_path, const BoxRunOptions& options = {});

// Opens `path` for appending the workloads' output (created 0644 if missing), for
// BoxRunOptions::output_fd and the runners' output_fd. "/dev/null" drops it.
Result<UniqueFd> OpenWorkloadLog(const std::string& path);

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

}  // namespace silk::tighten
