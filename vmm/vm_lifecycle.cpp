#include "vmm/vm_lifecycle.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/file.hpp"
#include "base/log.hpp"
#include "base/sleep.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "vmm/accel.hpp"
#include "vmm/domain.hpp"
#include "vmm/internal/libvirt_api.hpp"
#include "vmm/run_dir.hpp"

namespace silk::vmm {

using internal::Libvirt;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char kRecordFile[] = "vm.json";
constexpr const char kLockFile[] = "lock";
constexpr const char kExecLockFile[] = "exec.lock";
constexpr const char kDiskFile[] = "disk.raw";
constexpr uint64_t kMinDiskBytes = uint64_t{1} << 20;

std::string Root(const std::string& state_root) {
  return state_root.empty() ? kDefaultVmStateRoot : state_root;
}

std::string DirOf(const std::string& state_root, const std::string& name) {
  return Root(state_root) + "/" + name;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// An flock on `dir`/`file` (created if missing). `wait`: block for it; otherwise an
// empty fd when another process holds it.
Result<UniqueFd> TakeLock(const std::string& dir, const char* file, bool wait) {
  std::string path = dir + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("cannot open the lock " + path);
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return UniqueFd();
    return FailErrno("cannot lock " + path);
  }
  return fd;
}

// Whether some process holds `dir`/`file`'s lock (probed, released at once).
bool LockHeld(const std::string& dir, const char* file) {
  UniqueFd fd(::open((dir + "/" + file).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

Result<void> WriteRecord(const VmRecord& r) {
  return WriteFileAtomic(r.run_dir + "/" + kRecordFile, VmRecordToJson(r), 0644);
}

Error Busy(const std::string& name) {
  return Error(ErrorCode::kInvalidInput, "another silk is creating, stopping or deleting VM '" +
                                             name + "'; try again when it is done");
}

// The record file as written (no libvirt). Errors: kNotFound, kInvalidInput.
Result<VmRecord> ReadRecordFile(const std::string& state_root, const std::string& name) {
  SILK_TRY(ValidateVmName(name));
  const std::string dir = DirOf(state_root, name);
  if (!Exists(dir))
    return Fail(ErrorCode::kNotFound, "no VM named '" + name + "' (under " + Root(state_root) +
                                          "; `silk vm list` shows them)");
  auto text = ReadFile(dir + "/" + kRecordFile);
  VmRecord r;
  if (!text) {
    if (text.error().code() != ErrorCode::kNotFound) return Fail(std::move(text.error()));
    // A create that claimed the name and has not recorded it yet (or died before).
    r.name = name;
    r.domain = VmDomainName(name);
    r.status = VmStatus::kCreated;
  } else {
    r = SILK_TRY(ParseVmRecord(*text, dir + "/" + kRecordFile));
  }
  r.run_dir = dir;
  return r;
}

// The domain of `r` on `conn`, by UUID (by name when the record has none yet); an empty
// handle when there is none.
Result<DomainHandle> LookupDomain(Connection& conn, const VmRecord& r) {
  DomainHandle dom(r.uuid.empty()
                       ? Libvirt().virDomainLookupByName(conn.get(), r.domain.c_str())
                       : Libvirt().virDomainLookupByUUIDString(conn.get(), r.uuid.c_str()));
  if (dom) return dom;
  Error e = LibvirtError("cannot look up domain " + r.domain + " on " + conn.uri());
  if (e.code() == ErrorCode::kNotFound) return DomainHandle();
  return Fail(std::move(e));
}

bool Active(virDomainPtr dom) {
  int a = Libvirt().virDomainIsActive(dom);
  if (a < 0) Libvirt().virResetLastError();
  return a == 1;
}

// Forces the domain of `r` off, if there is one. Already gone is what was wanted.
Result<void> DestroyDomain(Connection& conn, const VmRecord& r) {
  DomainHandle dom = SILK_TRY(LookupDomain(conn, r));
  if (!dom || !Active(dom.get())) return {};
  if (Libvirt().virDomainDestroy(dom.get()) != 0) {
    Error e = LibvirtError("cannot destroy domain " + r.domain);
    if (Active(dom.get())) return Fail(std::move(e));
    Libvirt().virResetLastError();
  }
  return {};
}

// Waits until the domain of `r` is gone or inactive. Returns whether it ended in time.
Result<bool> WaitDomainEnded(Connection& conn, const VmRecord& r, Clock::time_point deadline) {
  for (;;) {
    DomainHandle dom = SILK_TRY(LookupDomain(conn, r));
    if (!dom || !Active(dom.get())) return true;
    if (Clock::now() >= deadline) return false;
    SleepFor(std::chrono::milliseconds(100));
  }
}

// The connections ListVms and ReadVm use, one per URI.
class Connections {
 public:
  Result<Connection*> For(const std::string& uri) {
    auto it = conns_.find(uri);
    if (it != conns_.end()) return it->second.get();
    auto conn = SILK_TRY(Connection::Open(uri.empty() ? kDefaultUri : uri));
    Connection* raw = conn.get();
    conns_.emplace(uri, std::move(conn));
    return raw;
  }

 private:
  std::map<std::string, std::unique_ptr<Connection>> conns_;
};

Result<VmRecord> Resolve(VmRecord r, Connections& conns) {
  if (r.status == VmStatus::kCreated && !LockHeld(r.run_dir, kLockFile)) {
    r.status = VmStatus::kLost;  // its create died before the agent said hello
    return r;
  }
  if (r.status == VmStatus::kCreated || r.status == VmStatus::kRunning) {
    Connection* conn = SILK_TRY(conns.For(r.uri));
    r.status = SILK_TRY(LiveStatus(*conn, r));
  }
  return r;
}

// The accelerator: forced, or ChooseAccel's verdict on the staged image.
Result<Accel> PickAccel(const VmCreateOptions& o, Connection& conn,
                        const images::ImageInfo& image) {
  if (o.accel) return *o.accel;
  AccelOptions ao;
  if (!o.accel_cache.empty()) ao.cache_path = o.accel_cache;
  ao.run_root = Root(o.state_root);
  BootImage bi{image.kernel_path, image.initramfs_path, image.cmdline, image.kernel_sha256};
  AccelVerdict v = SILK_TRY(ChooseAccel(conn, bi, ao));
  if (!v.from_cache && v.accel == Accel::kTcg)
    LogNotice("KVM is not usable here (" + v.reason + "); using TCG, which is slower");
  return v.accel;
}

// A sparse raw file of `bytes` for the VM's virtio disk (the guest's writes allocate it).
Result<void> MakeDisk(const std::string& path, uint64_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("cannot create the VM's disk " + path);
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
    return FailErrno("cannot size the VM's disk " + path + " to " + FormatSize(bytes));
  return {};
}

Error NotRunning(const VmRecord& r, const std::string& verb) {
  std::string what = "VM '" + r.name + "' is " + VmStatusName(r.status) + ": cannot " + verb;
  switch (r.status) {
    case VmStatus::kCreated:
      what += " it until its create finishes";
      break;
    case VmStatus::kStopped:
      what += " it; `silk vm delete " + r.name + "` removes it";
      break;
    default:
      what += " it (its domain is gone); `silk vm delete " + r.name + "` reclaims it";
      break;
  }
  return Error(ErrorCode::kInvalidInput, what);
}

}  // namespace

Result<VmStatus> LiveStatus(Connection& conn, const VmRecord& r) {
  if (r.status != VmStatus::kCreated && r.status != VmStatus::kRunning) return r.status;
  DomainHandle dom = SILK_TRY(LookupDomain(conn, r));
  if (!dom || !Active(dom.get())) return VmStatus::kLost;
  return r.status;
}

Result<VmRecord> CreateVm(const VmCreateOptions& o) {
  SILK_TRY(ValidateVmName(o.name));
  if (o.disk_bytes != 0 && o.disk_bytes < kMinDiskBytes)
    return Fail(ErrorCode::kInvalidInput, "--disk " + FormatSize(o.disk_bytes) +
                                              " is below the smallest disk, " +
                                              FormatSize(kMinDiskBytes));
  const std::string root = Root(o.state_root);
  const std::string dir_path = root + "/" + o.name;
  auto exists = [&]() -> Error {
    std::string status = "being created";
    if (auto r = ReadRecordFile(o.state_root, o.name)) status = VmStatusName(r->status);
    return Error(ErrorCode::kInvalidInput, "a VM named '" + o.name + "' exists (" + status +
                                               "); `silk vm delete " + o.name + "` removes it");
  };
  if (Exists(dir_path)) return Fail(exists());
  const std::string refusing = "refusing to boot image " + o.image_dir;
  ImageSource source = SILK_TRY(WithContext(OpenImageSource(o.image_dir), refusing));

  // Claiming the name is making its run directory (mkdir: one create wins).
  auto made = VmRunDir::Create(root, o.name);
  if (!made) {
    if (made.error().sys_errno() == EEXIST) return Fail(exists());
    return Fail(std::move(made.error()));
  }
  VmRunDir dir = std::move(*made);
  UniqueFd lock = SILK_TRY(TakeLock(dir.path(), kLockFile, true));

  VmRecord r;
  r.name = o.name;
  r.status = VmStatus::kCreated;
  r.domain = VmDomainName(o.name);
  r.uuid = SILK_TRY(NewUuid());
  r.uri = o.uri;
  r.created_at = VmTimestamp();
  r.image_dir = o.image_dir;
  r.memory_mib = o.memory_mib;
  r.vcpus = o.vcpus;
  r.box_profile = o.box_profile;
  r.disk_bytes = o.disk_bytes;
  r.bridges = o.bridges;
  std::string tag = SILK_TRY(UniqueVmName("t"));  // taps unique per VM whatever its name
  for (size_t i = 0; i < o.bridges.size(); ++i)
    r.taps.push_back(TapName(tag, static_cast<unsigned>(i)));
  r.run_dir = dir.path();
  r.control_socket = dir.control_socket();
  r.console_log = dir.console_log();
  if (o.disk_bytes) r.disk = dir.path() + "/" + kDiskFile;
  // Write-ahead: the domain's name and UUID are recorded before it exists, so that a
  // create killed at any point leaves a record that delete can reclaim by.
  SILK_TRY(WriteRecord(r));

  images::ImageInfo image = SILK_TRY(WithContext(StageImage(dir, source, o.public_key), refusing));
  if (o.disk_bytes) SILK_TRY(MakeDisk(r.disk, o.disk_bytes));

  std::unique_ptr<Connection> conn = SILK_TRY(Connection::Open(o.uri));
  Accel accel = SILK_TRY(PickAccel(o, *conn, image));
  r.accel = AccelName(accel);

  VmSpec spec;
  spec.name = r.domain;
  spec.uuid = r.uuid;
  spec.kernel_path = image.kernel_path;
  spec.initramfs_path = image.initramfs_path;
  spec.memory_mib = o.memory_mib;
  spec.vcpus = o.vcpus;
  spec.accel = accel;
  spec.console_log = r.console_log;
  spec.control_socket = r.control_socket;
  spec.cmdline = image.cmdline + " silk.agent=" + spec.control_port;
  if (!o.extra_cmdline.empty()) spec.cmdline += " " + o.extra_cmdline;
  for (size_t i = 0; i < o.bridges.size(); ++i)
    spec.nics.push_back(NicSpec{o.bridges[i], r.taps[i], ""});
  if (o.disk_bytes) spec.disks.push_back(DiskSpec{r.disk, "raw", false});
  SILK_TRY(WriteRecord(r));

  // Not auto-destroyed: the domain outlives this connection (and the CLI). Until the agent
  // answers, the guard destroys it on any failure.
  TransientDomain dom = SILK_TRY(TransientDomain::Create(*conn, spec, /*autodestroy=*/false));
  auto agent = ConnectAgent(r.control_socket, Clock::now() + o.boot_timeout,
                            [&dom] { return !dom.ended(); });
  if (!agent) {
    std::string why =
        agent.error().code() == ErrorCode::kTimeout
            ? "the guest did not come up within " + std::to_string(o.boot_timeout.count() / 1000) +
                  " s (raise --boot-timeout, or check the image)"
            : "the guest ended before its agent answered (" + agent.error().message() + ")";
    std::string tail = ConsoleTail(r.console_log, 15);
    Error e(agent.error().code(),
            "VM " + o.name + ": " + why +
                (tail.empty() ? " (the guest console is empty)"
                              : "; last lines of the guest console:\n" + tail),
            agent.error().sys_errno());
    (void)dom.Destroy();
    return Fail(std::move(e));
  }
  dom.Release();
  dir.Release();
  r.status = VmStatus::kRunning;
  r.started_at = VmTimestamp();
  SILK_TRY(WriteRecord(r));
  return r;
}

Result<VmRecord> ReadVm(const std::string& state_root, const std::string& name) {
  VmRecord r = SILK_TRY(ReadRecordFile(state_root, name));
  Connections conns;
  return Resolve(std::move(r), conns);
}

Result<std::vector<VmRecord>> ListVms(const std::string& state_root) {
  const std::string root = Root(state_root);
  std::vector<std::string> names;
  if (DIR* d = ::opendir(root.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && ValidateVmName(n)) names.push_back(n);
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    return FailErrno("cannot list the VM state root " + root);
  }
  std::sort(names.begin(), names.end());
  // Inside a thinix guest there is no libvirt: say so, even with no VM to list.
  SILK_TRY(internal::LoadLibvirt());
  Connections conns;
  std::vector<VmRecord> out;
  for (const std::string& n : names) {
    auto r = ReadRecordFile(state_root, n);
    if (!r) {
      if (r.error().code() == ErrorCode::kNotFound) continue;  // deleted meanwhile
      return Fail(std::move(r.error()));
    }
    out.push_back(SILK_TRY(Resolve(std::move(*r), conns)));
  }
  return out;
}

Result<VmExecResult> ExecInVm(const std::string& state_root, const std::string& name,
                              const AgentCommand& command, const VmExecOptions& o,
                              const OutputSink& out, const OutputSink& err) {
  if (command.argv.empty())
    return Fail(ErrorCode::kInvalidInput, "no command given to run in the VM");
  // The record as written: libvirt is asked only when the agent cannot be reached.
  VmRecord r = SILK_TRY(ReadRecordFile(state_root, name));
  if (r.status != VmStatus::kRunning) {
    VmRecord now = SILK_TRY(ReadVm(state_root, name));
    return Fail(NotRunning(now, "exec in"));
  }
  const auto deadline = Clock::now() + o.timeout;
  UniqueFd session = SILK_TRY(TakeLock(r.run_dir, kExecLockFile, false));
  if (!session) {
    if (o.on_wait)
      o.on_wait("another exec holds VM '" + name +
                "''s agent session (its agent serves one at a time); waiting for it to end");
    while (!session) {
      if (Clock::now() >= deadline)
        return Fail(ErrorCode::kTimeout,
                    "another exec held VM '" + name + "''s agent session for the whole --timeout");
      SleepFor(std::chrono::milliseconds(50));
      session = SILK_TRY(TakeLock(r.run_dir, kExecLockFile, false));
    }
  }
  // One look at the socket first: a VM whose QEMU is gone would otherwise be retried until
  // the connect timeout.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, r.control_socket.c_str(), sizeof addr.sun_path - 1);
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      (errno == ENOENT || errno == ECONNREFUSED)) {
    VmRecord now = SILK_TRY(ReadVm(state_root, name));
    if (now.status != VmStatus::kRunning) return Fail(NotRunning(now, "exec in"));
  }
  probe.Reset();
  auto agent = SILK_TRY(WithContext(
      ConnectAgent(r.control_socket, std::min(deadline, Clock::now() + o.connect_timeout)),
      "VM " + name + ": reaching its agent"));

  AgentCommand cmd = command;
  if (!o.no_box && !r.box_profile.empty()) {
    cmd.argv = {"silk", "box", "run", "--profile", r.box_profile};
    for (const auto& [k, v] : command.env) cmd.argv.insert(cmd.argv.end(), {"--env", k + "=" + v});
    if (!command.cwd.empty()) cmd.argv.insert(cmd.argv.end(), {"--cwd", command.cwd});
    cmd.argv.push_back("--");
    cmd.argv.insert(cmd.argv.end(), command.argv.begin(), command.argv.end());
    cmd.env.clear();
    cmd.cwd.clear();
  }
  VmExecResult result;
  auto status = agent.Run(cmd, out, err, deadline);
  if (!status) {
    auto shell = ShellStatusForSpawnError(status.error());
    if (!shell) return Fail(WithContext(std::move(status), "VM " + name).error());
    result.exit_status = *shell;
    result.exec_failure = status.error().message();
    return result;
  }
  result.exit_status = *status;
  return result;
}

Result<VmRecord> StopVm(const std::string& state_root, const std::string& name,
                        std::chrono::milliseconds timeout) {
  VmRecord r = SILK_TRY(ReadRecordFile(state_root, name));
  UniqueFd lock = SILK_TRY(TakeLock(r.run_dir, kLockFile, false));
  if (!lock) return Fail(Busy(name));
  r = SILK_TRY(ReadRecordFile(state_root, name));  // as it is now that we hold it
  if (r.status == VmStatus::kStopped) return r;
  auto conn = SILK_TRY(Connection::Open(r.uri.empty() ? kDefaultUri : r.uri));
  const auto deadline = Clock::now() + timeout;
  const bool was_running =
      SILK_TRY(LiveStatus(*conn, r)) == VmStatus::kRunning && r.status == VmStatus::kRunning;
  bool asked = false;
  if (was_running) {
    // The agent powers the guest off (it syncs first), unless an exec holds the session.
    if (UniqueFd session = SILK_TRY(TakeLock(r.run_dir, kExecLockFile, false))) {
      auto agent = ConnectAgent(r.control_socket,
                                std::min(deadline, Clock::now() + std::chrono::seconds(5)));
      asked = agent && agent->PowerOff();
    }
    if (!asked) {
      DomainHandle dom = SILK_TRY(LookupDomain(*conn, r));
      if (dom &&
          Libvirt().virDomainShutdownFlags(dom.get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) != 0)
        Libvirt().virResetLastError();
    }
  }
  bool ended = SILK_TRY(WaitDomainEnded(*conn, r, was_running ? deadline : Clock::now()));
  if (!ended) {
    SILK_TRY(DestroyDomain(*conn, r));
    r.error = was_running
                  ? "the guest did not power off within " + std::to_string(timeout.count() / 1000) +
                        " s; its domain was destroyed"
                  : "its create had died; the domain it left was destroyed";
  }
  r.status = VmStatus::kStopped;
  r.stopped_at = VmTimestamp();
  SILK_TRY(WriteRecord(r));
  return r;
}

Result<void> DeleteVm(const std::string& state_root, const std::string& name, bool force) {
  VmRecord r = SILK_TRY(ReadRecordFile(state_root, name));
  UniqueFd lock = SILK_TRY(TakeLock(r.run_dir, kLockFile, false));
  if (!lock) return Fail(Busy(name));
  r = SILK_TRY(ReadRecordFile(state_root, name));
  if (r.status == VmStatus::kCreated) r.status = VmStatus::kLost;  // we hold its lock
  if (r.status != VmStatus::kStopped) {
    auto conn = SILK_TRY(Connection::Open(r.uri.empty() ? kDefaultUri : r.uri));
    VmStatus now = SILK_TRY(LiveStatus(*conn, r));
    if (now == VmStatus::kRunning && !force)
      return Fail(ErrorCode::kInvalidInput, "VM '" + name + "' is running; `silk vm stop " + name +
                                                "` first, or delete it with --force");
    SILK_TRY(DestroyDomain(*conn, r));
    // libvirt lets go of the run directory's files (console, socket, disk) once QEMU is
    // reaped; wait a moment for that.
    (void)WaitDomainEnded(*conn, r, Clock::now() + std::chrono::seconds(10));
  }
  return WithContext(RemoveRunDir(r.run_dir), "deleting VM " + name);
}

Result<VmStats> VmStatsOf(const std::string& state_root, const std::string& name) {
  VmRecord r = SILK_TRY(ReadRecordFile(state_root, name));
  auto conn = SILK_TRY(Connection::Open(r.uri.empty() ? kDefaultUri : r.uri));
  if (r.status == VmStatus::kCreated && !LockHeld(r.run_dir, kLockFile)) r.status = VmStatus::kLost;
  r.status = SILK_TRY(LiveStatus(*conn, r));
  if (r.status != VmStatus::kRunning) return Fail(NotRunning(r, "give statistics of"));
  DomainHandle dom = SILK_TRY(LookupDomain(*conn, r));
  if (!dom) return Fail(ErrorCode::kNotFound, "VM '" + name + "': its domain is gone");
  virDomainPtr doms[] = {dom.get(), nullptr};
  virDomainStatsRecordPtr* records = nullptr;
  const unsigned int what = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                            VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                            VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
  if (Libvirt().virDomainListGetStats(doms, what, &records, 0) < 0)
    return Fail(LibvirtError("cannot get the statistics of domain " + r.domain));
  VmStats s;
  s.name = name;
  s.domain = r.domain;
  for (virDomainStatsRecordPtr* rec = records; rec && *rec; ++rec) {
    for (int i = 0; i < (*rec)->nparams; ++i) {
      const virTypedParameter& p = (*rec)->params[i];
      switch (p.type) {
        case VIR_TYPED_PARAM_INT:
          s.numbers[p.field] = static_cast<uint64_t>(std::max(0, p.value.i));
          break;
        case VIR_TYPED_PARAM_UINT:
          s.numbers[p.field] = p.value.ui;
          break;
        case VIR_TYPED_PARAM_LLONG:
          s.numbers[p.field] = static_cast<uint64_t>(std::max<long long>(0, p.value.l));
          break;
        case VIR_TYPED_PARAM_ULLONG:
          s.numbers[p.field] = p.value.ul;
          break;
        case VIR_TYPED_PARAM_DOUBLE:
          s.numbers[p.field] = static_cast<uint64_t>(std::max(0.0, p.value.d));
          break;
        case VIR_TYPED_PARAM_BOOLEAN:
          s.numbers[p.field] = p.value.b ? 1 : 0;
          break;
        case VIR_TYPED_PARAM_STRING:
          s.strings[p.field] = p.value.s ? p.value.s : "";
          break;
        default:
          break;
      }
    }
  }
  if (records) Libvirt().virDomainStatsRecordListFree(records);
  auto num = [&s](const std::string& key) {
    auto it = s.numbers.find(key);
    return it == s.numbers.end() ? uint64_t{0} : it->second;
  };
  auto str = [&s](const std::string& key) {
    auto it = s.strings.find(key);
    return it == s.strings.end() ? std::string() : it->second;
  };
  s.state = DomainStateName(static_cast<int>(num("state.state")));
  s.cpu_time_ns = num("cpu.time");
  s.cpu_user_ns = num("cpu.user");
  s.cpu_system_ns = num("cpu.system");
  s.memory_kib = num("balloon.current");
  s.max_memory_kib = num("balloon.maximum");
  s.rss_kib = num("balloon.rss");
  s.vcpus = static_cast<unsigned>(num("vcpu.current"));
  for (uint64_t i = 0; i < num("net.count"); ++i) {
    std::string k = "net." + std::to_string(i) + ".";
    s.net.push_back({str(k + "name"), num(k + "rx.bytes"), num(k + "rx.pkts"), num(k + "tx.bytes"),
                     num(k + "tx.pkts")});
  }
  for (uint64_t i = 0; i < num("block.count"); ++i) {
    std::string k = "block." + std::to_string(i) + ".";
    s.block.push_back({str(k + "name"), str(k + "path"), num(k + "rd.bytes"), num(k + "wr.bytes"),
                       num(k + "rd.reqs"), num(k + "wr.reqs"), num(k + "capacity"),
                       num(k + "allocation")});
  }
  return s;
}

}  // namespace silk::vmm
