// The syscall recorder behind `silk policy learn`: runs a command in a real compatibility
// box (compat::RunBox: pivot_root'ed minimal root, no capabilities, cgroups, its own
// namespaces) in learning mode (compat::RunOptions::observer) and records every syscall
// that the command, its threads and its children make, across execve too. The box
// notifies syscalls to its supervisor (seccomp user notification; no CAP_SYS_ADMIN
// needed), which answers with the PARENT profile's verdict: the call continues when the
// parent allows it, gets the parent's errno when it denies it (recorded as a
// DeniedAttempt), so the workload runs exactly as it would in a box under the parent,
// fallbacks (clone3 -> clone) included. The box's own setup is not attributed (see
// RunOptions::observer).
//
// Cost: frequent syscalls the parent allows whatever their arguments, and whose arguments
// make no rules, are counted in the kernel (RecordSpec::count_in_kernel, compat's
// counted learning); every other syscall is a round trip to the supervisor (see
// bench/learn_bench.cpp).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "tighten/learn_model.hpp"

namespace silk::tighten {

struct RecordSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH inside the box
  std::vector<std::string> env;   // the complete environment; empty = a minimal one
  std::string cwd = "/tmp";       // inside the box (a private tmpfs)
  double timeout_seconds = 60;    // then the box is killed
  // Granted to the box ("CAP_NET_BIND_SERVICE"); the parent should be resolved for them.
  std::vector<std::string> capabilities;
  // The box's stdin, stdout, stderr: -1 inherits; otherwise an fd of the caller (3 or
  // higher), which the caller keeps owning.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Count frequent syscalls in the kernel (compat::RunOptions::count_in_kernel); false
  // notifies every syscall (slower; for comparison).
  bool count_in_kernel = true;
};

struct RecordOutcome {
  int exit_status = 0;  // as a shell reports it: code, 128+signal, 127 not found
  int term_signal = 0;
  bool timed_out = false;
  std::string exec_failure;  // set when the command could not be started
  double elapsed_ms = 0;
  size_t counted_syscalls = 0;         // syscalls counted in the kernel
  std::string counting_unavailable;    // why none were (every syscall was notified)
  tighten::Observations observations;  // pids in the host's view
  // For each thread that made a denied attempt: host tid -> tid inside the box.
  std::map<pid_t, pid_t> box_tids;
};

// Runs spec.argv in a box under `parent` (a resolved profile) and records what it does.
// Errors: kInvalidInput (empty argv), the box's setup errors (kSystem, kUnsupported:
// see compat::RunBox). A command that is not found is not an error: exit_status 127 and
// exec_failure say so.
Result<RecordOutcome> RecordSyscalls(const RecordSpec& spec, const policy::Profile& parent);

}  // namespace silk::tighten
