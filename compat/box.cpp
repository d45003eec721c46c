// RunBox: prepares everything a box needs (filter, mount plan, cgroups, state), clones
// the box, configures it from the outside (id maps, cgroups, veth) while it waits, then
// supervises it until it exits and tears everything down.
#include "compat/box.hpp"

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
#include "base/strings.hpp"
#include "compat/internal/caps.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/child.hpp"
#include "compat/internal/counted_learning.hpp"
#include "compat/internal/fault_gate.hpp"
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
#include "compat/internal/volume.hpp"

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
  UniqueFd gate;     // kListenerAt: the child's fault gate, when it has one
  pid_t sender = 0;  // the sending process, as the kernel says (SO_PASSCRED), host pid
  ChildReport report;
};

Result<ChildMessage> ReadChild(int sock) {
  ChildMessage m;
  char buf[std::max(sizeof(ChildReport), sizeof(ListenerAt))];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))];
  iovec iov = {buf, sizeof buf};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      m.sender = cred.pid;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
               c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      m.gate.Reset(fd);
    }
  }
  if (n < 0) return FailErrno("reading from the box during setup");
  if (n == 0) return m;
  if (buf[0] == kMsgListenerAt && static_cast<size_t>(n) == sizeof(ListenerAt)) {
    ListenerAt at;
    memcpy(&at, buf, sizeof at);
    m.kind = ChildMessage::kListenerAt;
    m.listener_fd = at.fd;
    if (at.gated && !m.gate)
      return Fail(ErrorCode::kInternal, "the box announced its gate without passing it");
    if (!at.gated) m.gate.Reset();
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
      case MountOpKind::kMoveMount:
        return "mounting the box's volume on " + target;
    }
  }
  return ChildStageName(stage);
}

