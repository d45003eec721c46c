#include "vmm/agent.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/file.hpp"
#include "base/sleep.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "base/unique_fd.hpp"
#include "vmm/channel.hpp"

namespace silk::vmm {

namespace {

using json = nlohmann::json;

constexpr char kPortDir[] = "/dev/virtio-ports/";
// The command's PATH when the agent has none (as PID 1 the kernel gives it none).
constexpr char kGuestPath[] = "/usr/sbin:/usr/bin:/sbin:/bin";

Result<std::string> FindPortByName(const std::string& name, const std::string& sysfs_root,
                                   const std::string& dev_root) {
  std::string dir = sysfs_root + "/class/virtio-ports";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Fail(ErrorCode::kNotFound, dir + ": no virtio-serial ports");
  std::string found;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto n = ReadFile(dir + "/" + e->d_name + "/name");
    if (n && Trim(*n) == name) {
      found = dev_root + "/" + e->d_name;
      break;
    }
  }
  ::closedir(d);
  if (found.empty())
    return Fail(ErrorCode::kNotFound, "no virtio-serial port named '" + name + "'");
  return found;
}

std::string Json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// How much of the host's stdin the agent holds for a command that has not read it yet;
// past it the agent stops reading the channel and the host waits.
constexpr size_t kStdinWindow = 256 * 1024;

// Relays a started command: its stdout and stderr to the host as frames (blocking sends:
// the host reads whenever frames come), the host's stdin frames to its stdin (when
// `stdin` is the pipe's end; a non-blocking write, buffered up to kStdinWindow), until
// the command has exited and both outputs reached end of file. Stdin that is still
// coming then is dropped. A failed send or the channel's hangup (the host went away)
// kills and reaps the command.
Result<ExitStatus> Relay(FramedChannel& ch, ChildProcess& child, std::string* new_session_ping) {
  auto fail = [&child](Error e) -> Result<ExitStatus> {
    (void)child.Kill();
    return Fail(std::move(e));
  };
  UniqueFd& in = child.stdin_pipe();
  const bool relay_stdin = static_cast<bool>(in);
  if (relay_stdin) {
    int flags = ::fcntl(in.get(), F_GETFL);
    if (flags < 0 || ::fcntl(in.get(), F_SETFL, flags | O_NONBLOCK) != 0)
      return fail(
          Error(ErrorCode::kSystem, "agent: making the command's stdin non-blocking", errno));
  }
  std::string in_buf;
  bool in_eof = false, exited = false;
  UniqueFd* outputs[2] = {&child.stdout_pipe(), &child.stderr_pipe()};
  const FrameType types[2] = {FrameType::kStdout, FrameType::kStderr};
  char buf[65536];
  for (;;) {
    Frame f;
    for (;;) {
      auto next = ch.NextBuffered(&f);
      if (!next) return fail(next.error());
      if (!*next) break;
      if (f.type == FrameType::kPing && ch.hangup_is_transient()) {
        // A host pings only to open a session: this is a new host, so the one that ran
        // the command went away (its hangup may never have been seen here). Its ping is
        // answered once the command is gone.
        *new_session_ping = f.payload;
        return fail(Error(ErrorCode::kSystem,
                          "control channel: a new host session began during the command",
                          ECONNRESET));
      }
      if (f.type == FrameType::kStdin) {
        if (in) in_buf += f.payload;
      } else if (f.type == FrameType::kStdinEnd) {
        in_eof = true;
      }  // anything else is not for a running command
    }
    if (in && in_eof && in_buf.empty()) in.Reset();
    if (exited && !*outputs[0] && !*outputs[1]) break;

    pollfd fds[5];
    int what[5];  // 0, 1: outputs; 2: pidfd; 3: stdin; 4: channel
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i)
      if (*outputs[i]) {
        fds[n] = {outputs[i]->get(), POLLIN, 0};
        what[n++] = i;
      }
    if (!exited) {
      fds[n] = {child.pidfd(), POLLIN, 0};
      what[n++] = 2;
    }
    if (in && !in_buf.empty()) {
      fds[n] = {in.get(), POLLOUT, 0};
      what[n++] = 3;
    }
    // The channel is always watched: its hangup (the host went away: Ctrl-C of `silk vm
    // exec`) ends the session and the command; its frames are read only for stdin.
    fds[n] = {ch.fd(),
              static_cast<short>(!relay_stdin || in_buf.size() < kStdinWindow ? POLLIN : 0), 0};
    what[n++] = 4;
    int r = ::poll(fds, n, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(Error(ErrorCode::kSystem, "agent: poll", errno));
    }
    for (nfds_t k = 0; k < n; ++k) {
      if (fds[k].revents == 0) continue;
      switch (what[k]) {
        case 0:
        case 1: {
          ssize_t got = ::read(fds[k].fd, buf, sizeof buf);
          if (got < 0 && (errno == EINTR || errno == EAGAIN)) break;
          if (got <= 0) {
            outputs[what[k]]->Reset();
            break;
          }
          if (auto sent = ch.Send(types[what[k]], std::string(buf, static_cast<size_t>(got)));
              !sent)
            return fail(sent.error());
          break;
        }
        case 2:
          exited = true;
          break;
        case 3: {
          ssize_t put = ::write(in.get(), in_buf.data(), in_buf.size());
          if (put > 0) {
            in_buf.erase(0, static_cast<size_t>(put));
          } else if (put < 0 && errno != EINTR && errno != EAGAIN) {
            in.Reset();  // EPIPE: the command closed its stdin; the rest is dropped
            in_buf.clear();
          }
          break;
        }
        case 4:
          if (fds[k].revents & POLLIN) {
            if (auto got = ch.ReadSome(); !got) return fail(got.error());
          } else if (ch.hangup_is_transient()) {
            // Virtio-serial: POLLHUP once no host side is connected any more.
            return fail(Error(ErrorCode::kSystem,
                              "control channel: the host side went away during the command",
                              ECONNRESET));
          } else {
            // A socket: reading gives its end of file, or its error.
            if (auto got = ch.ReadSome(); !got) return fail(got.error());
          }
          break;
      }
    }
  }
  auto status = child.Wait();
  if (!status) return fail(status.error());
  return status;
}

