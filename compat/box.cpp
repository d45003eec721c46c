// RunBox: prepares everything a box needs (filter, mount plan, cgroups, state), clones
// the box, configures it from the outside (id maps, cgroups, veth) while it waits, then
// supervises it until it exits and tears everything down.
#include "compat/box.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>

#include "base/log.hpp"
#include "compat/internal/caps.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/child.hpp"
#include "compat/internal/counted_learning.hpp"
#include "compat/internal/filter.hpp"
#include "compat/internal/idrange.hpp"
#include "compat/internal/mounts.hpp"
#include "compat/internal/namespaces.hpp"
#include "compat/internal/netlink.hpp"
#include "compat/internal/network.hpp"
#include "compat/internal/notify.hpp"
#include "compat/internal/state.hpp"
#include "compat/internal/stdio_relay.hpp"
#include "compat/internal/userns.hpp"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace silk::compat {
namespace {

using namespace internal;

std::string NewBoxId() {
  static std::atomic<unsigned> counter{0};
  return "b" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

// The box's init until it is reaped: SIGKILL + reap on destruction.
class BoxProcess {
 public:
  BoxProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ~BoxProcess() {
    if (!reaped_) {
      Kill();
      siginfo_t si{};
      waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &si, WEXITED);
    }
  }
  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  void Kill() { syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0); }
  // Blocks until the box's init exits; every other box process dies with it (pid
  // namespace). Returns the shell-style status.
  Result<int> Reap(int* term_signal) {
    siginfo_t si{};
    while (waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &si, WEXITED) != 0) {
      if (errno != EINTR) return FailErrno("waiting for the box");
    }
    reaped_ = true;
    if (si.si_code == CLD_EXITED) return si.si_status;
    *term_signal = si.si_status;
    return 128 + si.si_status;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

// The host end of the box's veth pair. The kernel removes the pair when the box's network
// namespace dies, but asynchronously (cleanup_net runs in a workqueue); delete it now so
// that nothing outlives RunBox.
class VethGuard {
 public:
  explicit VethGuard(std::string name) : name_(std::move(name)) {}
  ~VethGuard() {
    if (name_.empty()) return;
    if (auto nl = Netlink::Open()) (void)nl->DeleteLink(name_);
  }

