#include "vmm/agent.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
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
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "vmm/channel.hpp"

extern char** environ;

namespace silk::vmm {

namespace {

using json = nlohmann::json;

constexpr char kPortDir[] = "/dev/virtio-ports/";

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

void SleepMs(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string Json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Runs one command; streams its output over `ch`; returns after sending 'X' or 'F'.
Result<void> RunCommand(FramedChannel& ch, const json& req) {
  std::vector<std::string> argv;
  std::vector<std::string> env_add;
  std::string cwd = "/";
  try {
    for (const auto& a : req.at("argv")) argv.push_back(a.get<std::string>());
    if (req.contains("env"))
      for (const auto& [k, v] : req.at("env").items())
        env_add.push_back(k + "=" + v.get<std::string>());
    if (req.contains("cwd")) cwd = req.at("cwd").get<std::string>();
  } catch (const json::exception& e) {
    return ch.Send(FrameType::kFailure,
                   Json({{"error", std::string("bad run request: ") + e.what()}}));
  }
  if (argv.empty())
    return ch.Send(FrameType::kFailure, Json({{"error", "run request: empty argv"}}));

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return FailErrno("agent: pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return FailErrno("agent: pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  // Everything the child needs is built before posix_spawn: it allocates nothing after.
  std::vector<std::string> env_strs;
  bool has_path = false;
  for (char** e = environ; *e != nullptr; ++e) {
    env_strs.emplace_back(*e);
    if (env_strs.back().rfind("PATH=", 0) == 0) has_path = true;
  }
  if (!has_path) env_strs.emplace_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  for (auto& e : env_add) env_strs.push_back(e);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env_strs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = -1;
  // posix_spawnp searches PATH of the *parent*; make it the child's.
  if (!has_path) setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
  int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  if (!has_path) unsetenv("PATH");
  posix_spawn_file_actions_destroy(&fa);
  out_w.Reset();
  err_w.Reset();
  if (rc != 0) {
    std::string msg = "cannot run '" + argv[0] + "': " + std::string(strerror(rc));
    return ch.Send(FrameType::kFailure, Json({{"error", msg}}));
  }

  pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  int open_count = 2;
  char buf[32768];
  while (open_count > 0) {
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return FailErrno("agent: poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      SILK_TRY(ch.Send(i == 0 ? FrameType::kStdout : FrameType::kStderr,
                       std::string(buf, static_cast<size_t>(n))));
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return FailErrno("agent: waitpid");
  }
  // As PID 1 the agent also inherits orphans: reap whatever else has exited.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  int code = 0, sig = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
  }
  return ch.Send(FrameType::kExit, Json({{"status", code}, {"signal", sig}}));
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
    SleepMs(50);
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
