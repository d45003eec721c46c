#include "vmm/agent_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/sleep.hpp"
#include "base/subprocess.hpp"

namespace silk::vmm {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string ErrorOf(const std::string& payload) {
  json j = json::parse(payload, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string())
    return j["error"].get<std::string>();
  return payload;
}

// 16 random hex digits (a session's nonce); the time when getrandom fails.
std::string SessionNonce() {
  unsigned char bytes[8];
  if (::getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof bytes)) {
    auto t = static_cast<unsigned long long>(Clock::now().time_since_epoch().count());
    std::memcpy(bytes, &t, sizeof bytes);
  }
  char hex[17];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

}  // namespace

Result<void> AgentClient::Ping(Clock::time_point deadline) {
  SILK_TRY(channel_.Send(FrameType::kPing, "{}"));
  for (;;) {
    Frame f = SILK_TRY(channel_.Receive(deadline));
    if (f.type == FrameType::kPong) return {};
  }
}

// How far the caller's stdin is read ahead of what the channel took.
constexpr size_t kStdinWindow = 256 * 1024;

Result<int> AgentClient::Run(const AgentCommand& cmd, const OutputSink& out, const OutputSink& err,
                             Clock::time_point deadline) {
  if (cmd.argv.empty()) return Fail(ErrorCode::kInvalidInput, "no command to run in the guest");
  const bool forward = cmd.stdin_fd >= 0 && forwards_stdin_;
  json req = {{"argv", cmd.argv}};
  if (!cmd.env.empty()) {
    json env = json::object();
    for (const auto& [k, v] : cmd.env) env[k] = v;
    req["env"] = env;
  }
  if (!cmd.cwd.empty()) req["cwd"] = cmd.cwd;
  if (forward) req["stdin"] = true;
  SILK_TRY(
      channel_.Send(FrameType::kRun, req.dump(-1, ' ', false, json::error_handler_t::replace)));
  // The channel is this client's own socket: non-blocking, so that sending stdin never
  // stops the output from being read (Send and Receive wait in poll on EAGAIN).
  int flags = ::fcntl(channel_.fd(), F_GETFL);
  if (flags < 0 || ::fcntl(channel_.fd(), F_SETFL, flags | O_NONBLOCK) != 0)
    return FailErrno("control channel: cannot make the socket non-blocking");
  bool stdin_open = forward;
  std::string chunk(64 * 1024, '\0');
  for (;;) {
    Frame f;
    while (SILK_TRY(channel_.NextBuffered(&f))) {
      switch (f.type) {
        case FrameType::kStdout:
          if (out) out(f.payload);
          break;
        case FrameType::kStderr:
          if (err) err(f.payload);
          break;
        case FrameType::kExit: {
          json j = json::parse(f.payload, nullptr, false);
          if (!j.is_object() || !j.contains("status") || !j["status"].is_number_integer())
            return Fail(ErrorCode::kInvalidInput,
                        "control channel: malformed exit frame: " + f.payload);
          return j["status"].get<int>();
        }
        case FrameType::kFailure: {
          // The agent gives the shell's status when the command was not found (127) or
          // not executable (126); anything else is the agent's own failure.
          json j = json::parse(f.payload, nullptr, false);
          int status = j.is_object() ? j.value("status", 0) : 0;
          ErrorCode code = status == kShellNotFound        ? ErrorCode::kNotFound
                           : status == kShellCannotExecute ? ErrorCode::kDenied
                                                           : ErrorCode::kSystem;
          return Fail(code, "in the guest: " + ErrorOf(f.payload));
        }
        default:
          break;  // late hello/pong
      }
    }
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return Fail(ErrorCode::kTimeout, "the command in the guest did not finish in time");
      timeout_ms = static_cast<int>(std::min<long>(left.count(), 1 << 30));
    }
    pollfd fds[2];
    fds[0] = {channel_.fd(), static_cast<short>(POLLIN | (channel_.pending() ? POLLOUT : 0)), 0};
    nfds_t n = 1;
    if (stdin_open && channel_.pending() < kStdinWindow) fds[n++] = {cmd.stdin_fd, POLLIN, 0};
    int r = ::poll(fds, n, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return FailErrno("control channel: poll failed");
    }
    if (r == 0) continue;  // the deadline check above ends the loop
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) SILK_TRY(channel_.ReadSome());
    if (n == 2 && fds[1].revents != 0) {
      ssize_t got = ::read(cmd.stdin_fd, chunk.data(), chunk.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got > 0) {
        SILK_TRY(channel_.Queue(FrameType::kStdin, chunk.substr(0, static_cast<size_t>(got))));
      } else {
        // End of file, or stdin cannot be read (a directory, EIO): the command sees the end.
        SILK_TRY(channel_.Queue(FrameType::kStdinEnd, "{}"));
        stdin_open = false;
      }
    }
    if (channel_.pending()) SILK_TRY(channel_.Flush());
  }
}