// Runs one command; streams its output over `ch`; returns after sending 'X' or 'F'.
Result<void> RunCommand(FramedChannel& ch, const json& req, std::string* new_session_ping) {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env_add;
  std::string cwd = "/";
  bool with_stdin = false;
  try {
    for (const auto& a : req.at("argv")) argv.push_back(a.get<std::string>());
    if (req.contains("env"))
      for (const auto& [k, v] : req.at("env").items())
        env_add.emplace_back(k, v.get<std::string>());
    if (req.contains("cwd")) cwd = req.at("cwd").get<std::string>();
    if (req.contains("stdin")) with_stdin = req.at("stdin").get<bool>();
  } catch (const json::exception& e) {
    return ch.Send(FrameType::kFailure,
                   Json({{"error", std::string("bad run request: ") + e.what()}}));
  }
  if (argv.empty())
    return ch.Send(FrameType::kFailure, Json({{"error", "run request: empty argv"}}));

  // The command's environment is the agent's plus what the request sets; PATH lookup
  // uses the command's PATH. Nothing of it touches the agent's own environment.
  SpawnOptions o;
  o.argv = std::move(argv);
  o.cwd = cwd;
  o.in = with_stdin ? Stdio::Pipe() : Stdio::Null();
  o.out = Stdio::Pipe();
  o.err = Stdio::Pipe();
  if (::getenv("PATH") == nullptr) o.set_env.emplace_back("PATH", kGuestPath);
  for (auto& kv : env_add) o.set_env.push_back(std::move(kv));
  auto child = ChildProcess::Spawn(o);
  if (!child) {
    // Found-but-not-executable and not-found carry the shell's status, so that the host
    // can tell them from a failure of the agent itself.
    json failure = {{"error", child.error().ToString()}};
    if (auto status = ShellStatusForSpawnError(child.error())) failure["status"] = *status;
    return ch.Send(FrameType::kFailure, Json(failure));
  }
  // A send that fails (the host went away) ends the relay: the command is killed and
  // reaped before the error returns.
  ExitStatus status = SILK_TRY(Relay(ch, *child, new_session_ping));
  // As PID 1 the agent also inherits orphans: reap whatever else has exited.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  return ch.Send(FrameType::kExit,
                 Json({{"status", status.ShellStatus()}, {"signal", status.signal}}));
}

}  // namespace

Result<std::string> ResolveVirtioPort(const std::string& port_path, int wait_ms,
                                      const std::string& sysfs_root, const std::string& dev_root) {
  for (int waited = 0;; waited += 50) {
    struct stat st;
    if (::stat(port_path.c_str(), &st) == 0) return port_path;
    if (port_path.rfind(kPortDir, 0) == 0) {
      auto dev = FindPortByName(port_path.substr(sizeof(kPortDir) - 1), sysfs_root, dev_root);
      if (dev && ::stat(dev->c_str(), &st) == 0) return *dev;
    }
    if (waited >= wait_ms) break;
    SleepFor(std::chrono::milliseconds(50));
  }
  return Fail(ErrorCode::kNotFound,
              port_path +
                  ": no such virtio-serial port (is virtio_console loaded, and does the "
                  "domain have a channel with this name?)");
}

