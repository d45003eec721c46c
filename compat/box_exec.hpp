// `silk box exec`: runs a command in a running named box, through its supervisor's
// control socket (compat/internal/exec_service.hpp, where the protocol is). The process
// is in the box's namespaces, cgroups, ids and seccomp filter, as the box's own command;
// its denials count in the box's report. The caller's stdin/stdout/stderr are relayed by
// the supervisor and never enter the box.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::compat {

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] is searched on the box's PATH without a '/'
  std::vector<std::string> env;   // NAME=VALUE, replacing the box's entries of that name
  std::string cwd;                // absolute; empty: the box's working directory
  // On a new pty (`-t`): the command's stdin, stdout and stderr are its slave, the
  // caller's stdin and stdout are relayed to and from it (stderr is the terminal too).
  bool tty = false;
  unsigned rows = 0, cols = 0;  // its size (0: none); SIGWINCH on signal_fd resends it
};

struct ExecOutcome {
  // As BoxOutcome: the exit code, 128+N when killed by signal N, 127/126 when the
  // command could not be exec'd (exec_failure says why).
  int exit_status = 0;
  int term_signal = 0;
  std::string exec_failure;
};

// Runs `request` in the running box `name` and waits for it to end. `stdio[i]`: the
// caller's descriptor for the command's fd i. Each signal read from `signal_fd` (a
// signalfd; -1: none) is passed on to the command, but SIGWINCH with `tty`: then the
// size of the caller's terminal (stdio[1]) is passed to the pty. Errors: kNotFound (no such box),
// kInvalidInput (the box does not run: the message says what it is; a bad request),
// kUnsupported (a rootless box: exec needs a root supervisor), kSystem.
Result<ExecOutcome> ExecInBox(const std::string& state_root, const std::string& name,
                              const ExecRequest& request, const int stdio[3], int signal_fd = -1);

// What a running box's supervisor counts.
struct SupervisorCounts {
  uint64_t denied_syscalls = 0;  // every denial of the box and its execs so far
  uint64_t execs = 0;            // execs running now
};
Result<SupervisorCounts> QuerySupervisor(const std::string& state_root, const std::string& name);

}  // namespace silk::compat
