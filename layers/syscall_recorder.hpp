// The syscall recorder behind `silk policy learn`: runs a command and records every
// syscall that it, its threads and its children make (across execve too), through
// seccomp user notification: a filter whose only instruction returns
// SECCOMP_RET_USER_NOTIF is installed last before execve, so the recorder's own setup
// is never attributed to the workload, and needs no CAP_SYS_ADMIN (no_new_privs is
// enough). The supervisor answers each notification with the PARENT profile's verdict:
// SECCOMP_USER_NOTIF_FLAG_CONTINUE when the parent allows the call (safe here: the
// supervisor only observes, it never decides on user memory), the parent's errno when
// it denies it (recorded as a DeniedAttempt), so the workload runs exactly as it would
// under the parent, fallbacks (clone3 -> clone) included.
//
// Why not compat::RunBox: compat gives no hook to install a learning filter or to see
// allowed calls (it reports denials only). Until it does, this recorder is its own
// minimal runner: new pid, mount, network (lo up), ipc and uts namespaces, a private
// tmpfs on /tmp, PR_SET_PDEATHSIG, a timeout that kills the pid namespace. It is a
// recording harness, not a security boundary (the host file system stays visible).
//
// Cost: every syscall is a round trip to the supervisor (see bench/learn_bench.cpp).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/learn_model.hpp"
#include "policy/profile.hpp"

namespace silk::layers {

struct RecordSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH (from env, or default)
  std::vector<std::string> env;   // the complete environment; empty = a minimal one
  std::string cwd = "/tmp";       // inside (after the private /tmp is mounted)
  double timeout_seconds = 60;    // then the whole pid namespace is killed
  int stdin_fd = -1;              // -1: inherit; otherwise dup2'ed onto 0/1/2
  int stdout_fd = -1;
  int stderr_fd = -1;
  // New pid/mount/net/ipc/uts namespaces and a private /tmp (needs root). Off: a plain
  // child process (timeouts then kill only the direct child).
  bool isolate = true;
};

struct RecordOutcome {
  int exit_status = 0;  // as a shell reports it: code, 128+signal, 127 not found
  int term_signal = 0;
  bool timed_out = false;
  std::string exec_failure;  // set when the command could not be started
  double elapsed_ms = 0;
  policy::Observations observations;
};

// Runs spec.argv under `parent` (a resolved profile) and records what it does.
// Errors: kInvalidInput (empty argv), kSystem (a setup step failed: the message names
// it), kUnsupported (no seccomp user notification). A command that is not found is not
// an error: exit_status 127 and exec_failure say so.
Result<RecordOutcome> RecordSyscalls(const RecordSpec& spec, const policy::Profile& parent);

}  // namespace silk::layers