// Supervises the running box: answers notifications, honours stop_fd and the deadline,
// until init exits. Sets *timed_out when it killed the box for the deadline.
Result<void> SuperviseBox(BoxProcess& box, int listener, NotifyHandler* handler, StdioRelay& relay,
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

namespace {

// One box's run, phase by phase: Prepare (everything that can fail for a reason the
// caller should fix, and every host resource, recorded before it is made), Launch (clone,
// configure from the outside, 'G'), AwaitExec (the handoff of the seccomp listener until
// the command is exec'd), Supervise, TearDown. Members are declared in the order they
// are made, so they are destroyed in reverse: the box is killed and reaped before its
// veth, cgroups, id range and state go.
class BoxRun {
 public:
  // `relay`: the caller's stdio, or empty for RunOptions::log_output (made in Prepare).
  BoxRun(const BoxSpec& spec, const RunOptions& options, std::optional<StdioRelay> relay)
      : spec_(spec), options_(options), relay_(std::move(relay)) {}

  // Every phase, and the named box's record at each step.
  Result<BoxOutcome> Run();
  // A named box that silk failed while it lived: its record says exited, with why.
  void RecordFailure(const Error& error);

 private:
  Result<void> Prepare();
  Result<void> Launch();
  // True once the command runs; false when it could not be exec'd (out_ says why).
  Result<bool> AwaitExec();
  Result<void> Supervise();
  Result<BoxOutcome> TearDown();

  Result<void> PrepareIds();
  Result<void> PrepareLog();
  // The named box's record (RunOptions::persistent), once it is created.
  bool recording() const { return state_ && state_->kept(); }
  Result<void> RecordCreated();
  Result<void> RecordEnd();
  Result<void> PrepareCgroup();
  Result<void> PrepareVolume();
  void PlanChild();
  Result<void> TakeTheListener(int listener_at, pid_t holder);
  BoxOutcome ExecFailed(int err);

  const BoxSpec& spec_;
  const RunOptions& options_;
  UniqueFd log_;  // <state dir>/output.log (log_output)
  std::optional<StdioRelay> relay_;
  BoxRecord record_;
  bool let_go_ = true;  // false when on_created said the box is not to start
  const bool root_ = geteuid() == 0;
  // Every box gets a user namespace unless its spec says "never" (root only, weaker).
  const bool user_ns_ = spec_.user_namespace != UserNamespaceMode::kNever;
  const bool learning_ = options_.observer != nullptr;
  // silk's init as pid 1 (BoxSpec::init), never in learning boxes: its own syscalls
  // would be counted as the workload's.
  const bool run_init_ = spec_.init && !learning_;
  BoxOutcome out_;
  std::shared_ptr<const BoxFilter> filter_;
  std::optional<BoxState> state_;
  // The box's volume at /data (BoxSpec::disk_max): its image outlives the box when named.
  std::optional<BoxVolume> volume_;
  std::optional<MountPlanBuilder> mounts_;
  // As root, box root is an unprivileged host uid of a range only this box holds (the
  // lease outlives the box: it is destroyed after the box is reaped), and that uid owns
  // the box's user namespace.
  std::optional<IdRangeLease> id_range_;
  IdMaps maps_;
  NamespaceOwner owner_;
  bool switch_owner_ = false;
  std::unique_ptr<BoxCgroup> cgroup_;
  ChildData data_;
  UniqueFd parent_end_, child_end_;
  sock_fprog fprog_{};
  UniqueFd v2_dir_;
  std::optional<CountedLearning> counting_;
  std::optional<HandoffPage> handoff_;
  // A root supervisor sets the limits from outside (prlimit): in its user namespace the
  // box could not raise a hard limit.
  const bool prlimit_outside_ = root_ && user_ns_;
  std::chrono::steady_clock::time_point t0_;
  std::optional<BoxProcess> box_;
  std::optional<VethGuard> veth_;
  UniqueFd command_pidfd_;  // the process that installs the filter and execs, under init
  UniqueFd listener_;
  std::unique_ptr<NotifyHandler> handler_;
};

Result<void> BoxRun::Prepare() {
  const std::string state_root =
      options_.state_root.empty() ? DefaultStateRoot() : options_.state_root;
  if (options_.sweep_first) SILK_TRY(WithContext(SweepStaleBoxes(state_root), "startup sweep"));
  out_.box_id = options_.box_id.empty() ? NewBoxId() : options_.box_id;
  SILK_TRY(ValidateBoxId(out_.box_id));
  filter_ = SILK_TRY(learning_ ? PrepareLearningPolicy(spec_, options_.profile_dir)
                               : PrepareFilter(spec_, options_.profile_dir));
  state_.emplace(SILK_TRY(BoxState::Create(state_root, out_.box_id, options_.persistent)));
  if (!relay_) SILK_TRY(PrepareLog());
  mounts_.emplace(SILK_TRY(MountPlanBuilder::Build(spec_, state_->root_dir())));
  SILK_TRY(PrepareIds());
  SILK_TRY(PrepareVolume());
  SILK_TRY(PrepareCgroup());
  BuildExecData(spec_, data_);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return FailErrno("socketpair for the box");
  parent_end_ = UniqueFd(sv[0]);
  child_end_ = UniqueFd(sv[1]);
  // Messages carry their sender's pid: under silk's init, the listener is the command's.
  int on = 1;
  if (setsockopt(parent_end_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    return FailErrno("SO_PASSCRED on the box's socket");
  fprog_ = filter_->compiled.Fprog();
  v2_dir_ = cgroup_ ? cgroup_->OpenV2Dir() : UniqueFd();
  if (learning_) {
    counting_.emplace(filter_->effective.front(), *options_.observer, v2_dir_.get(),
                      options_.count_in_kernel);
    out_.counted_syscalls = counting_->filter().counted().size();
    out_.counting_unavailable = counting_->unavailable();
    fprog_ = counting_->filter().Fprog();
  }
  handoff_.emplace(SILK_TRY(HandoffPage::Create()));
  PlanChild();
  return {};
}

Result<void> BoxRun::PrepareLog() {
  const std::string path = state_->dir() + "/output.log";
  log_ = UniqueFd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!log_) return FailErrno("creating the box's log " + path);
  const int stdio[3] = {options_.stdin_fd < 0 ? 0 : options_.stdin_fd, log_.get(), log_.get()};
  relay_.emplace(SILK_TRY(StdioRelay::Create(stdio)));
  relay_->LimitFileOutput(options_.log_max_bytes);
  return {};
}

Result<void> BoxRun::PrepareIds() {
  if (!user_ns_) return {};
  uint32_t first_id = 0, count = kIdRangeSize;
  if (root_ && (spec_.uid_map.empty() || spec_.gid_map.empty())) {
    if (HostIdPoolMapped()) {
      id_range_.emplace(SILK_TRY(IdRangeLease::Acquire(kIdRangeDir, out_.box_id)));
      first_id = id_range_->first_id();
      SILK_TRY(state_->RecordIdRange(first_id, kIdRangeSize));
    } else {
      count = NestedIdCount();  // silk in a box: our own ids, inside our parent's
    }
  }
  maps_ = MapsFor(spec_, geteuid(), getegid(), first_id, count);
  if (root_) owner_ = {OwnerOf(maps_.uid), OwnerOf(maps_.gid)};
  // The box's namespace is created by its own base uid (see CloneBox), which must reach
  // the box's state and root fs.
  switch_owner_ = root_ && (owner_.uid != 0 || owner_.gid != 0);
  if (switch_owner_) {
    SILK_TRY(CheckSearchable(state_->root_dir(), owner_.uid, owner_.gid, true,
                             "the box's state directory"));
    if (!spec_.rootfs.empty())
      SILK_TRY(CheckSearchable(spec_.rootfs, owner_.uid, owner_.gid, true, "rootfs"));
  }
  return {};
}

// The volume (BoxSpec::disk_max), which the mount plan moves onto /data; its root
// belongs to the command's user (the host ids the box's maps give it).
Result<void> BoxRun::PrepareVolume() {
  if (spec_.disk_max == 0) return {};
  VolumeRequest req;
  req.root = options_.volume_root.empty() ? kDefaultVolumeRoot : options_.volume_root;
  req.box_id = out_.box_id;
  req.size = spec_.disk_max;
  req.owner_uid = user_ns_ ? HostIdOf(maps_.uid, spec_.uid) : spec_.uid;
  req.owner_gid = user_ns_ ? HostIdOf(maps_.gid, spec_.gid) : spec_.gid;
  BoxState& state = *state_;
  volume_.emplace(SILK_TRY(BoxVolume::Create(
      req, [&state](const std::string& image) { return state.RecordVolume(image); })));
  mounts_->SetVolumeFd(volume_->mount_fd());
  return {};
}

Result<void> BoxRun::PrepareCgroup() {
  CgroupLimits limits;
  limits.memory_max = spec_.memory_max;
  limits.pids_max = (root_ || spec_.pids_max != kDefaultPidsMax) ? spec_.pids_max : 0;
  // As root every box gets a cpu cgroup, also at the default weight: shares are
  // relative among siblings, so all boxes must be siblings under silk/ for 1:3 to mean
  // 25%:75%. Unprivileged boxes need a cgroup only for a non-default weight.
  limits.cpu_weight = (root_ || spec_.cpu_weight != 100) ? spec_.cpu_weight : 0;
  limits.io_weight = spec_.io_weight;
  if (!root_ && limits.Needed().empty()) return {};
  auto layout = SILK_TRY(CgroupLayout::Detect(options_.cgroup2_mount));
  BoxState& state = *state_;
  auto cg = BoxCgroup::Create(layout, out_.box_id, limits, /*tracking=*/root_,
                              [&state](const std::vector<std::string>& paths) {
                                return state.RecordCgroups(paths);  // write-ahead
                              });
  if (!cg) {
    if (!root_ && cg.error().sys_errno() == EACCES)
      return Fail(Error(ErrorCode::kUnsupported,
                        "cgroup limits (memory, pids, cpu/io weight) need root or a "
                        "delegated cgroup; this user cannot create cgroups: " +
                            cg.error().ToString()));
    return Fail(std::move(cg.error()));
  }
  cgroup_ = std::move(*cg);
  return state_->RecordCgroups(cgroup_->Paths());
}

// The child's whole plan: it reads only this (and data_) between clone and execve.
void BoxRun::PlanChild() {
  uint64_t keep = 0;
  for (const auto& c : spec_.capabilities) keep |= 1ull << CapabilityNumber(c);
  if (spec_.raw_sockets) keep |= 1ull << CapabilityNumber("CAP_NET_RAW");
  ChildPlan& p = data_.plan;
  p.sync_fd = child_end_.get();
  p.handoff = handoff_->get();
  p.unshare_cgroup = true;
  p.hostname = spec_.hostname.c_str();
  p.loopback_up = true;
  p.mounts = mounts_->plan();
  p.cwd = spec_.cwd.c_str();
  for (int i = 0; i < 3; ++i) p.stdio[i] = relay_->box_end(i);
  p.set_ids = spec_.uid != 0 || spec_.gid != 0 || !user_ns_;
  p.set_groups = !(user_ns_ && !root_);
  p.uid = spec_.uid;
  p.gid = spec_.gid;
  p.rlimits = data_.rlimits.data();
  p.rlimit_count = prlimit_outside_ ? 0 : data_.rlimits.size();
  p.become_ns_root = switch_owner_;
  p.run_init = run_init_;
  p.keep_caps = keep;
  p.last_cap = LastCapability();
  p.filter = &fprog_;
  p.install = policy::InstallOptionsFor(filter_->compiled);
  if (learning_) p.install.new_listener = true;
  p.command = spec_.command.c_str();
  p.argv = data_.argv.data();
  p.envp = data_.envp.data();
  p.path = data_.path.c_str();
  p.exec_buf = data_.exec_buf.data();
  p.exec_buf_size = data_.exec_buf.size();
}

Result<void> BoxRun::Launch() {
  t0_ = std::chrono::steady_clock::now();
  Cloned cloned =
      SILK_TRY(CloneBox(BoxCloneFlags(user_ns_), v2_dir_.get(), switch_owner_ ? &owner_ : nullptr));
  if (cloned.pid == 0) {
    close(parent_end_.get());
    RunChild(data_.plan);
  }
  child_end_.Reset();
  relay_->CloseBoxEnds();
  box_.emplace(cloned.pid, std::move(cloned.pidfd));

  // Configure the box from the outside while it waits for 'G'.
  if (user_ns_) SILK_TRY(WriteIdMaps(box_->pid(), maps_));
  if (prlimit_outside_) {
    for (const auto& r : data_.rlimits) {
      rlimit rl{r.soft, r.hard};
      if (prlimit(box_->pid(), static_cast<__rlimit_resource>(r.resource), &rl, nullptr) != 0)
        return FailErrno("setting the box's rlimit " + std::to_string(r.resource));
    }
  }
  if (cgroup_) SILK_TRY(cgroup_->AddProcess(box_->pid(), v2_dir_.valid()));
  if (spec_.network.mode == NetworkMode::kVeth) {
    std::string host = HostVethName(out_.box_id);
    SILK_TRY(state_->RecordVeth(host));
    SILK_TRY(SetupVeth(box_->pid(), spec_.network, host));
    veth_.emplace(host);
  }
  if (options_.persistent) SILK_TRY(RecordCreated());
  if (options_.on_created) let_go_ = SILK_TRY(options_.on_created(record_, box_->pidfd()));
  // Not let go (it died while created): AwaitExec sees its end.
  if (let_go_ && send(parent_end_.get(), "G", 1, MSG_NOSIGNAL) != 1)
    return FailErrno("starting the box");
  return {};
}

Result<void> BoxRun::RecordCreated() {
  record_.name = out_.box_id;
  record_.status = BoxStatus::kCreated;
  record_.supervisor_pid = getpid();
  record_.supervisor_start = ProcessStartTime(record_.supervisor_pid);
  record_.init_pid = box_->pid();
  record_.init_start = ProcessStartTime(box_->pid());
  record_.created_at = UtcTimestamp();
  if (cgroup_) record_.cgroups = cgroup_->Paths();
  SILK_TRY(state_->RecordStatus(BoxRecordToJson(record_)));
  // From here on the box has a name until `silk box delete`.
  state_->Keep();
  if (volume_) volume_->Keep();  // until `silk box delete`
  return {};
}

Result<void> BoxRun::RecordEnd() {
  if (!recording()) return {};
  record_.status = BoxStatus::kExited;
  record_.finished_at = UtcTimestamp();
  record_.exit_status = out_.exit_status;
  record_.term_signal = out_.term_signal;
  record_.oom_killed = out_.oom_killed;
  record_.exec_failure = out_.exec_failure;
  return state_->RecordStatus(BoxRecordToJson(record_));
}

void BoxRun::RecordFailure(const Error& error) {
  if (!recording()) return;
  record_.status = BoxStatus::kExited;
  record_.finished_at = UtcTimestamp();
  record_.exit_status = 125;
  record_.error = error.ToString();
  (void)state_->RecordStatus(BoxRecordToJson(record_));
}

Result<BoxOutcome> BoxRun::Run() {
  SILK_TRY(Prepare());
  SILK_TRY(Launch());
  if (!SILK_TRY(AwaitExec())) {
    SILK_TRY(RecordEnd());
    return out_;
  }
  if (recording()) {
    record_.status = BoxStatus::kRunning;
    record_.started_at = UtcTimestamp();
    SILK_TRY(state_->RecordStatus(BoxRecordToJson(record_)));
  }
  if (options_.on_running) options_.on_running(record_);
  SILK_TRY(Supervise());
  SILK_TRY(TearDown());
  if (log_ && relay_->dropped() > 0) {
    std::string note = "[silk: the log reached its limit of " + FormatSize(options_.log_max_bytes) +
                       "; " + std::to_string(relay_->dropped()) +
                       " bytes of output were dropped]\n";
    (void)!write(log_.get(), note.data(), note.size());
  }
  SILK_TRY(RecordEnd());
  return out_;
}

// Takes the listener that process `holder` (the box's init, or the command under silk's
// init) announced at fd `listener_at`; leaves listener_ empty while the filter is not
// installed yet.
Result<void> BoxRun::TakeTheListener(int listener_at, pid_t holder) {
  int pidfd = box_->pidfd();
  if (holder != box_->pid()) {
    if (!command_pidfd_) {
      command_pidfd_ = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, holder, 0)));
      if (!command_pidfd_) return FailErrno("pidfd_open of the box's command");
    }
    pidfd = command_pidfd_.get();
  }
  listener_ = SILK_TRY(TakeListener(pidfd, listener_at));
  if (!listener_) return {};
  // The box makes no syscall but execve from here on: count from now.
  if (counting_) SILK_TRY(counting_->Enable());
  handoff_->get()->listener_taken.store(1, std::memory_order_release);
  handler_ = SILK_TRY(NotifyHandler::Create(&filter_->effective, spec_.raw_sockets,
                                            spec_.report_denials, options_.observer, holder));
  if (learning_) {
    // Linux 6.6+: wake the supervisor on the caller's CPU, which roughly halves a
    // notification round trip (commit 48a1084a8b74). Older kernels refuse; harmless.
    (void)ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  }
  return {};
}

