#include "base/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "base/strings.hpp"

extern char** environ;

namespace silk {

namespace {

// One fd the child gets: `src` (the parent's) becomes `dst` in the child. `tmp` is the
// child's scratch copy above every dst, so that no dup2 clobbers a later source.
struct FdMap {
  int src;
  int dst;
  int tmp;
};

enum class Stage : int { kNone = 0, kFds, kCwd, kExec };

// Everything the child needs, built by the parent before clone: the child allocates
// nothing. `err`/`stage` are written by the child and read by the parent once clone has
// returned (CLONE_VFORK: the parent sleeps until the child execs or exits, and the two
// share memory until then).
struct ChildArgs {
  char* const* argv;
  char* const* envp;
  const char* const* candidates;  // full paths execve tries, in order
  size_t candidate_count;
  const char* cwd;  // nullptr = stay
  FdMap* maps;
  size_t map_count;
  const int* sorted_dsts;  // the dsts, ascending, unique
  int high;                // max dst + 1
  int fd_limit;            // for the close() loop when close_range(2) is missing
  int err;
  Stage stage;
};

// Closes fds lo..hi in the child (close_range(2), Linux 5.9; a close() loop up to the
// fd limit where it is missing).
__attribute__((no_sanitize("address", "undefined"))) void CloseRange(unsigned lo, unsigned hi,
                                                                     int fd_limit) {
  if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
  unsigned top = std::min(hi, static_cast<unsigned>(fd_limit));
  for (unsigned fd = lo; fd <= top && fd >= lo; ++fd) ::close(static_cast<int>(fd));
}

// Runs in the child between clone and execve: raw system calls only. Not instrumented
// (it runs on its own stack in the parent's memory).
__attribute__((no_sanitize("address", "undefined"))) int ChildMain(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  // The parent's handlers must not run here (they would run on this stack, in the
  // parent's memory); and what the parent ignores (SIGPIPE) is not the child's business.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);

  for (size_t i = 0; i < a->map_count; ++i) {
    FdMap& m = a->maps[i];
    m.tmp = -1;
    if (m.src < 0) continue;
    m.tmp = ::fcntl(m.src, F_DUPFD_CLOEXEC, a->high);
    if (m.tmp < 0) {
      // An inherited stdio fd the parent does not have stays closed in the child.
      if (errno == EBADF && m.src == m.dst && m.dst <= 2) continue;
      a->err = errno;
      a->stage = Stage::kFds;
      _exit(127);
    }
  }
  for (size_t i = 0; i < a->map_count; ++i) {
    const FdMap& m = a->maps[i];
    if (m.tmp >= 0 && ::dup2(m.tmp, m.dst) < 0) {  // dup2 clears FD_CLOEXEC on dst
      a->err = errno;
      a->stage = Stage::kFds;
      _exit(127);
    }
  }
  // Close everything else, whether or not it has O_CLOEXEC (close_range(2), Linux 5.9).
  unsigned next = 0;
  for (size_t i = 0; i < a->map_count; ++i) {
    unsigned dst = static_cast<unsigned>(a->sorted_dsts[i]);
    if (dst > next) CloseRange(next, dst - 1, a->fd_limit);
    next = dst + 1;
  }
  CloseRange(next, ~0U, a->fd_limit);

  if (a->cwd != nullptr && ::chdir(a->cwd) != 0) {
    a->err = errno;
    a->stage = Stage::kCwd;
    _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // execvp(3)'s search: go on past "not here" errors, remember EACCES, stop at others.
  bool saw_eacces = false;
  int last = ENOENT;
  for (size_t i = 0; i < a->candidate_count; ++i) {
    ::execve(a->candidates[i], a->argv, a->envp);
    last = errno;
    if (last == EACCES) {
      saw_eacces = true;
      continue;
    }
    if (last == ENOENT || last == ENOTDIR || last == ESTALE || last == ENODEV || last == ETIMEDOUT)
      continue;
    break;
  }
  a->err = saw_eacces && (last == ENOENT || last == ENOTDIR) ? EACCES : last;
  a->stage = Stage::kExec;
  _exit(127);
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

std::string NameOf(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// The child's environment, as SpawnOptions describes it.
std::vector<std::string> ChildEnvironment(const SpawnOptions& o) {
  std::vector<std::string> env;
  if (!o.clear_env)
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  auto drop = [&env](const std::string& name) {
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& e) { return NameOf(e) == name; }),
              env.end());
  };
  for (const auto& name : o.unset_env) drop(name);
  for (const auto& [name, value] : o.set_env) {
    drop(name);
    env.push_back(name + "=" + value);
  }
  return env;
}

int RemainingMs(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), INT_MAX));
}