Result<void> MakeRootPivotable() {
  // The visible root is the last mountinfo entry mounted on "/"; only the initramfs
  // itself (type "rootfs") needs this. After a switch_root / is a normal mount.
  auto mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo) return {};
  std::string root_type;
  for (const std::string& line : Split(*mountinfo, '\n')) {
    auto fields = Split(line, ' ');
    if (fields.size() < 5 || fields[4] != "/") continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    root_type = Split(line.substr(dash + 3), ' ')[0];
  }
  if (root_type != "rootfs") return {};
  auto cmdline = ReadFile("/proc/cmdline");
  if (!cmdline || cmdline->find("silk.agent=") == std::string::npos) return {};
  constexpr char kDir[] = "/.silk-root";
  if (::mkdir(kDir, 0700) != 0 && errno != EEXIST) return FailErrno("agent: mkdir /.silk-root");
  if (::mount("/", kDir, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return FailErrno("agent: bind-mounting / on /.silk-root");
  if (::chdir(kDir) != 0) return FailErrno("agent: chdir /.silk-root");
  if (::mount(kDir, "/", nullptr, MS_MOVE, nullptr) != 0)
    return FailErrno("agent: moving /.silk-root onto /");
  if (::chroot(".") != 0) return FailErrno("agent: chroot");
  if (::chdir("/") != 0) return FailErrno("agent: chdir /");
  return {};
}

Result<void> RunAgent(const std::string& port_path) {
  SILK_TRY(MakeRootPivotable());
  std::string dev = SILK_TRY(ResolveVirtioPort(port_path));
  UniqueFd fd(::open(dev.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!fd) return FailErrno("agent: cannot open " + dev);
  FramedChannel ch(std::move(fd), /*hangup_is_transient=*/true);
  return ServeAgent(ch);
}

namespace {

// Serves one frame; false after a power-off request. A ping of a new host that ended the
// running command's session is left in `new_session_ping`. Errors: the channel's (and
// RunCommand's).
Result<bool> ServeFrame(FramedChannel& ch, const Frame& f, std::string* new_session_ping) {
  switch (f.type) {
    case FrameType::kPing: {
      struct sysinfo si;
      long uptime = ::sysinfo(&si) == 0 ? si.uptime : -1;
      json pong = {{"version", SILK_VERSION}, {"uptime_s", uptime}, {"stdin", true}};
      // The host's nonce comes back first in the payload (json's keys are sorted), so that
      // a host can find this pong in a stream with stale bytes before it (channel.hpp).
      json ping = json::parse(f.payload, nullptr, false);
      if (ping.is_object() && ping.contains("nonce") && ping["nonce"].is_string())
        pong["nonce"] = ping["nonce"];
      SILK_TRY(ch.Send(FrameType::kPong, Json(pong)));
      return true;
    }
    case FrameType::kRun: {
      json req = json::parse(f.payload, nullptr, /*allow_exceptions=*/false);
      if (req.is_discarded() || !req.is_object()) {
        SILK_TRY(
            ch.Send(FrameType::kFailure, Json({{"error", "run request is not a JSON object"}})));
        return true;
      }
      SILK_TRY(RunCommand(ch, req, new_session_ping));
      return true;
    }
    case FrameType::kPowerOff:
      ::sync();
      if (::getpid() == 1) {
        ::reboot(RB_POWER_OFF);
        return FailErrno("agent: power-off failed");
      }
      return false;
    default:
      return true;  // not for the agent
  }
}

}  // namespace

Result<void> ServeAgent(FramedChannel& ch) {
  // A command that closes its stdin early makes the relay's write fail with EPIPE, not
  // kill the agent (commands start with default dispositions, ChildProcess resets them).
  ::signal(SIGPIPE, SIG_IGN);
  // The hello waits for the first host side (the blocking port's write).
  SILK_TRY(ch.Send(FrameType::kHello,
                   Json({{"version", SILK_VERSION}, {"pid", ::getpid()}, {"stdin", true}})));
  if (ch.hangup_is_transient()) {
    // A VM that lives serves one host session after another: from now on a send to a
    // host side that went away fails (and ends its session) instead of blocking until
    // the next host connects.
    int flags = ::fcntl(ch.fd(), F_GETFL);
    if (flags < 0 || ::fcntl(ch.fd(), F_SETFL, flags | O_NONBLOCK) != 0)
      return FailErrno("agent: making the control port non-blocking");
  }
  std::string new_session_ping;
  for (;;) {
    auto served = ch.Receive().and_then(
        [&ch, &new_session_ping](Frame f) { return ServeFrame(ch, f, &new_session_ping); });
    if (served) {
      if (!*served) return {};
      continue;
    }
    // In a guest the host side comes and goes: its leaving (or a stream it left corrupt)
    // ends only its session. Over a socket it ends the agent.
    if (!ch.hangup_is_transient() || served.error().code() == ErrorCode::kInternal)
      return Fail(std::move(served.error()));
    ch.ResetSession();
    if (!new_session_ping.empty()) {
      Frame ping{FrameType::kPing, std::move(new_session_ping)};
      new_session_ping.clear();
      (void)ServeFrame(ch, ping, &new_session_ping);  // its failure is its session's end
      continue;
    }
    SleepFor(std::chrono::milliseconds(20));  // never a hot loop on a lasting failure
  }
}

}  // namespace silk::vmm
