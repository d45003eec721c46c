// A named box's control socket (<state dir>/control, SOCK_SEQPACKET, 0600), served by the
// box's supervisor while the box runs:
//  - exec: `silk box exec` (box_exec.hpp). The supervisor starts the process itself: born
//    in the box's pid namespace and cgroups (CLONE_INTO_CGROUP, then the v1 hierarchies),
//    it enters the box's other namespaces through init's pidfd, takes the box's ids, no
//    capabilities but the box's, no_new_privs and the box's own compiled filter, and
//    execs (compat/internal/child.hpp, ChildPlan::enter_pidfd). Its seccomp listener is
//    this supervisor's, its denials go to the box's report, and its stdin/stdout/stderr
//    are pipes relayed to the client's descriptors (passed with the request), which never
//    enter the box. The client hears the exit status, and may pass signals on.
//  - stats: the supervisor's counts (denied syscalls, execs running).
//
// Protocol: one JSON object per message. Client: {"op":"exec","argv":[..],"env":[..],
// "cwd":"..","tty":bool,"rows":N,"cols":N} with its stdin, stdout and stderr (SCM_RIGHTS),
// then {"signal":N} or {"winsize":[rows,cols]} at will;
// server: {"exit_status":N,"term_signal":N,"exec_failure":".."} or {"error":{"code",
// "message"}}. Client: {"op":"stats"}; server: {"denied_syscalls":N,"execs":N}.
// Only the supervisor's own uid (root) may connect (SO_PEERCRED). Bounded: at most
// kMaxClients connections at once, requests of at most kMaxRequestBytes.
#pragma once

#include <linux/filter.h>
#include <poll.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "compat/box_spec.hpp"
#include "policy/install.hpp"

namespace silk::compat::internal {

class BoxCgroup;
class NotifyHandler;

// What a process entering the box needs, owned by the box's run; outlives the service.
struct ExecContext {
  const BoxSpec* spec = nullptr;  // the box's: ids, env, cwd, rlimits, capabilities
  const sock_fprog* filter = nullptr;
  policy::InstallOptions install;
  int init_pidfd = -1;
  BoxCgroup* cgroup = nullptr;  // null: the box has none
  int cgroup_v2_dir = -1;       // CLONE_INTO_CGROUP target, -1: none
  bool user_ns = true;
  bool set_groups = true;
  bool prlimit_outside = true;  // rlimits set from outside (root supervisor)
  // Answers the execs' notifications (the box's own handler: one denial report).
  NotifyHandler* handler = nullptr;
};

class ExecService {
 public:
  static constexpr size_t kMaxClients = 64;
  static constexpr size_t kMaxRequestBytes = 256 * 1024;

  // Binds `path` (replacing a stale socket file there).
  static Result<std::unique_ptr<ExecService>> Create(const std::string& path,
                                                     const ExecContext& context);
  ~ExecService();  // kills and reaps what still runs, removes the socket

  // Appends the descriptors to poll now; Handle() takes the same vector from `first`.
  void AddPollFds(std::vector<pollfd>& fds);
  // Serves what polled ready. A client's failure is told to that client, never to the box.
  void Handle(const std::vector<pollfd>& fds, size_t first);
  // The box has ended (its pid namespace took every exec'd process): each client hears
  // how its command ended; no new client is served.
  void Finish();

 private:
  struct Session;
  ExecService() = default;
  void Accept();
  void Serve(Session& s);
  void Exec(Session& s, const std::string& request);
  // `tty`: the command on a new pty (rows x cols when given), relayed as one stream.
  Result<void> Spawn(Session& s, const BoxSpec& spec, bool tty, unsigned rows, unsigned cols);
  void Reap(Session& s);
  void Reply(Session& s, const std::string& json);

  ExecContext ctx_;
  std::string path_;
  UniqueFd listen_;
  UniqueFd own_pidns_;  // to return to after a clone into the box's pid namespace
  std::vector<std::unique_ptr<Session>> sessions_;
  int listen_at_ = -1;  // where the last AddPollFds put the listening socket
};

}  // namespace silk::compat::internal
