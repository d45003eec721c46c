// The local box executor: runs a workload in a compatibility box on this machine
// (compat::RunBox: pivot_root'ed minimal root, no capabilities unless granted, its own
// namespaces, cgroup limits when root) under the profile. The workload's timeout is the
// box's (compat kills its pid namespace), its stdin is /dev/null and its output goes to
// the executor's output fd. Learning runs go through the syscall recorder
// (syscall_recorder.hpp).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "compat/box_spec.hpp"
#include "policy/profile.hpp"
#include "tighten/executor.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

class LocalBoxExecutor : public WorkloadExecutor {
 public:
  // The workloads' stdout and stderr go to `output_fd` (the caller owns it and keeps it
  // open while the executor runs); -1 inherits the caller's.
  explicit LocalBoxExecutor(int output_fd = -1) : output_fd_(output_fd) {}

  // Writes `profile` to a temporary file for the box (deleted after the run).
  // Errors: compat::RunBox's setup errors (kSystem, kNotFound, kUnsupported, ...).
  Result<WorkloadOutcome> Execute(const Workload& workload, int run, const policy::Profile& profile,
                                  const ExecuteOptions& options) override;

  // compat::kBoxRuntimeSyscalls.
  std::vector<std::string> RuntimeSyscalls() const override;

 private:
  int output_fd_;
};

// The limits of every workload box (learning, minimisation, regression): 512 pids, 1 GiB
// of memory. Limits need cgroups, which only root (or a delegated user) can create, so an
// unprivileged user's boxes run without them (the syscalls they make are the same).
void SetWorkloadBoxLimits(compat::BoxSpec& spec);

struct BoxRunOptions {
  bool report_denials = false;  // ExecuteOptions::report_denials
  int output_fd = -1;           // the workload's stdout and stderr; -1 inherits
};

// Runs run number `run` of `w` in a box under `profile_ref`: a profile file, or a
// profile name the box looks up ("builtin:NAME"). LocalBoxExecutor's non-learning runs,
// for callers (tests, benchmarks) that hold a profile file already.
// Errors: box setup failures from compat::RunBox (kSystem, kNotFound, ...).
Result<WorkloadOutcome> RunWorkloadInBox(const Workload& w, int run, const std::string& profile_ref,
                                         const BoxRunOptions& options = {});

// Opens `path` for appending the workloads' output (created 0644 if missing), for
// LocalBoxExecutor's output fd. "/dev/null" drops it.
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