ExitStatus StatusOf(const siginfo_t& si) {
  ExitStatus s;
  if (si.si_code == CLD_EXITED)
    s.code = si.si_status;
  else
    s.signal = si.si_status;
  return s;
}

// Reaps the (exited or about to exit) child behind `pidfd`, blocking.
Result<ExitStatus> Reap(int pidfd) {
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED) != 0) {
    if (errno != EINTR) return FailErrno("waitid(P_PIDFD)");
  }
  return StatusOf(si);
}

class StackMapping {
 public:
  static constexpr size_t kSize = 128 * 1024;
  StackMapping()
      : base_(::mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)) {}
  ~StackMapping() {
    if (base_ != MAP_FAILED) ::munmap(base_, kSize);
  }
  bool ok() const { return base_ != MAP_FAILED; }
  void* top() const { return static_cast<char*>(base_) + kSize; }

 private:
  void* base_;
};

}  // namespace

std::optional<int> ShellStatusForSpawnError(const Error& error) {
  if (error.code() == ErrorCode::kNotFound) return kShellNotFound;
  if (error.code() == ErrorCode::kDenied) return kShellCannotExecute;
  return std::nullopt;
}

std::string ExitStatus::Describe() const {
  if (signal == 0) return "exit status " + std::to_string(code);
  const char* what = ::sigdescr_np(signal);
  return "killed by signal " + std::to_string(signal) +
         (what ? std::string(" (") + what + ")" : "");
}