BoxOutcome BoxRun::ExecFailed(int err) {
  int term = 0;
  (void)box_->Reap(&term);
  if (handler_) out_.denials = handler_->TakeReport();
  out_.exit_status = err == ENOENT ? 127 : 126;
  out_.exec_failure =
      "'" + spec_.command + "': " +
      (err == ENOENT ? std::string("command not found in the box (PATH=") + data_.path + ")"
                     : std::string(strerror(err)));
  return out_;
}

Result<bool> BoxRun::AwaitExec() {
  int listener_at = -1;           // announced by the child, not taken yet
  pid_t holder = 0;               // who announced it
  std::optional<FaultGate> gate;  // where it waits for us after its seccomp() call
  unsigned tries = 0;
  for (;;) {
    if (listener_at >= 0 && gate) {
      // The child announced the fd before its seccomp() call and, filtered, can make no
      // other syscall than execve: it says "installed" by faulting at its gate, where
      // it sleeps until we hold the listener.
      pollfd fds[2] = {{parent_end_.get(), POLLIN, 0}, {gate->fd(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("poll on the box during setup");
      }
      if (!fds[0].revents) {
        if (!SILK_TRY(gate->Reached())) continue;
        SILK_TRY(TakeTheListener(listener_at, holder));
        if (!listener_)
          return Fail(ErrorCode::kInternal, "the box reached its gate without a seccomp listener");
        SILK_TRY(gate->Open());
        gate.reset();
        listener_at = -1;
        continue;
      }
    } else if (listener_at >= 0) {
      // No gate (no userfaultfd here): the child spins on the handoff page until we
      // hold the listener; we retry for the one seccomp() call's duration (yield
      // first, then 1 ms polls that also catch its error report).
      SILK_TRY(TakeTheListener(listener_at, holder));
      if (listener_) {
        listener_at = -1;
        continue;
      }
      pollfd pf = {parent_end_.get(), POLLIN, 0};
      if (++tries < 64) sched_yield();
      if (poll(&pf, 1, tries < 64 ? 0 : 1) <= 0) continue;
    } else if (listener_) {
      // Once the filter is in, execve may be notified (always in learning mode): answer
      // while waiting for the exec (EOF on the socket, which is CLOEXEC).
      pollfd fds[2] = {{parent_end_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("poll on the box during setup");
      }
      if (!fds[0].revents && (fds[1].revents & POLLIN)) {
        SILK_TRY(handler_->HandleOne(listener_.get()));
        continue;
      }
    }
    ChildMessage m = SILK_TRY(ReadChild(parent_end_.get()));
    if (m.kind == ChildMessage::kListenerAt) {
      if (m.sender <= 0)
        return Fail(ErrorCode::kInternal, "the box announced its listener without credentials");
      listener_at = m.listener_fd;
      holder = m.sender;
      if (m.gate) gate = SILK_TRY(FaultGate::Adopt(std::move(m.gate)));
      continue;
    }
    if (m.kind == ChildMessage::kEof) {
      const int err = handoff_->get()->exec_errno.load(std::memory_order_acquire);
      if (err == 0) break;  // exec'd (or killed: the reap tells)
      out_ = ExecFailed(err);
      return false;
    }
    // An error report before the filter: the child _exit()s after it.
    if (listener_) box_->Kill();
    int term = 0;
    (void)box_->Reap(&term);
    const ChildReport& r = m.report;
    return Fail(Error(ErrorCode::kSystem,
                      "box setup failed " + StageDescription(r.stage, *mounts_, state_->root_dir()),
                      r.err));
  }
  parent_end_.Reset();
  return true;
}

Result<void> BoxRun::Supervise() {
  auto deadline = options_.timeout_ms ? t0_ + std::chrono::milliseconds(options_.timeout_ms)
                                      : std::chrono::steady_clock::time_point::max();
  return SuperviseBox(*box_, listener_ ? listener_.get() : -1, handler_.get(), *relay_,
                      options_.stop_fd, deadline, &out_.timed_out);
}

Result<BoxOutcome> BoxRun::TearDown() {
  // Init is gone and every box process with it: what their pipes hold comes at once.
  relay_->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  out_.exit_status = SILK_TRY(box_->Reap(&out_.term_signal));
  // The box's mount namespace is gone: our fd was the volume's last mount, and its loop
  // device detaches itself (AUTOCLEAR). The image stays for a named box.
  if (volume_) volume_->CloseMount();
  if (run_init_ && out_.term_signal == 0) {
    // silk's init exits 128+N for a command killed by signal N and says N here.
    const int sig = handoff_->get()->command_signal.load(std::memory_order_acquire);
    if (sig > 0 && out_.exit_status == 128 + sig) out_.term_signal = sig;
  }
  out_.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
  if (handler_) {
    handler_->Finish();
    out_.denials = handler_->TakeReport();
  }
  if (counting_) SILK_TRY(counting_->Report(handler_.get(), *options_.observer));
  if (cgroup_) {
    out_.oom_kills = cgroup_->OomKills();
    // The command's SIGKILL came from the OOM killer when the box counted one and
    // neither the timeout nor a stop request sent it.
    out_.oom_killed = out_.oom_kills > 0 && out_.term_signal == SIGKILL && !out_.timed_out;
    SILK_TRY(WithContext(cgroup_->Destroy(), "removing the box's cgroups"));
  }
  return out_;
}

}  // namespace

Result<BoxOutcome> RunBox(const BoxSpec& spec, const RunOptions& options) {
  SILK_TRY(Validate(spec));
  const int stdio[3] = {options.stdin_fd < 0 ? 0 : options.stdin_fd,
                        options.stdout_fd < 0 ? 1 : options.stdout_fd,
                        options.stderr_fd < 0 ? 2 : options.stderr_fd};
  if (options.persistent && options.box_id.empty())
    return Fail(ErrorCode::kInvalidInput, "a named box needs a name (RunOptions::box_id)");
  // Refuses a directory on stdin before anything is made.
  std::optional<StdioRelay> relay;
  if (!options.log_output) relay.emplace(SILK_TRY(StdioRelay::Create(stdio)));
  BoxRun run(spec, options, std::move(relay));
  auto outcome = run.Run();
  if (!outcome) run.RecordFailure(outcome.error());
  return outcome;
}

Result<SweepReport> SweepStaleBoxes(const std::string& state_root_in) {
  std::string state_root = state_root_in.empty() ? DefaultStateRoot() : state_root_in;
  SweepReport rep;
  for (const auto& n : SILK_TRY(StateDirNames(state_root))) {
    bool swept = SILK_TRY(WithContext(SweepBoxDir(state_root + "/" + n), "sweeping box " + n));
    if (swept) rep.reclaimed.push_back(n);
  }
  return rep;
}

}  // namespace silk::compat
