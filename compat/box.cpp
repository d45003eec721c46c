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
#include "compat/box_update.hpp"
#include "compat/internal/caps.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/child.hpp"
#include "compat/internal/counted_learning.hpp"
#include "compat/internal/exec_service.hpp"
#include "compat/internal/fault_gate.hpp"
#include "compat/internal/filter.hpp"
#include "compat/internal/idrange.hpp"
#include "compat/internal/launch.hpp"
#include "compat/internal/mounts.hpp"
#include "compat/internal/namespaces.hpp"
#include "compat/internal/nest.hpp"
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
                          ExecService* execs, int stop_fd,
                          std::chrono::steady_clock::time_point deadline, bool* timed_out) {
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
    const size_t execs_at = fds.size();
    if (execs) execs->AddPollFds(fds);
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
    if (execs) execs->Handle(fds, execs_at);
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
  Result<void> PrepareNest();
  void PlanChild();
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
  SILK_TRY(PrepareNest());
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
    counting_.emplace(filter_->Effective()->front(), *options_.observer, v2_dir_.get(),
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
  if (options_.persistent) {
    // A named box has memory, pids and cpu cgroups as root, also without limits: `silk
    // box stats` reads them and `silk box update` sets limits there later.
    if (root_) limits.unlimited = {Controller::kMemory, Controller::kPids, Controller::kCpu};
    SILK_TRY(RecordBoxLimits(state_->dir(), {limits.memory_max, limits.pids_max, limits.cpu_weight,
                                             limits.io_weight, spec_.network.egress_rate}));
  }
  // A nest-ready box delegates memory, pids and cpu cgroups to its node manager.
  if (spec_.nest && root_)
    limits.unlimited = {Controller::kMemory, Controller::kPids, Controller::kCpu};
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

// A nest-ready box (BoxSpec::nest): its cgroups delegated to its root and mounted in it.
Result<void> BoxRun::PrepareNest() {
  if (!filter_->no_listener.empty() && spec_.report_denials)
    out_.denials_unreported = filter_->no_listener;
  if (!spec_.nest) return {};
  if (!root_ || !user_ns_ || !cgroup_)
    return Fail(ErrorCode::kUnsupported,
                "a nest-ready box (--nest) needs root (in silk's own user namespace) and "
                "cgroups to delegate");
  auto cgroups =
      SILK_TRY(DelegateCgroups(cgroup_->Paths(), HostIdOf(maps_.uid, 0), HostIdOf(maps_.gid, 0)));
  mounts_->AddCgroupMounts(cgroups);
  const std::string tun = state_->dir() + "/tun";
  if (access("/dev/net/tun", F_OK) == 0 &&
      SILK_TRY(MakeTunNode(tun, HostIdOf(maps_.uid, 0), HostIdOf(maps_.gid, 0))))
    mounts_->SetTunSource(tun);
  return {};
}

// The child's whole plan: it reads only this (and data_) between clone and execve.
void BoxRun::PlanChild() {
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
  p.keep_caps = KeptCapabilities(spec_);
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

BoxOutcome BoxRun::ExecFailed(int err) {
  int term = 0;
  (void)box_->Reap(&term);
  if (handler_) out_.denials = handler_->TakeReport();
  out_.exit_status = err == ENOENT ? 127 : 126;
  out_.exec_failure = ExecFailureMessage(spec_.command, err, data_.path);
  return out_;
}

Result<bool> BoxRun::AwaitExec() {
  ExecHandshake handshake(parent_end_.get(), handoff_->get(), box_->pid(), box_->pidfd());
  auto taken = [this](int listener, pid_t holder) -> Result<NotifyHandler*> {
    // The box makes no syscall but execve from here on: count from now.
    if (counting_) SILK_TRY(counting_->Enable());
    handler_ =
        SILK_TRY(NotifyHandler::Create([f = filter_] { return f->Effective(); }, spec_.raw_sockets,
                                       spec_.report_denials, options_.observer, holder));
    if (learning_) {
      // Linux 6.6+: wake the supervisor on the caller's CPU, which roughly halves a
      // notification round trip (commit 48a1084a8b74). Older kernels refuse; harmless.
      (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    }
    return handler_.get();
  };
  auto end = handshake.Run(taken, std::chrono::steady_clock::time_point::max());
  listener_ = handshake.TakeListener();
  if (!end) return Fail(std::move(end.error()));
  switch (end->kind) {
    case ChildSetupEnd::kExeced:
      parent_end_.Reset();
      return true;  // exec'd (or killed: the reap tells)
    case ChildSetupEnd::kExecFailed:
      out_ = ExecFailed(end->exec_errno);
      return false;
    case ChildSetupEnd::kSetupFailed:
      break;
  }
  // An error report before the filter: the child _exit()s after it.
  if (listener_) box_->Kill();
  int term = 0;
  (void)box_->Reap(&term);
  const ChildReport& r = end->report;
  return Fail(Error(ErrorCode::kSystem,
                    "box setup failed " + StageDescription(r.stage, *mounts_, state_->root_dir()),
                    r.err));
}

Result<void> BoxRun::Supervise() {
  auto deadline = options_.timeout_ms ? t0_ + std::chrono::milliseconds(options_.timeout_ms)
                                      : std::chrono::steady_clock::time_point::max();
  std::unique_ptr<ExecService> execs;
  if (recording() && root_) {
    // `silk box exec` enters through the supervisor (exec_service.hpp). Not for a
    // rootless box: entering it, a process would have to stay dumpable for an
    // unprivileged supervisor to take its listener, and so open to the box's ptrace.
    ExecContext ctx;
    ctx.spec = &spec_;
    ctx.filter = &fprog_;
    ctx.install = data_.plan.install;
    ctx.init_pidfd = box_->pidfd();
    ctx.cgroup = cgroup_.get();
    ctx.cgroup_v2_dir = v2_dir_.get();
    ctx.user_ns = user_ns_;
    ctx.set_groups = data_.plan.set_groups;
    ctx.prlimit_outside = prlimit_outside_;
    ctx.handler = handler_.get();
    execs = SILK_TRY(ExecService::Create(state_->dir() + "/control", ctx));
  }
  auto done = SuperviseBox(*box_, listener_ ? listener_.get() : -1, handler_.get(), *relay_,
                           execs.get(), options_.stop_fd, deadline, &out_.timed_out);
  if (execs) execs->Finish();
  return done;
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