Result<ChildProcess> ChildProcess::Spawn(const SpawnOptions& o) {
  if (o.argv.empty() || o.argv[0].empty())
    return Fail(ErrorCode::kInvalidInput, "cannot run a command with an empty argv");
  const std::string& prog = o.argv[0];
  for (const auto& a : o.argv)
    if (HasNul(a))
      return Fail(ErrorCode::kInvalidInput,
                  "cannot run " + prog + ": an argument holds a NUL byte");
  std::vector<std::string> env = ChildEnvironment(o);
  for (const auto& e : env)
    if (HasNul(e) || e.find('=') == std::string::npos || e[0] == '=')
      return Fail(ErrorCode::kInvalidInput, "cannot run " + prog + ": bad environment entry '" +
                                                NameOf(e) + "' (a NUL byte, or no NAME=)");

  // PATH lookup in the child's PATH, never the parent's.
  std::vector<std::string> candidates;
  std::string search;
  if (prog.find('/') != std::string::npos) {
    candidates.push_back(prog);
  } else {
    search = kDefaultSearchPath;
    for (const auto& e : env)
      if (e.rfind("PATH=", 0) == 0) search = e.substr(5);
    for (const std::string& dir : Split(search, ':'))
      candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + prog);
  }

  ChildProcess child;
  child.name_ = prog;
  UniqueFd dev_null;
  UniqueFd child_ends[3];
  Stdio stdio[3] = {o.in, o.out, o.err};
  std::vector<FdMap> maps;
  for (int i = 0; i < 3; ++i) {
    int src = i;
    switch (stdio[i].kind) {
      case Stdio::Kind::kInherit:
        break;
      case Stdio::Kind::kNull:
        if (!dev_null) {
          dev_null.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
          if (!dev_null) return FailErrno("cannot run " + prog + ": opening /dev/null");
        }
        src = dev_null.get();
        break;
      case Stdio::Kind::kPipe: {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return FailErrno("cannot run " + prog + ": pipe");
        UniqueFd r(p[0]), w(p[1]);
        child_ends[i] = i == 0 ? std::move(r) : std::move(w);
        (i == 0   ? child.in_
         : i == 1 ? child.out_
                  : child.err_) = i == 0 ? std::move(w) : std::move(r);
        src = child_ends[i].get();
        break;
      }
      case Stdio::Kind::kFd:
        if (stdio[i].fd < 0)
          return Fail(ErrorCode::kInvalidInput, "cannot run " + prog + ": negative fd for stdio");
        src = stdio[i].fd;
        break;
    }
    maps.push_back({src, i, -1});
  }
  for (const auto& [src, dst] : o.extra_fds) {
    if (src < 0 || dst < 3)
      return Fail(ErrorCode::kInvalidInput, "cannot run " + prog + ": extra fd " +
                                                std::to_string(src) + " -> " + std::to_string(dst) +
                                                " (the child's number must be 3 or more)");
    maps.push_back({src, dst, -1});
  }
  std::vector<int> dsts;
  for (const auto& m : maps) dsts.push_back(m.dst);
  std::sort(dsts.begin(), dsts.end());
  if (std::adjacent_find(dsts.begin(), dsts.end()) != dsts.end())
    return Fail(ErrorCode::kInvalidInput, "cannot run " + prog + ": two fds for the same child fd");

  std::vector<char*> argv, envp;
  std::vector<const char*> cands;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (const auto& c : candidates) cands.push_back(c.c_str());
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);

  ChildArgs args{};
  args.argv = argv.data();
  args.envp = envp.data();
  args.candidates = cands.data();
  args.candidate_count = cands.size();
  args.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  args.maps = maps.data();
  args.map_count = maps.size();
  args.sorted_dsts = dsts.data();
  args.high = dsts.back() + 1;
  args.fd_limit = static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20));

  StackMapping stack;
  if (!stack.ok()) return FailErrno("cannot run " + prog + ": mmap for the child's stack");
  // Every signal blocked across clone: no handler of the parent may run on the child's
  // stack before the child has reset them.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid = ::clone(ChildMain, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args,
                      &pidfd);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return FailErrno("cannot run " + prog + ": clone", clone_errno);
  child.pid_ = pid;
  child.pidfd_.Reset(pidfd);
  if (args.stage == Stage::kNone) return child;

  // The child failed before execve and has exited (127): reap it, report why.
  child.KillAndReap();
  int err = args.err;
  switch (args.stage) {
    case Stage::kFds:
      return Fail(
          Error(ErrorCode::kInvalidInput, "cannot run " + prog + ": setting up its fds", err));
    case Stage::kCwd:
      return Fail(Error(ErrorCode::kInvalidInput,
                        "cannot run " + prog + ": cannot change to the working directory " + o.cwd,
                        err));
    default:
      break;
  }
  if (err == ENOENT || err == ENOTDIR) {
    std::string where = search.empty() ? "" : " (searched PATH=" + search + ")";
    return Fail(Error(ErrorCode::kNotFound, "cannot run " + prog + ": not found" + where, err));
  }
  return Fail(Error(ErrorCode::kDenied, "cannot run " + prog + ": found but not executable", err));
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      name_(std::move(other.name_)),
      in_(std::move(other.in_)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    name_ = std::move(other.name_);
    in_ = std::move(other.in_);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() noexcept {
  if (pid_ < 0 || !pidfd_) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  (void)Reap(pidfd_.get());
  pid_ = -1;
  pidfd_.Reset();
}

Result<ExitStatus> ChildProcess::Wait(Deadline deadline) {
  if (pid_ < 0) return Fail(ErrorCode::kInternal, name_ + ": the child was reaped already");
  pollfd pfd{pidfd_.get(), POLLIN, 0};
  for (;;) {
    int r = ::poll(&pfd, 1, RemainingMs(deadline));
    if (r > 0) break;
    if (r == 0)
      return Fail(ErrorCode::kTimeout,
                  name_ + " (pid " + std::to_string(pid_) + ") did not exit in time");
    if (errno != EINTR) return FailErrno("waiting for " + name_ + ": poll on its pidfd");
  }
  ExitStatus status = SILK_TRY(WithContext(Reap(pidfd_.get()), "reaping " + name_));
  pid_ = -1;
  pidfd_.Reset();
  return status;
}

Result<void> ChildProcess::Signal(int sig) {
  if (pid_ < 0)
    return Fail(Error(ErrorCode::kSystem, name_ + ": the child was reaped already", ESRCH));
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) != 0)
    return FailErrno("signalling " + name_ + " (pidfd_send_signal)");
  return {};
}

