#include "layers/syscall_recorder.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <unordered_map>

#include "base/unique_fd.hpp"
#include "policy/effective.hpp"
#include "policy/syscalls.hpp"

// Linux 6.6: wake the supervisor on the waking CPU, which roughly halves the cost of a
// notification round trip (commit 48a1084a8b74). Older kernels reject it; harmless.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace silk::layers {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kX32Bit = 0x40000000u;

// Shared between the recorder and its child (MAP_SHARED), written by the child between
// clone and execve without any syscall, so the filter is already active when the
// recorder learns the listener's number.
struct Handshake {
  std::atomic<int> listener_fd{-1};
  std::atomic<int> failed_step{0};  // a Step, when the child gave up before execve
  std::atomic<int> failed_errno{0};
};
enum Step : int {
  kNone = 0,
  kPdeathsig,
  kMounts,
  kLoopback,
  kChdir,
  kStdio,
  kNoNewPrivs,
  kSeccomp,
  kExec
};
const char* StepName(int s) {
  switch (s) {
    case kPdeathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case kMounts:
      return "mounting a private /tmp";
    case kLoopback:
      return "bringing up lo";
    case kChdir:
      return "chdir to the working directory";
    case kStdio:
      return "redirecting stdio";
    case kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case kSeccomp:
      return "installing the recording seccomp filter";
    case kExec:
      return "execve";
  }
  return "?";
}

struct ChildArgs {
  Handshake* hs;
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];
  bool isolate;
  sock_fprog* prog;
};

[[noreturn]] void ChildFail(Handshake* hs, Step step) {
  hs->failed_errno.store(errno);
  hs->failed_step.store(step);
  _exit(step == kExec ? (errno == ENOENT ? 127 : 126) : 125);
}

// Runs in the child between clone and execve: no allocation, no logging.
[[noreturn]] void ChildMain(const ChildArgs& a) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(a.hs, kPdeathsig);
  if (a.isolate) {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m") != 0)
      ChildFail(a.hs, kMounts);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) ChildFail(a.hs, kLoopback);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) ChildFail(a.hs, kLoopback);
    close(s);
  }
  if (chdir(a.cwd) != 0) ChildFail(a.hs, kChdir);
  for (int i = 0; i < 3; ++i)
    if (a.stdio[i] >= 0 && dup2(a.stdio[i], i) < 0) ChildFail(a.hs, kStdio);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(a.hs, kNoNewPrivs);
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, a.prog);
  if (fd < 0) ChildFail(a.hs, kSeccomp);
  // From here on every syscall waits for the recorder, which picks the listener up
  // with pidfd_getfd once it sees this store.
  a.hs->listener_fd.store(static_cast<int>(fd));
  execve(a.path, a.argv, a.envp);
  ChildFail(a.hs, kExec);
}

std::string FindOnPath(const std::string& cmd, const std::vector<std::string>& env) {
  if (cmd.find('/') != std::string::npos) return cmd;
  std::string path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + cmd;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

// Per-architecture verdicts and names, cached for the hot path.
class ArchTable {
 public:
  explicit ArchTable(const policy::Profile& parent) : parent_(parent) {}

  struct Entry {
    std::string arch_name;
    policy::ArchToken token = 0;
    Result<policy::EffectivePolicy> effective =
        tl::unexpected<Error>(Error(ErrorCode::kNotFound, "architecture not in the parent"));
    std::unordered_map<int, std::string> names;
  };

  Entry& For(uint32_t audit_arch, int nr) {
    policy::ArchToken token = audit_arch;
    if (audit_arch == policy::NativeArch() && (static_cast<uint32_t>(nr) & kX32Bit)) {
      auto x32 = policy::ParseArch("x32");
      if (x32) token = *x32;
    }
    auto it = by_token_.find(token);
    if (it != by_token_.end()) return it->second;
    Entry& e = by_token_[token];
    e.token = token;
    e.arch_name = policy::ArchName(token);
    bool listed = parent_.architectures.empty() && token == policy::NativeArch();
    for (const auto& a : parent_.architectures) listed = listed || a == e.arch_name;
    if (listed) e.effective = policy::MakeEffective(parent_, e.arch_name);
    return e;
  }

  const std::string& Name(Entry& e, int nr) {
    auto it = e.names.find(nr);
    if (it != e.names.end()) return it->second;
    auto name = policy::SyscallName(nr, e.token);
    return e.names[nr] = name ? *name : "syscall_" + std::to_string(nr);
  }

 private:
  const policy::Profile& parent_;
  std::map<policy::ArchToken, Entry> by_token_;
};

// Answers one notification. Returns false when the listener is gone.
void Serve(int listener, ArchTable& table, policy::Observations& obs) {
  seccomp_notif req{};
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;  // ENOENT: target died
  const int nr = req.data.nr;
  auto& entry = table.For(req.data.arch, nr);
  const std::string& name = table.Name(entry, nr);
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
  obs.pids.insert(static_cast<pid_t>(req.pid));

  policy::Verdict verdict;  // unknown architecture: denied like the kernel filter would
  verdict.action = policy::Action::kKillProcess;
  if (entry.effective) verdict = entry.effective->Evaluate(nr, args);

  seccomp_notif_resp resp{};
  resp.id = req.id;
  using policy::Action;
  switch (verdict.action) {
    case Action::kAllow:
    case Action::kLog:
    case Action::kNotify:  // the box's supervisor decides those; learning lets them run
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      obs.AddAllowed(entry.arch_name, nr, name, args);
      break;
    case Action::kErrno:
      resp.error = -static_cast<int>(verdict.errno_ret);
      obs.AddDenied(entry.arch_name, nr, name, args, req.pid, verdict);
      break;
    case Action::kTrace:  // no tracer: the kernel would return ENOSYS
      resp.error = -ENOSYS;
      obs.AddDenied(entry.arch_name, nr, name, args, req.pid, verdict);
      break;
    default:  // kill/trap: recorded; the call fails instead of killing the recorder's view
      resp.error = -EPERM;
      obs.AddDenied(entry.arch_name, nr, name, args, req.pid, verdict);
      break;
  }
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the task died meanwhile
}

int StatusFromSiginfo(const siginfo_t& si, int* term_signal) {
  if (si.si_code == CLD_EXITED) return si.si_status;
  *term_signal = si.si_status;
  return 128 + si.si_status;
}

}  // namespace