Result<void> AgentClient::PowerOff() { return channel_.Send(FrameType::kPowerOff, "{}"); }

Result<AgentClient> ConnectAgent(const std::string& socket_path, Clock::time_point deadline,
                                 const std::function<bool()>& still_alive) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return Fail(ErrorCode::kInvalidInput, socket_path + ": unix socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  for (;;) {
    if (still_alive && !still_alive())
      return Fail(
          Error(ErrorCode::kSystem, "the guest ended before its agent answered", ECONNRESET));
    if (Clock::now() >= deadline)
      return Fail(ErrorCode::kTimeout,
                  "the guest's agent did not answer on " + socket_path + " in time");
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return FailErrno("cannot create a unix socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN) {
        SleepFor(std::chrono::milliseconds(20));
        continue;
      }
      return FailErrno("cannot connect to the control socket " + socket_path);
    }
    FramedChannel ch(std::move(fd));
    // The nonce marks this session's pong (channel.hpp: a VM that lives may hand a new
    // connection stale bytes of the one before).
    const std::string nonce = SessionNonce();
    SILK_TRY(ch.Send(FrameType::kPing, json{{"nonce", nonce}}.dump()));
    const std::string marker = "p{\"nonce\":\"" + nonce + "\"";
    bool synced = true;
    // Wait in slices so that a guest that died is noticed between them.
    for (;;) {
      auto slice = std::min(deadline, Clock::now() + std::chrono::milliseconds(250));
      if (!synced && !ch.SkipTo(marker)) {
        // Stale bytes that began mid-frame: read on until this session's pong is in.
        pollfd p{ch.fd(), POLLIN, 0};
        auto left = std::chrono::ceil<std::chrono::milliseconds>(slice - Clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) > 0)
          SILK_TRY(ch.ReadSome());
        if (Clock::now() >= deadline)
          return Fail(ErrorCode::kTimeout,
                      "the guest's agent did not answer on " + socket_path + " in time");
        continue;
      }
      auto f = ch.Receive(slice);
      if (f) {
        synced = true;
        json j = json::parse(f->payload, nullptr, false);
        bool ours = f->type == FrameType::kHello ||
                    (f->type == FrameType::kPong &&
                     (!j.is_object() || !j.contains("nonce") || j["nonce"] == nonce));
        if (ours) {
          bool forwards_stdin = j.is_object() && j.contains("stdin") && j["stdin"].is_boolean() &&
                                j["stdin"].get<bool>();
          return AgentClient(std::move(ch), forwards_stdin);
        }
        continue;  // a stale frame of an earlier session
      }
      if (f.error().code() == ErrorCode::kInvalidInput) {
        synced = false;  // stale bytes that begin mid-frame: look for this session's pong
        continue;
      }
      if (f.error().code() != ErrorCode::kTimeout) return Fail(std::move(f.error()));
      if (Clock::now() >= deadline)
        return Fail(ErrorCode::kTimeout,
                    "the guest's agent did not answer on " + socket_path + " in time");
      if (still_alive && !still_alive())
        return Fail(
            Error(ErrorCode::kSystem, "the guest ended before its agent answered", ECONNRESET));
    }
  }
}

}  // namespace silk::vmm