Result<ExitStatus> ChildProcess::Kill() {
  if (pid_ < 0) return Fail(ErrorCode::kInternal, name_ + ": the child was reaped already");
  // ESRCH here only means it has exited and waits to be reaped.
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  ExitStatus status = SILK_TRY(WithContext(Reap(pidfd_.get()), "reaping " + name_));
  pid_ = -1;
  pidfd_.Reset();
  return status;
}

Result<ExitStatus> ChildProcess::Stream(const OutputChunkSink& out, const OutputChunkSink& err,
                                        Deadline deadline) {
  // Every way out before the child is reaped kills and reaps it first.
  auto fail = [this](Error e) -> Result<ExitStatus> {
    KillAndReap();
    return Fail(std::move(e));
  };
  UniqueFd* pipes[2] = {&out_, &err_};
  const OutputChunkSink* sinks[2] = {&out, &err};
  char buf[65536];
  for (;;) {
    pollfd fds[2];
    int idx[2];
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i) {
      if (!*pipes[i]) continue;
      fds[n] = {pipes[i]->get(), POLLIN, 0};
      idx[n++] = i;
    }
    if (n == 0) break;
    int r = ::poll(fds, n, RemainingMs(deadline));
    if (r == 0) return fail(Error(ErrorCode::kTimeout, name_ + " did not finish in time (killed)"));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(Error(ErrorCode::kSystem, "reading the output of " + name_ + ": poll", errno));
    }
    for (nfds_t k = 0; k < n; ++k) {
      if (fds[k].revents == 0) continue;
      int i = idx[k];
      ssize_t got = ::read(fds[k].fd, buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return fail(Error(ErrorCode::kSystem, "reading the output of " + name_, errno));
      }
      if (got == 0) {
        pipes[i]->Reset();
        continue;
      }
      if (*sinks[i]) {
        auto sent = (*sinks[i])(std::string_view(buf, static_cast<size_t>(got)));
        if (!sent) return fail(std::move(sent).error());
      }
    }
  }
  auto status = Wait(deadline);
  if (!status && status.error().code() == ErrorCode::kTimeout)
    return fail(Error(ErrorCode::kTimeout, name_ + " did not finish in time (killed)"));
  if (!status) return fail(std::move(status).error());
  return status;
}

Result<CapturedOutput> ChildProcess::Capture(Deadline deadline, size_t max_bytes) {
  CapturedOutput c;
  auto into = [&c, max_bytes](std::string& s) {
    return [&c, &s, max_bytes](std::string_view d) -> Result<void> {
      size_t room = max_bytes - std::min(max_bytes, s.size());
      if (d.size() > room) c.truncated = true;
      s.append(d.substr(0, room));
      return {};
    };
  };
  c.status = SILK_TRY(Stream(into(c.out), into(c.err), deadline));
  return c;
}

Result<CapturedOutput> RunAndCapture(SpawnOptions options, Deadline deadline) {
  options.out = Stdio::Pipe();
  options.err = Stdio::Pipe();
  ChildProcess child = SILK_TRY(ChildProcess::Spawn(options));
  return child.Capture(deadline);
}

}  // namespace silk