Result<RecordOutcome> RecordSyscalls(const RecordSpec& spec, const policy::Profile& parent) {
  if (spec.argv.empty()) return Fail(ErrorCode::kInvalidInput, "learn: no command given");
  RecordOutcome out;
  const auto t0 = Clock::now();

  std::vector<std::string> env = spec.env;
  if (env.empty())
    env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp", "LANG=C.UTF-8"};
  std::string path = FindOnPath(spec.argv[0], env);
  if (path.empty()) {
    out.exit_status = 127;
    out.exec_failure = "command '" + spec.argv[0] + "' not found on PATH";
    return out;
  }

  // Everything the child needs, prepared before clone.
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  sock_filter insn[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)};
  sock_fprog prog{1, insn};
  void* page =
      mmap(nullptr, sizeof(Handshake), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return FailErrno("learn: mmap of the handshake page");
  auto* hs = new (page) Handshake();
  struct Unmap {
    void* p;
    ~Unmap() { munmap(p, sizeof(Handshake)); }
  } unmap{page};

  ChildArgs ca{hs,
               path.c_str(),
               argv.data(),
               envp.data(),
               spec.cwd.c_str(),
               {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd},
               spec.isolate,
               &prog};
  int pidfd_raw = -1;
  clone_args cl{};
  cl.flags = CLONE_PIDFD;
  if (spec.isolate)
    cl.flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  cl.pidfd = reinterpret_cast<uint64_t>(&pidfd_raw);
  cl.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &cl, sizeof cl);
  if (pid < 0) return FailErrno("learn: clone3 of the workload");
  if (pid == 0) ChildMain(ca);
  UniqueFd pidfd(pidfd_raw);

  auto kill_child = [&] { syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0); };
  auto reap = [&]() -> Result<void> {
    siginfo_t si{};
    while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd.get(), &si, WEXITED) != 0) {
      if (errno != EINTR) return FailErrno("learn: waitid for the workload");
    }
    out.exit_status = StatusFromSiginfo(si, &out.term_signal);
    return {};
  };
  const auto deadline =
      t0 + std::chrono::microseconds(static_cast<int64_t>(spec.timeout_seconds * 1e6));
  auto ms_left = [&]() -> int {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
  };

  // Wait for the child to install the filter (or to give up).
  UniqueFd listener;
  while (true) {
    int fd = hs->listener_fd.load();
    if (fd >= 0) {
      listener.Reset(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
      if (!listener) {
        int err = errno;
        kill_child();
        (void)reap();
        return FailErrno("learn: pidfd_getfd of the seccomp listener", err);
      }
      break;
    }
    pollfd p{pidfd.get(), POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {  // exited before execve
      SILK_TRY(reap());
      int step = hs->failed_step.load();
      if (step == kSeccomp && hs->failed_errno.load() == EINVAL)
        return Fail(ErrorCode::kUnsupported,
                    "learn: this kernel has no seccomp user notification (Linux >= 5.0)");
      return FailErrno(std::string("learn: workload setup failed at ") + StepName(step),
                       hs->failed_errno.load());
    }
    if (ms_left() == 0) {
      kill_child();
      (void)reap();
      out.timed_out = true;
      return out;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  (void)ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);

  ArchTable table(parent);
  bool killed = false;
  while (true) {
    pollfd fds[2] = {{listener.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int n = poll(fds, 2, killed ? -1 : ms_left());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      kill_child();
      (void)reap();
      return FailErrno("learn: poll on the seccomp listener", err);
    }
    if (n == 0) {  // timeout: SIGKILL to pid 1 of the namespace takes every process
      out.timed_out = true;
      killed = true;
      kill_child();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      Serve(listener.get(), table, out.observations);
      continue;
    }
    if (fds[1].revents & POLLIN) break;  // the workload's first process exited
    if (fds[0].revents & (POLLHUP | POLLERR)) {
      // No task uses the filter any more; the first process is about to be reaped.
      fds[0].fd = -1;
      pollfd p{pidfd.get(), POLLIN, 0};
      (void)poll(&p, 1, -1);
      break;
    }
  }
  SILK_TRY(reap());
  if (hs->failed_step.load() == kExec) {
    out.exec_failure = "execve '" + path + "': " + std::strerror(hs->failed_errno.load());
  }
  out.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return out;
}

}  // namespace silk::layers