 private:
  std::string name_;
};

// Everything the child reads, kept alive until it has exec'd.
struct ChildData {
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  std::vector<RlimitOp> rlimits;
  std::vector<char> exec_buf;
  std::string path;
  ChildPlan plan;
};

void BuildExecData(const BoxSpec& spec, ChildData& d) {
  d.argv_s.push_back(spec.command);
  d.argv_s.insert(d.argv_s.end(), spec.args.begin(), spec.args.end());
  d.env_s = spec.env;
  bool has_path = false;
  for (const auto& e : d.env_s)
    if (e.rfind("PATH=", 0) == 0) {
      has_path = true;
      d.path = e.substr(5);
    }
  if (!has_path) {
    d.env_s.push_back(std::string("PATH=") + kDefaultPath);
    d.path = kDefaultPath;
  }
  for (auto& s : d.argv_s) d.argv.push_back(s.data());
  d.argv.push_back(nullptr);
  for (auto& s : d.env_s) d.envp.push_back(s.data());
  d.envp.push_back(nullptr);
  d.exec_buf.resize(PATH_MAX + NAME_MAX + 2);
  for (const auto& r : spec.rlimits)
    d.rlimits.push_back({RlimitNumber(r.resource), r.soft, r.hard});
}

// Receives one message from the child: where its listener will be, an error report, or
// EOF (it exec'd or exited).
struct ChildMessage {
  enum Kind { kEof, kListenerAt, kError } kind = kEof;
  int listener_fd = -1;
  ChildReport report;
};

Result<ChildMessage> ReadChild(int sock) {
  ChildMessage m;
  char buf[std::max(sizeof(ChildReport), sizeof(ListenerAt))];
  ssize_t n;
  do n = recv(sock, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("reading from the box during setup");
  if (n == 0) return m;
  if (buf[0] == kMsgListenerAt && static_cast<size_t>(n) == sizeof(ListenerAt)) {
    ListenerAt at;
    memcpy(&at, buf, sizeof at);
    m.kind = ChildMessage::kListenerAt;
    m.listener_fd = at.fd;
    return m;
  }
  if (buf[0] != kMsgError || static_cast<size_t>(n) != sizeof(ChildReport))
    return Fail(ErrorCode::kInternal, "malformed message from the box during setup");
  m.kind = ChildMessage::kError;
  memcpy(&m.report, buf, sizeof m.report);
  return m;
}

// Takes the child's seccomp listener (fd `fd` in the child) with pidfd_getfd. Empty
// while the child has not installed its filter yet (EBADF).
Result<UniqueFd> TakeListener(int pidfd, int fd) {
  int got = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  if (got < 0) {
    if (errno == EBADF || errno == ESRCH) return UniqueFd();
    return FailErrno("taking the box's seccomp listener (pidfd_getfd; Linux 5.6+)");
  }
  UniqueFd listener(got);
  char link[64] = {};
  std::string self = "/proc/self/fd/" + std::to_string(got);
  if (readlink(self.c_str(), link, sizeof link - 1) < 0 ||
      std::string_view(link) != "anon_inode:seccomp notify")
    return Fail(ErrorCode::kInternal, "fd " + std::to_string(fd) +
                                          " of the box is not its seccomp listener (" + link + ")");
  return listener;
}

// A MAP_SHARED page for ChildHandoff, unmapped with the object.
class HandoffPage {
 public:
  static Result<HandoffPage> Create() {
    void* p = mmap(nullptr, sizeof(ChildHandoff), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return FailErrno("mapping the box's handoff page");
    return HandoffPage(new (p) ChildHandoff());
  }
  HandoffPage(HandoffPage&& o) noexcept : page_(std::exchange(o.page_, nullptr)) {}
  HandoffPage& operator=(HandoffPage&&) = delete;
  ~HandoffPage() {
    if (page_) munmap(page_, sizeof(ChildHandoff));
  }
  ChildHandoff* get() const { return page_; }

 private:
  explicit HandoffPage(ChildHandoff* p) : page_(p) {}
  ChildHandoff* page_;
};

std::string StageDescription(uint32_t stage, const MountPlanBuilder& mounts,
                             const std::string& staging) {
  if (stage >= kMountBase && stage - kMountBase < mounts.ops().size()) {
    const MountOp& op = mounts.ops()[stage - kMountBase];
    std::string target = op.target;
    if (target.rfind(staging, 0) == 0) target = target.substr(staging.size());
    if (target.empty()) target = "/";
    std::string src = op.source ? op.source : "";
    switch (op.kind) {
      case MountOpKind::kMkdir:
        return "creating mount point " + target + " in the box";
      case MountOpKind::kTouch:
        return "creating " + target + " in the box";
      case MountOpKind::kSymlink:
        return "creating symlink " + target + " -> " + src;
      case MountOpKind::kPivot:
        return "pivot_root into the new root";
      case MountOpKind::kUmount:
        return "detaching the staging mount " + target;
      case MountOpKind::kWriteFile:
        return "writing " + target;
      case MountOpKind::kRemountRo:
        return "remounting " + target + " read-only";
      case MountOpKind::kBindReadOnly:
        return "binding " + src + " read-only on " + target;
      case MountOpKind::kMount:
        return "mounting " + (op.fstype ? std::string(op.fstype) : "bind of " + src) + " on " +
               target;
    }
  }
  return ChildStageName(stage);
}

// Supervises the running box: answers notifications, honours stop_fd and the deadline,
// until init exits. Sets *timed_out when it killed the box for the deadline.
Result<void> Supervise(BoxProcess& box, int listener, NotifyHandler* handler, StdioRelay& relay,
                       int stop_fd, std::chrono::steady_clock::time_point deadline,
                       bool* timed_out) {
  bool killed = false;
  std::vector<pollfd> fds;
  for (;;) {
    int wait_ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max() && !killed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    fds = {{box.pidfd(), POLLIN, 0}, {listener, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    relay.AddPollFds(fds);
    int rc = poll(fds.data(), fds.size(), wait_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return FailErrno("poll in the box supervisor");
    }
    if (rc == 0) {  // deadline
      box.Kill();
      killed = true;
      *timed_out = true;
      continue;
    }
    if (fds[0].revents) return {};
    if (fds[2].revents) {
      box.Kill();
      return {};
    }
    if (fds[1].revents & POLLIN) {
      SILK_TRY(handler->HandleOne(listener));
    } else if (fds[1].revents) {
      listener = -1;  // every filter user is gone; init's exit comes next
    }
    relay.Handle(fds, 3);
  }
}

}  // namespace

std::string DefaultStateRoot() {
  if (geteuid() == 0) return "/run/silk/boxes";
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return std::string(xdg) + "/silk/boxes";
  return "/tmp/silk-" + std::to_string(geteuid()) + "/boxes";
}

Result<BoxOutcome> RunBox(const BoxSpec& spec, const RunOptions& options) {
  SILK_TRY(Validate(spec));
  const int stdio[3] = {options.stdin_fd < 0 ? 0 : options.stdin_fd,
                        options.stdout_fd < 0 ? 1 : options.stdout_fd,
                        options.stderr_fd < 0 ? 2 : options.stderr_fd};
  // Refuses a directory on stdin before anything is made.
  StdioRelay relay = SILK_TRY(StdioRelay::Create(stdio));
  const bool root = geteuid() == 0;
  // Every box gets a user namespace unless its spec says "never" (root only, weaker).
  const bool user_ns = spec.user_namespace != UserNamespaceMode::kNever;
  const std::string state_root =
      options.state_root.empty() ? DefaultStateRoot() : options.state_root;
  if (options.sweep_first) SILK_TRY(WithContext(SweepStaleBoxes(state_root), "startup sweep"));

  BoxOutcome out;
  out.box_id = options.box_id.empty() ? NewBoxId() : options.box_id;
  SILK_TRY(ValidateBoxId(out.box_id));

  // Everything that can fail for a reason the caller should fix comes first.
  const bool learning = options.observer != nullptr;
  std::shared_ptr<const BoxFilter> filter =
      SILK_TRY(learning ? PrepareLearningPolicy(spec, options.profile_dir)
                        : PrepareFilter(spec, options.profile_dir));
  BoxState state = SILK_TRY(BoxState::Create(state_root, out.box_id));
  auto mounts = SILK_TRY(MountPlanBuilder::Build(spec, state.root_dir()));

  // As root, box root is an unprivileged host uid of a range only this box holds (the
  // lease outlives the box: it is destroyed after the box is reaped), and that uid owns
  // the box's user namespace.
  std::optional<IdRangeLease> id_range;
  IdMaps maps;
  NamespaceOwner owner;
  if (user_ns) {
    uint32_t first_id = 0, count = kIdRangeSize;
    if (root && (spec.uid_map.empty() || spec.gid_map.empty())) {
      if (HostIdPoolMapped()) {
        id_range.emplace(SILK_TRY(IdRangeLease::Acquire(kIdRangeDir, out.box_id)));
        first_id = id_range->first_id();
        SILK_TRY(state.RecordIdRange(first_id, kIdRangeSize));
      } else {
        count = NestedIdCount();  // silk in a box: our own ids, inside our parent's
      }
    }
    maps = MapsFor(spec, geteuid(), getegid(), first_id, count);
    if (root) owner = {OwnerOf(maps.uid), OwnerOf(maps.gid)};
  }
  // The box's namespace is created by its own base uid (see CloneBox), which must reach
  // the box's state and root fs.
  const bool switch_owner = root && user_ns && (owner.uid != 0 || owner.gid != 0);
  if (switch_owner) {
    SILK_TRY(
        CheckSearchable(state.root_dir(), owner.uid, owner.gid, true, "the box's state directory"));
    if (!spec.rootfs.empty())
      SILK_TRY(CheckSearchable(spec.rootfs, owner.uid, owner.gid, true, "rootfs"));
  }

  CgroupLimits limits;
  limits.memory_max = spec.memory_max;
  limits.pids_max = (root || spec.pids_max != kDefaultPidsMax) ? spec.pids_max : 0;
  // As root every box gets a cpu cgroup, also at the default weight: shares are
  // relative among siblings, so all boxes must be siblings under silk/ for 1:3 to mean
  // 25%:75%. Unprivileged boxes need a cgroup only for a non-default weight.
  limits.cpu_weight = (root || spec.cpu_weight != 100) ? spec.cpu_weight : 0;
  limits.io_weight = spec.io_weight;
  std::unique_ptr<BoxCgroup> cgroup;
  if (root || !limits.Needed().empty()) {
    auto layout = SILK_TRY(CgroupLayout::Detect(options.cgroup2_mount));
    auto cg = BoxCgroup::Create(layout, out.box_id, limits, /*tracking=*/root,
                                [&state](const std::vector<std::string>& paths) {
                                  return state.RecordCgroups(paths);  // write-ahead
                                });
    if (!cg) {
      if (!root && cg.error().sys_errno() == EACCES)
        return Fail(Error(ErrorCode::kUnsupported,
                          "cgroup limits (memory, pids, cpu/io weight) need root or a "
                          "delegated cgroup; this user cannot create cgroups: " +
                              cg.error().ToString()));
      return Fail(std::move(cg.error()));
    }
    cgroup = std::move(*cg);
    SILK_TRY(state.RecordCgroups(cgroup->Paths()));
  }

  uint64_t keep = 0;
  for (const auto& c : spec.capabilities) keep |= 1ull << CapabilityNumber(c);
  if (spec.raw_sockets) keep |= 1ull << CapabilityNumber("CAP_NET_RAW");

  ChildData data;
  BuildExecData(spec, data);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return FailErrno("socketpair for the box");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  sock_fprog fprog = filter->compiled.Fprog();
  UniqueFd v2_dir = cgroup ? cgroup->OpenV2Dir() : UniqueFd();
  std::optional<CountedLearning> counting;
  if (learning) {
    counting.emplace(filter->effective.front(), *options.observer, v2_dir.get(),
                     options.count_in_kernel);
    out.counted_syscalls = counting->filter().counted().size();
    out.counting_unavailable = counting->unavailable();
    fprog = counting->filter().Fprog();
  }

  HandoffPage handoff = SILK_TRY(HandoffPage::Create());
  ChildPlan& p = data.plan;
  p.sync_fd = child_end.get();
  p.handoff = handoff.get();
  p.unshare_cgroup = true;
  p.hostname = spec.hostname.c_str();
  p.loopback_up = true;
  p.mounts = mounts.plan();
  p.cwd = spec.cwd.c_str();
  for (int i = 0; i < 3; ++i) p.stdio[i] = relay.box_end(i);
  p.set_ids = spec.uid != 0 || spec.gid != 0 || !user_ns;
  p.set_groups = !(user_ns && !root);
  p.uid = spec.uid;
  p.gid = spec.gid;
  // A root supervisor sets the limits from outside (prlimit, below): in its user
  // namespace the box could not raise a hard limit.
  const bool prlimit_outside = root && user_ns;
  p.rlimits = data.rlimits.data();
  p.rlimit_count = prlimit_outside ? 0 : data.rlimits.size();
  p.become_ns_root = switch_owner;
  p.keep_caps = keep;
  p.last_cap = LastCapability();
  p.filter = &fprog;
  p.install = policy::InstallOptionsFor(filter->compiled);
  if (learning) p.install.new_listener = true;
  p.command = spec.command.c_str();
  p.argv = data.argv.data();
  p.envp = data.envp.data();
  p.path = data.path.c_str();
  p.exec_buf = data.exec_buf.data();
  p.exec_buf_size = data.exec_buf.size();

  auto t0 = std::chrono::steady_clock::now();
  Cloned cloned =
      SILK_TRY(CloneBox(BoxCloneFlags(user_ns), v2_dir.get(), switch_owner ? &owner : nullptr));
  if (cloned.pid == 0) {
    close(parent_end.get());
    RunChild(p);
  }
  child_end.Reset();
  relay.CloseBoxEnds();
  BoxProcess box(cloned.pid, std::move(cloned.pidfd));

  // Configure the box from the outside while it waits for 'G'.
  if (user_ns) SILK_TRY(WriteIdMaps(box.pid(), maps));
  if (prlimit_outside) {
    for (const auto& r : data.rlimits) {
      rlimit rl{r.soft, r.hard};
      if (prlimit(box.pid(), static_cast<__rlimit_resource>(r.resource), &rl, nullptr) != 0)
        return FailErrno("setting the box's rlimit " + std::to_string(r.resource));
    }
  }
  if (cgroup) SILK_TRY(cgroup->AddProcess(box.pid(), v2_dir.valid()));
  std::optional<VethGuard> veth;
  if (spec.network.mode == NetworkMode::kVeth) {
    std::string host = HostVethName(out.box_id);
    SILK_TRY(state.RecordVeth(host));
    SILK_TRY(SetupVeth(box.pid(), spec.network, host));
    veth.emplace(host);
  }
  if (send(parent_end.get(), "G", 1, MSG_NOSIGNAL) != 1) return FailErrno("starting the box");

  UniqueFd listener;
  std::unique_ptr<NotifyHandler> handler;
  int listener_at = -1;  // announced by the child, not taken yet
  unsigned tries = 0;
  for (;;) {
    if (listener_at >= 0) {
      // The child spins after installing its filter until we hold the listener.
      listener = SILK_TRY(TakeListener(box.pidfd(), listener_at));
      if (listener) {
        listener_at = -1;
        // The box makes no syscall but execve from here on: count from now.
        if (counting) SILK_TRY(counting->Enable());
        handoff.get()->listener_taken.store(1, std::memory_order_release);
        handler = SILK_TRY(NotifyHandler::Create(&filter->effective, spec.raw_sockets,
                                                 spec.report_denials, options.observer, box.pid()));
        if (learning) {
          // Linux 6.6+: wake the supervisor on the caller's CPU, which roughly halves a
          // notification round trip (commit 48a1084a8b74). Older kernels refuse; harmless.
          (void)ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                      SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
        }
        continue;
      }
      // Not installed yet, or the child failed before: look for its report.
      pollfd pf = {parent_end.get(), POLLIN, 0};
      if (++tries < 64) sched_yield();
      if (poll(&pf, 1, tries < 64 ? 0 : 1) <= 0) continue;
    } else if (listener) {
      // Once the filter is in, execve may be notified (always in learning mode): answer
      // while waiting for the exec (EOF on the socket, which is CLOEXEC).
      pollfd fds[2] = {{parent_end.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("poll on the box during setup");
      }
      if (!fds[0].revents && (fds[1].revents & POLLIN)) {
        SILK_TRY(handler->HandleOne(listener.get()));
        continue;
      }
    }
    ChildMessage m = SILK_TRY(ReadChild(parent_end.get()));
    if (m.kind == ChildMessage::kListenerAt) {
      listener_at = m.listener_fd;
      continue;
    }
    if (m.kind == ChildMessage::kEof) {
      const int err = handoff.get()->exec_errno.load(std::memory_order_acquire);
      if (err == 0) break;  // exec'd (or killed: the reap below tells)
      int term = 0;
      (void)box.Reap(&term);
      if (handler) out.denials = handler->TakeReport();
      out.exit_status = err == ENOENT ? 127 : 126;
      out.exec_failure =
          "'" + spec.command + "': " +
          (err == ENOENT ? std::string("command not found in the box (PATH=") + data.path + ")"
                         : std::string(strerror(err)));
      return out;
    }
    // An error report before the filter: the child _exit()s after it.
    if (listener) box.Kill();
    int term = 0;
    (void)box.Reap(&term);
    const ChildReport& r = m.report;
    return Fail(Error(ErrorCode::kSystem,
                      "box setup failed " + StageDescription(r.stage, mounts, state.root_dir()),
                      r.err));
  }
  parent_end.Reset();

  auto deadline = options.timeout_ms ? t0 + std::chrono::milliseconds(options.timeout_ms)
                                     : std::chrono::steady_clock::time_point::max();
  SILK_TRY(Supervise(box, listener ? listener.get() : -1, handler.get(), relay, options.stop_fd,
                     deadline, &out.timed_out));
  // Init is gone and every box process with it: what their pipes hold comes at once.
  relay.Drain(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  out.exit_status = SILK_TRY(box.Reap(&out.term_signal));
  out.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (handler) {
    handler->Finish();
    out.denials = handler->TakeReport();
  }
  if (counting) SILK_TRY(counting->Report(handler.get(), *options.observer));
  if (cgroup) SILK_TRY(WithContext(cgroup->Destroy(), "removing the box's cgroups"));
  return out;
}

Result<SweepReport> SweepStaleBoxes(const std::string& state_root_in) {
  std::string state_root = state_root_in.empty() ? DefaultStateRoot() : state_root_in;
  SweepReport rep;
  DIR* d = opendir(state_root.c_str());
  if (!d) {
    if (errno == ENOENT) return rep;
    return FailErrno("opening " + state_root);
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  for (const auto& n : names) {
    bool swept = SILK_TRY(WithContext(SweepBoxDir(state_root + "/" + n), "sweeping box " + n));
    if (swept) rep.reclaimed.push_back(n);
  }
  return rep;
}

}  // namespace silk::compat
