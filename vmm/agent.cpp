#include "vmm/agent.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

// Runs one command; streams its output over `ch`; returns after sending 'X' or 'F'.
Result<void> RunCommand(FramedChannel& ch, const json& req) {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env_add;
  std::string cwd = "/";
  try {
    for (const auto& a : req.at("argv")) argv.push_back(a.get<std::string>());
    if (req.contains("env"))
      for (const auto& [k, v] : req.at("env").items())
        env_add.emplace_back(k, v.get<std::string>());
    if (req.contains("cwd")) cwd = req.at("cwd").get<std::string>();
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
  o.in = Stdio::Null();
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
  // A send that fails (the host went away) ends the stream: Stream() kills and reaps the
  // command before returning the error.
  auto forward = [&ch](FrameType type) {
    return [&ch, type](std::string_view chunk) { return ch.Send(type, std::string(chunk)); };
  };
  ExitStatus status =
      SILK_TRY(child->Stream(forward(FrameType::kStdout), forward(FrameType::kStderr)));
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

Result<void> ServeAgent(FramedChannel& ch) {
  SILK_TRY(ch.Send(FrameType::kHello, Json({{"version", SILK_VERSION}, {"pid", ::getpid()}})));
  for (;;) {
    Frame f = SILK_TRY(ch.Receive());
    switch (f.type) {
      case FrameType::kPing: {
        struct sysinfo si;
        long uptime = ::sysinfo(&si) == 0 ? si.uptime : -1;
        SILK_TRY(
            ch.Send(FrameType::kPong, Json({{"version", SILK_VERSION}, {"uptime_s", uptime}})));
        break;
      }
      case FrameType::kRun: {
        json req = json::parse(f.payload, nullptr, /*allow_exceptions=*/false);
        if (req.is_discarded() || !req.is_object()) {
          SILK_TRY(
              ch.Send(FrameType::kFailure, Json({{"error", "run request is not a JSON object"}})));
          break;
        }
        SILK_TRY(RunCommand(ch, req));
        break;
      }
      case FrameType::kPowerOff:
        ::sync();
        if (::getpid() == 1) {
          ::reboot(RB_POWER_OFF);
          return FailErrno("agent: power-off failed");
        }
        return {};
      default:
        break;  // not for the agent
    }
  }
}

}  // namespace silk::vmm
