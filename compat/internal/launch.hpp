// Launching a command process of a box, from the supervisor's side: what the child reads
// between clone and execve (ChildData), the page it answers through (HandoffPage), and
// the handshake that follows it until it has exec'd (ExecHandshake): it announces where
// its seccomp listener will be, installs its filter, waits at its gate while the
// supervisor takes the listener, then execs. Used for the box's own command (RunBox) and
// for each `silk box exec` (exec_service.hpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "compat/box_spec.hpp"
#include "compat/internal/child.hpp"

namespace silk::compat::internal {

class NotifyHandler;

// Everything the child reads, kept alive until it has exec'd.
struct ChildData {
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  std::vector<RlimitOp> rlimits;
  std::vector<char> exec_buf;
  std::string path;
  ChildPlan plan;
};

// The command, its arguments, environment (PATH added when missing), PATH search and
// rlimits of `spec`, in the form the child reads.
void BuildExecData(const BoxSpec& spec, ChildData& d);

// What a shell says when `command` could not be exec'd with errno `err` (ENOENT: not
// found on `path`).
std::string ExecFailureMessage(const std::string& command, int err, const std::string& path);

// The capabilities a box process keeps (BoxSpec::capabilities, CAP_NET_RAW when raw
// sockets are granted), as a bit mask.
uint64_t KeptCapabilities(const BoxSpec& spec);

// A MAP_SHARED page for ChildHandoff, unmapped with the object.
class HandoffPage {
 public:
  static Result<HandoffPage> Create();
  HandoffPage(HandoffPage&& o) noexcept;
  HandoffPage& operator=(HandoffPage&&) = delete;
  ~HandoffPage();
  ChildHandoff* get() const { return page_; }

 private:
  explicit HandoffPage(ChildHandoff* p) : page_(p) {}
  ChildHandoff* page_;
};

// How the child's setup ended.
struct ChildSetupEnd {
  enum Kind {
    kExeced,       // the command runs (or the child was killed: its reap tells)
    kExecFailed,   // every execve failed: exec_errno
    kSetupFailed,  // a step before the filter failed: report (the child _exit()s)
  } kind = kExeced;
  int exec_errno = 0;
  ChildReport report;
};

// Follows one child from 'G' to its execve over its sync socket (SOCK_SEQPACKET with
// SO_PASSCRED on our end). `pid`/`pidfd`: the cloned process; the listener may be
// announced by a descendant (the command under silk's init), whose pidfd is opened then.
class ExecHandshake {
 public:
  // Called once the listener is taken, before the child is let past its gate: returns the
  // handler that answers its notifications while it execs (they may be notified).
  using ListenerTaken = std::function<Result<NotifyHandler*>(int listener, pid_t holder)>;

  ExecHandshake(int sock, ChildHandoff* handoff, pid_t pid, int pidfd)
      : sock_(sock), handoff_(handoff), pid_(pid), pidfd_(pidfd) {}

  // Runs the handshake until the child exec'd, failed to, or reported a setup error.
  // Errors: kTimeout when `deadline` passes first (the caller kills the child), kInternal
  // for a malformed message, kSystem.
  Result<ChildSetupEnd> Run(const ListenerTaken& taken,
                            std::chrono::steady_clock::time_point deadline);
  // The child's seccomp listener, once taken (empty when its filter does not notify).
  UniqueFd TakeListener() { return std::move(listener_); }

 private:
  Result<void> Take(int listener_at, pid_t holder, const ListenerTaken& taken);
  int sock_;
  ChildHandoff* handoff_;
  pid_t pid_;
  int pidfd_;
  UniqueFd holder_pidfd_;  // the announcer when it is not the cloned process
  UniqueFd listener_;
  NotifyHandler* handler_ = nullptr;
};

}  // namespace silk::compat::internal
