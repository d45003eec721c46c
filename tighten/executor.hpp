// The workload executor: how the profile lab (learn, minimise, tighten, regress) runs one
// workload under one profile. Everything in tighten/ above this interface talks only to
// it, so the same lab runs where the executor runs the workload: a compatibility box on
// this machine today (local_box_executor.hpp), a sliver of a slice on another node or a
// thinix VM later.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/learn_model.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {

// One distinct call the profile denied while the workload ran.
struct Denial {
  std::string syscall;  // name on the native arch, or "syscall_<nr>"
  int nr = -1;
  std::array<uint64_t, 6> args{};
  pid_t pid = 0;  // as the executor's host sees it
  uint64_t count = 0;
  std::string verdict;  // what the workload got: "errno(EPERM)", "kill-process", ...
};

// "name(a0, a1, a2, ...) pid P -> verdict", as WorkloadOutcome::first_denial shows it.
std::string DenialToString(const Denial& d);

// What to watch while the workload runs; each costs time, so callers ask only for what
// they use.
struct ExecuteOptions {
  // Report the calls the profile denies (WorkloadOutcome::denials).
  bool report_denials = false;
  // Learning: record every syscall the workload makes (WorkloadOutcome::observations);
  // the profile then acts as the parent (what it denies is recorded as denied, and the
  // workload gets the parent's verdict).
  bool learn = false;
  // Learning: count frequent syscalls in the kernel where the executor can; false sends
  // every syscall to the recorder (slower; for comparison).
  bool count_in_kernel = true;
  // Capabilities the workload gets (the profile should be resolved for them).
  std::vector<std::string> capabilities{};
};

struct WorkloadOutcome {
  bool pass = false;    // exit status as expected, no timeout, command started
  int exit_status = 0;  // as a shell reports it: code, 128+signal, 127 not found
  int term_signal = 0;
  bool timed_out = false;
  std::string exec_failure;     // why the command could not be started; empty if it was
  double ms = 0;                // wall time of the run
  std::vector<Denial> denials;  // with report_denials: every distinct denied call, first seen first
  std::string first_denial;     // DenialToString(denials.front()); empty if none
  // With learn:
  Observations observations;         // every syscall seen (pids as the executor sees them)
  size_t counted_syscalls = 0;       // syscalls counted in the kernel
  std::string counting_unavailable;  // why none were (every syscall was recorded one by one)
};

class WorkloadExecutor {
 public:
  virtual ~WorkloadExecutor() = default;

  // Runs run number `run` of `workload` (SILK_RUN=run, "{run}" expanded, its files
  // inline) under `profile`, killed after workload.timeout_seconds. Must be safe to call
  // from several threads at once (minimisation and regression run workloads in
  // parallel). A workload that fails, times out or cannot start is an outcome, not an
  // error. Errors: the executor could not set up the run (kSystem, kUnsupported,
  // kNotFound for a vanished workload file, ...).
  virtual Result<WorkloadOutcome> Execute(const Workload& workload, int run,
                                          const policy::Profile& profile,
                                          const ExecuteOptions& options) = 0;

  // Syscalls the executor's own runtime makes under the profile before the workload's
  // first instruction (for a box: execve). Learning adds them when the parent allows
  // them; minimisation never removes them.
  virtual std::vector<std::string> RuntimeSyscalls() const = 0;
};

}  // namespace silk::tighten
