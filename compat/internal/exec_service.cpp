#include "compat/internal/exec_service.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/log.hpp"
#include "compat/internal/caps.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/launch.hpp"
#include "compat/internal/namespaces.hpp"
#include "compat/internal/notify.hpp"
#include "compat/internal/stdio_relay.hpp"

namespace silk::compat::internal {
namespace {

// How long a process entering the box may take to exec (its setup takes milliseconds;
// the box could stop it with a signal once it has the box's ids).
constexpr auto kEnterTimeout = std::chrono::seconds(10);
// After an exec'd command ended: how long its output may still come (a process it left
// behind in the box may hold the pipes; its output is not waited for longer).
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);

std::string ErrorReply(const Error& e) {
  nlohmann::json j;
  j["error"] = {{"code", ErrorCodeName(e.code())}, {"message", e.ToString()}};
  return j.dump();
}

// The request's strings as the process gets them: no NUL byte inside.
Result<std::vector<std::string>> Strings(const nlohmann::json& j, const char* field) {
  std::vector<std::string> out;
  if (!j.contains(field)) return out;
  if (!j[field].is_array())
    return Fail(ErrorCode::kInvalidInput,
                std::string("exec request: \"") + field + "\" must be an array of strings");
  for (const auto& v : j[field]) {
    if (!v.is_string())
      return Fail(ErrorCode::kInvalidInput,
                  std::string("exec request: \"") + field + "\" must hold strings only");
    std::string s = v.get<std::string>();
    if (s.find('\0') != std::string::npos)
      return Fail(ErrorCode::kInvalidInput,
                  std::string("exec request: a string of \"") + field + "\" holds a NUL byte");
    out.push_back(std::move(s));
  }
  return out;
}

// The box's spec with the request's command, environment (the box's, with the
// request's entries replacing those of the same name) and working directory.
Result<BoxSpec> ExecSpec(const BoxSpec& box, const nlohmann::json& req) {
  auto argv = SILK_TRY(Strings(req, "argv"));
  if (argv.empty() || argv[0].empty())
    return Fail(ErrorCode::kInvalidInput, "exec request: no command (\"argv\" is empty)");
  BoxSpec s = box;
  s.command = argv[0];
  s.args.assign(argv.begin() + 1, argv.end());
  for (auto& e : SILK_TRY(Strings(req, "env"))) {
    size_t eq = e.find('=');
    if (eq == 0 || eq == std::string::npos)
      return Fail(ErrorCode::kInvalidInput,
                  "exec request: environment entry '" + e + "' is not NAME=VALUE");
    const std::string key = e.substr(0, eq + 1);
    std::erase_if(s.env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
    s.env.push_back(std::move(e));
  }
  if (req.contains("cwd")) {
    if (!req["cwd"].is_string())
      return Fail(ErrorCode::kInvalidInput, "exec request: \"cwd\" must be a string");
    s.cwd = req["cwd"].get<std::string>();
    if (s.cwd.empty() || s.cwd[0] != '/' || s.cwd.find('\0') != std::string::npos)
      return Fail(ErrorCode::kInvalidInput,
                  "exec request: the working directory '" + s.cwd + "' must be absolute");
  }
  return s;
}

// The pty's size, when the client gave one (a terminal of 0 rows is none).
void SetWindowSize(int master, unsigned rows, unsigned cols) {
  if (master < 0 || rows == 0 || cols == 0 || rows > 0xffff || cols > 0xffff) return;
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  (void)ioctl(master, TIOCSWINSZ, &ws);
}

// Sets the calling thread's pid namespace for children to the box's for one clone, and
// back (own: this process's own pid namespace).
class InBoxPidNamespace {
 public:
  static Result<void> Enter(int init_pidfd) {
    if (setns(init_pidfd, CLONE_NEWPID) != 0)
      return FailErrno("entering the box's pid namespace for its new process (setns)");
    return {};
  }
  static void Leave(int own) {
    // Cannot fail for our own namespace; a supervisor left there would clone wrongly.
    if (setns(own, CLONE_NEWPID) != 0) abort();
  }
};

}  // namespace

struct ExecService::Session {
  enum State { kRequest, kRunning, kDone } state = kRequest;
  UniqueFd conn;
  UniqueFd caller[3];  // the client's stdin, stdout, stderr (relayed, never in the box)
  std::optional<StdioRelay> relay;
  ChildData data;
  std::optional<HandoffPage> handoff;
  pid_t pid = 0;
  UniqueFd pidfd, listener;
  std::string command;
  UniqueFd terminal;  // the pty's master (-t), for window size changes
  int exit_status = 0, term_signal = 0;
  std::string exec_failure;
  // Where the last AddPollFds put this session's descriptors (-1: not polled).
  int conn_at = -1, pidfd_at = -1, listener_at = -1, relay_at = -1;
};

Result<std::unique_ptr<ExecService>> ExecService::Create(const std::string& path,
                                                         const ExecContext& context) {
  std::unique_ptr<ExecService> svc(new ExecService());
  svc->ctx_ = context;
  svc->path_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Fail(ErrorCode::kInvalidInput, "the box's control socket path is too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  svc->own_pidns_ = UniqueFd(open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!svc->own_pidns_) return FailErrno("opening /proc/self/ns/pid");
  svc->listen_ = UniqueFd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!svc->listen_) return FailErrno("socket for the box's control socket");
  unlink(path.c_str());
  const mode_t old = umask(0177);  // 0600 from the start
  int rc = bind(svc->listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0) return FailErrno("binding the box's control socket " + path);
  if (listen(svc->listen_.get(), 16) != 0) return FailErrno("listen on " + path);
  return svc;
}

ExecService::~ExecService() {
  for (auto& s : sessions_) {
    if (s->state != Session::kRunning || !s->pidfd) continue;
    syscall(SYS_pidfd_send_signal, s->pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t si{};
    waitid(P_PIDFD, static_cast<id_t>(s->pidfd.get()), &si, WEXITED);
  }
  if (listen_) unlink(path_.c_str());
}

void ExecService::AddPollFds(std::vector<pollfd>& fds) {
  // Positions are kept relative to where we start: Handle() gets that as `first`.
  const size_t base = fds.size();
  auto at = [&] { return static_cast<int>(fds.size() - base); };
  listen_at_ = -1;
  if (listen_ && sessions_.size() < kMaxClients) {
    listen_at_ = at();
    fds.push_back({listen_.get(), POLLIN, 0});
  }
  for (auto& sp : sessions_) {
    Session& s = *sp;
    s.conn_at = s.pidfd_at = s.listener_at = s.relay_at = -1;
    if (s.conn) {
      s.conn_at = at();
      fds.push_back({s.conn.get(), POLLIN, 0});
    }
    if (s.state != Session::kRunning) continue;
    s.pidfd_at = at();
    fds.push_back({s.pidfd.get(), POLLIN, 0});
    if (s.listener) {
      s.listener_at = at();
      fds.push_back({s.listener.get(), POLLIN, 0});
    }
    s.relay_at = at();
    s.relay->AddPollFds(fds);
  }
}

void ExecService::Handle(const std::vector<pollfd>& fds, size_t first) {
  auto ready = [&](int at) { return at >= 0 && fds[first + at].revents != 0; };
  if (ready(listen_at_)) Accept();
  for (auto& sp : sessions_) {
    Session& s = *sp;
    if (ready(s.conn_at)) Serve(s);
    if (s.state != Session::kRunning) continue;
    if (ready(s.listener_at)) {
      if (fds[first + s.listener_at].revents & POLLIN) {
        if (auto r = ctx_.handler->HandleOne(s.listener.get()); !r) {
          // Unanswered, the call would block forever: end the process.
          LogWarning("box exec: " + r.error().ToString());
          syscall(SYS_pidfd_send_signal, s.pidfd.get(), SIGKILL, nullptr, 0);
          s.listener.Reset();
        }
      } else {
        s.listener.Reset();  // its last filter user is gone
      }
    }
    if (s.relay_at >= 0) s.relay->Handle(fds, first + s.relay_at);
    if (ready(s.pidfd_at)) Reap(s);
  }
  std::erase_if(sessions_, [](const auto& s) { return s->state == Session::kDone; });
}

void ExecService::Accept() {
  UniqueFd c(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!c) return;
  ucred peer{};
  socklen_t len = sizeof peer;
  if (getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != 0 && peer.uid != geteuid()))
    return;  // not ours to serve: closed
  auto s = std::make_unique<Session>();
  s->conn = std::move(c);
  sessions_.push_back(std::move(s));
}

void ExecService::Reply(Session& s, const std::string& json) {
  if (s.conn) (void)!send(s.conn.get(), json.data(), json.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// A message from the client: its request, a signal to pass on, or its hangup.
void ExecService::Serve(Session& s) {
  std::vector<char> buf(s.state == Session::kRequest ? kMaxRequestBytes : 256);
  iovec iov = {buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(s.conn.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  int received = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (received < 3 && s.state == Session::kRequest)
        s.caller[received++].Reset(fd);
      else
        close(fd);
    }
  }
  if (n <= 0) {
    // The client is gone: what it started goes with it.
    s.conn.Reset();
    if (s.state == Session::kRunning)
      syscall(SYS_pidfd_send_signal, s.pidfd.get(), SIGKILL, nullptr, 0);
    else
      s.state = Session::kDone;
    return;
  }
  if (msg.msg_flags & MSG_TRUNC) {
    Reply(s, ErrorReply(
                 Error(ErrorCode::kInvalidInput,
                       "exec request larger than " + std::to_string(kMaxRequestBytes) + " bytes")));
    s.conn.Reset();
    if (s.state == Session::kRequest) s.state = Session::kDone;
    return;
  }
  const std::string text(buf.data(), static_cast<size_t>(n));
  if (s.state == Session::kRunning) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("signal") && j["signal"].is_number_integer()) {
      int sig = j["signal"].get<int>();
      if (sig > 0 && sig < NSIG) syscall(SYS_pidfd_send_signal, s.pidfd.get(), sig, nullptr, 0);
    }
    if (j.is_object() && j.contains("winsize") && j["winsize"].is_array() &&
        j["winsize"].size() == 2 && j["winsize"][0].is_number_unsigned() &&
        j["winsize"][1].is_number_unsigned())
      SetWindowSize(s.terminal.get(), j["winsize"][0].get<unsigned>(),
                    j["winsize"][1].get<unsigned>());
    return;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("op") || !j["op"].is_string()) {
    Reply(s, ErrorReply(Error(ErrorCode::kInvalidInput, "control request is not {\"op\": ...}")));
    s.state = Session::kDone;
    return;
  }
  const std::string op = j["op"].get<std::string>();
  if (op == "stats") {
    nlohmann::json r;
    r["denied_syscalls"] = ctx_.handler ? ctx_.handler->report().total() : 0;
    size_t running = 0;
    for (const auto& x : sessions_) running += x->state == Session::kRunning;
    r["execs"] = running;
    Reply(s, r.dump());
    s.state = Session::kDone;
    return;
  }
  if (op != "exec") {
    Reply(s, ErrorReply(Error(ErrorCode::kInvalidInput, "unknown control request '" + op + "'")));
    s.state = Session::kDone;
    return;
  }
  Exec(s, text);
}

void ExecService::Exec(Session& s, const std::string& request) {
  auto fail = [&](const Error& e) {
    Reply(s, ErrorReply(e));
    s.state = Session::kDone;
  };
  if (!listen_) return fail(Error(ErrorCode::kInvalidInput, "the box has ended"));
  const auto req = nlohmann::json::parse(request, nullptr, false);
  auto spec = ExecSpec(*ctx_.spec, req);
  if (!spec) return fail(spec.error());
  const bool tty = req.contains("tty") && req["tty"].is_boolean() && req["tty"].get<bool>();
  auto dim = [&](const char* k) {
    return req.contains(k) && req[k].is_number_unsigned() ? req[k].get<unsigned>() : 0u;
  };
  if (auto r = Spawn(s, *spec, tty, dim("rows"), dim("cols")); !r) {
    if (s.pidfd) {
      syscall(SYS_pidfd_send_signal, s.pidfd.get(), SIGKILL, nullptr, 0);
      siginfo_t si{};
      waitid(P_PIDFD, static_cast<id_t>(s.pidfd.get()), &si, WEXITED);
    }
    return fail(r.error());
  }
}

Result<void> ExecService::Spawn(Session& s, const BoxSpec& spec, bool tty, unsigned rows,
                                unsigned cols) {
  if (ctx_.install.new_listener && !ctx_.handler)
    return Fail(ErrorCode::kInternal, "the box's notifications have no handler");
  UniqueFd slave;
  if (tty) {
    UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    char name[64];
    if (!master || grantpt(master.get()) != 0 || unlockpt(master.get()) != 0 ||
        ptsname_r(master.get(), name, sizeof name) != 0)
      return FailErrno("opening a pty for the exec");
    slave = UniqueFd(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) return FailErrno(std::string("opening ") + name);
    s.terminal = UniqueFd(fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    SetWindowSize(s.terminal.get(), rows, cols);
    s.relay.emplace(SILK_TRY(
        StdioRelay::CreateTerminal(s.caller[0].get(), s.caller[1].get(), std::move(master))));
  } else {
    const int caller[3] = {s.caller[0].get(), s.caller[1].get(), s.caller[2].get()};
    s.relay.emplace(SILK_TRY(StdioRelay::Create(caller)));
  }
  s.handoff.emplace(SILK_TRY(HandoffPage::Create()));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return FailErrno("socketpair for the exec");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  int on = 1;
  if (setsockopt(ours.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return FailErrno("SO_PASSCRED on the exec's socket");
  s.command = spec.command;
  BuildExecData(spec, s.data);
  ChildPlan& p = s.data.plan;
  p.sync_fd = theirs.get();
  p.handoff = s.handoff->get();
  p.enter_pidfd = ctx_.init_pidfd;
  p.enter_flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP |
                  (ctx_.user_ns ? CLONE_NEWUSER : 0);
  p.loopback_up = false;
  p.cwd = spec.cwd.c_str();
  for (int i = 0; i < 3; ++i) p.stdio[i] = tty ? slave.get() : s.relay->box_end(i);
  p.controlling_tty = tty;
  // Entering as host root: always take the box's ids.
  p.set_ids = true;
  p.set_groups = ctx_.set_groups;
  p.uid = spec.uid;
  p.gid = spec.gid;
  p.rlimits = s.data.rlimits.data();
  p.rlimit_count = ctx_.prlimit_outside ? 0 : s.data.rlimits.size();
  p.keep_caps = KeptCapabilities(spec);
  p.last_cap = LastCapability();
  p.filter = ctx_.filter;
  p.install = ctx_.install;
  p.command = s.command.c_str();
  p.argv = s.data.argv.data();
  p.envp = s.data.envp.data();
  p.path = s.data.path.c_str();
  p.exec_buf = s.data.exec_buf.data();
  p.exec_buf_size = s.data.exec_buf.size();

  SILK_TRY(InBoxPidNamespace::Enter(ctx_.init_pidfd));
  auto cloned = CloneBox(0, ctx_.cgroup_v2_dir);
  if (cloned && cloned->pid == 0) {
    close(ours.get());
    RunChild(p);
  }
  InBoxPidNamespace::Leave(own_pidns_.get());
  if (!cloned) return Fail(std::move(cloned.error()));
  s.pid = cloned->pid;
  s.pidfd = std::move(cloned->pidfd);
  theirs.Reset();
  slave.Reset();
  s.relay->CloseBoxEnds();
  if (ctx_.cgroup) SILK_TRY(ctx_.cgroup->AddProcess(s.pid, ctx_.cgroup_v2_dir >= 0));
  if (ctx_.prlimit_outside) {
    for (const auto& r : s.data.rlimits) {
      rlimit rl{r.soft, r.hard};
      if (prlimit(s.pid, static_cast<__rlimit_resource>(r.resource), &rl, nullptr) != 0)
        return FailErrno("setting the exec's rlimit " + std::to_string(r.resource));
    }
  }
  if (send(ours.get(), "G", 1, MSG_NOSIGNAL) != 1) return FailErrno("starting the exec");
  ExecHandshake handshake(ours.get(), s.handoff->get(), s.pid, s.pidfd.get());
  auto end =
      SILK_TRY(handshake.Run([this](int, pid_t) -> Result<NotifyHandler*> { return ctx_.handler; },
                             std::chrono::steady_clock::now() + kEnterTimeout));
  s.listener = handshake.TakeListener();
  switch (end.kind) {
    case ChildSetupEnd::kExeced:
      break;
    case ChildSetupEnd::kExecFailed:
      s.exec_failure = ExecFailureMessage(spec.command, end.exec_errno, s.data.path);
      break;
    case ChildSetupEnd::kSetupFailed:
      return Fail(Error(ErrorCode::kSystem,
                        std::string("entering the box failed: ") + ChildStageName(end.report.stage),
                        end.report.err));
  }
  s.state = Session::kRunning;  // an exec failure is told once the child is reaped
  return {};
}

void ExecService::Reap(Session& s) {
  siginfo_t si{};
  if (waitid(P_PIDFD, static_cast<id_t>(s.pidfd.get()), &si, WEXITED | WNOHANG) != 0 ||
      si.si_pid == 0)
    return;
  if (!s.exec_failure.empty()) {
    const int err = s.handoff->get()->exec_errno.load();
    s.exit_status = err == ENOENT ? 127 : 126;
  } else if (si.si_code == CLD_EXITED) {
    s.exit_status = si.si_status;
  } else {
    s.term_signal = si.si_status;
    s.exit_status = 128 + si.si_status;
  }
  s.listener.Reset();
  s.relay->Drain(std::chrono::steady_clock::now() + kDrainAfterExit);
  nlohmann::json r;
  r["exit_status"] = s.exit_status;
  r["term_signal"] = s.term_signal;
  r["exec_failure"] = s.exec_failure;
  Reply(s, r.dump());
  s.state = Session::kDone;
}

void ExecService::Finish() {
  listen_.Reset();
  unlink(path_.c_str());
  for (auto& sp : sessions_) {
    Session& s = *sp;
    if (s.state == Session::kRequest) {
      Reply(s, ErrorReply(Error(ErrorCode::kInvalidInput, "the box has ended")));
      s.state = Session::kDone;
      continue;
    }
    if (s.state != Session::kRunning) continue;
    // The box's pid namespace is gone: the process was killed with it.
    syscall(SYS_pidfd_send_signal, s.pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t si{};
    while (waitid(P_PIDFD, static_cast<id_t>(s.pidfd.get()), &si, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    Reap(s);
  }
  std::erase_if(sessions_, [](const auto& s) { return s->state == Session::kDone; });
}

}  // namespace silk::compat::internal
