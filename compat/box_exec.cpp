#include "compat/box_exec.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/unique_fd.hpp"
#include "compat/box_lifecycle.hpp"

namespace silk::compat {
namespace {

constexpr size_t kMaxReply = 64 * 1024;

// The running box's control socket, connected.
Result<UniqueFd> Connect(const std::string& state_root, const std::string& name) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (r.status != BoxStatus::kRunning) {
    std::string why = "box " + name + " is " + BoxStatusName(r.status);
    if (r.status == BoxStatus::kCreated) why += " (`silk box start " + name + "` runs it)";
    if (r.status == BoxStatus::kLost)
      why += " (its supervisor died; `silk box delete " + name + "` reclaims it)";
    return Fail(ErrorCode::kInvalidInput, why + ": nothing runs in it to exec into");
  }
  const std::string path = r.state_dir + "/control";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Fail(ErrorCode::kInvalidInput, "the box's control socket path is too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == ENOENT && r.supervisor_pid > 0 && access(r.state_dir.c_str(), W_OK) == 0 &&
        geteuid() != 0)
      return Fail(ErrorCode::kUnsupported,
                  "box " + name + " is rootless: `silk box exec` needs a box made as root");
    if (err == ENOENT || err == ECONNREFUSED)
      return Fail(ErrorCode::kInvalidInput, "box " + name + " is not running any more");
    return FailErrno("connecting to the supervisor of box " + name + " (" + path + ")", err);
  }
  return fd;
}

Result<nlohmann::json> Receive(int fd) {
  std::string buf(kMaxReply, '\0');
  ssize_t n;
  do n = recv(fd, buf.data(), buf.size(), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("reading the box supervisor's reply");
  if (n == 0)
    return Fail(ErrorCode::kSystem, "the box's supervisor closed the connection without a reply");
  auto j = nlohmann::json::parse(buf.substr(0, static_cast<size_t>(n)), nullptr, false);
  if (!j.is_object())
    return Fail(ErrorCode::kInternal, "malformed reply from the box's supervisor");
  if (j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    std::string code = e.value("code", ""), message = e.value("message", "");
    ErrorCode c = ErrorCode::kSystem;
    for (ErrorCode k :
         {ErrorCode::kInvalidInput, ErrorCode::kNotFound, ErrorCode::kSystem,
          ErrorCode::kUnsupported, ErrorCode::kDenied, ErrorCode::kTimeout, ErrorCode::kInternal})
      if (code == ErrorCodeName(k)) c = k;
    return Fail(c, message);
  }
  return j;
}

Result<void> SendWithFds(int fd, const std::string& text, const int fds[3]) {
  iovec iov = {const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
  if (sendmsg(fd, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(text.size()))
    return FailErrno(errno == EMSGSIZE ? "the exec request is too large (arguments and "
                                         "environment must fit in 256 KiB)"
                                       : "sending the exec request");
  return {};
}

}  // namespace

Result<ExecOutcome> ExecInBox(const std::string& state_root, const std::string& name,
                              const ExecRequest& request, const int stdio[3], int signal_fd) {
  if (request.argv.empty() || request.argv[0].empty())
    return Fail(ErrorCode::kInvalidInput, "no command to exec");
  UniqueFd conn = SILK_TRY(Connect(state_root, name));
  nlohmann::json req;
  req["op"] = "exec";
  req["argv"] = request.argv;
  req["env"] = request.env;
  if (!request.cwd.empty()) req["cwd"] = request.cwd;
  if (request.tty) {
    req["tty"] = true;
    req["rows"] = request.rows;
    req["cols"] = request.cols;
  }
  const int fds[3] = {stdio[0] < 0 ? 0 : stdio[0], stdio[1] < 0 ? 1 : stdio[1],
                      stdio[2] < 0 ? 2 : stdio[2]};
  SILK_TRY(SendWithFds(conn.get(), req.dump(), fds));
  for (;;) {
    pollfd pf[2] = {{conn.get(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(pf, signal_fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return FailErrno("waiting for the exec");
    }
    if (signal_fd >= 0 && (pf[1].revents & POLLIN)) {
      signalfd_siginfo si;
      if (read(signal_fd, &si, sizeof si) == sizeof si) {
        std::string msg = nlohmann::json{{"signal", si.ssi_signo}}.dump();
        if (si.ssi_signo == SIGWINCH) {
          winsize ws{};
          if (!request.tty || ioctl(fds[1], TIOCGWINSZ, &ws) != 0) continue;
          msg = nlohmann::json{{"winsize", {ws.ws_row, ws.ws_col}}}.dump();
        }
        (void)!send(conn.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
      }
    }
    if (!pf[0].revents) continue;
    nlohmann::json j = SILK_TRY(Receive(conn.get()));
    ExecOutcome out;
    out.exit_status = j.value("exit_status", 0);
    out.term_signal = j.value("term_signal", 0);
    out.exec_failure = j.value("exec_failure", "");
    return out;
  }
}

Result<SupervisorCounts> QuerySupervisor(const std::string& state_root, const std::string& name) {
  UniqueFd conn = SILK_TRY(Connect(state_root, name));
  const std::string req = R"({"op":"stats"})";
  if (send(conn.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return FailErrno("asking the supervisor of box " + name);
  nlohmann::json j = SILK_TRY(Receive(conn.get()));
  SupervisorCounts c;
  c.denied_syscalls = j.value("denied_syscalls", uint64_t{0});
  c.execs = j.value("execs", uint64_t{0});
  return c;
}

}  // namespace silk::compat
