#include "compat/internal/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/netlink.hpp"
#include "compat/internal/volume.hpp"

namespace silk::compat::internal {

unsigned long long ProcessStartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  // "pid (comm) state ppid ..." - comm may contain spaces and parens: skip to the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = Split(stat->substr(close + 2), ' ');
  // fields[0] is field 3 (state); start time is field 22.
  if (fields.size() < 20) return 0;
  return std::strtoull(fields[19].c_str(), nullptr, 10);
}

namespace {

// Opens a state directory and tries to take its lock: the fd when taken (the directory's
// supervisor is gone, or there never was one), empty when a live supervisor holds it.
// Opens a state directory and waits for its lock.
UniqueFd LockDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fd;
  int rc;
  do rc = flock(fd.get(), LOCK_EX);
  while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::move(fd) : UniqueFd();
}

UniqueFd TryLockDir(const std::string& dir, bool* held_elsewhere) {
  *held_elsewhere = false;
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fd;
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    *held_elsewhere = errno == EWOULDBLOCK;
    return UniqueFd();
  }
  return fd;
}

// State files are written whole or not at all (a temporary file renamed over the old
// one): a SIGKILL between truncate and write would otherwise forget what the previous
// version recorded. No fsync: they must survive the supervisor, not the machine (a
// reboot takes every box with it), and fsync costs ~10 ms per box here.
Result<void> WriteStateFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("creating " + tmp);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return FailErrno("writing " + tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return FailErrno("renaming " + tmp + " to " + path);
  return {};
}

// A state directory lives under <id> only while it holds its supervisor record: it is
// made under "_creating-<pid>-<start time>-<id>" (ids start with a letter or digit, so no
// id looks like that), filled and renamed to <id>; it is renamed to "_removing-<pid>-
// <start time>-<id>" before it is emptied. A SIGKILL at any point leaves either <id>
// with a supervisor record or a transient name whose process the sweep can check.
constexpr char kPersistentMarker[] = "persistent";
constexpr char kCreatingPrefix[] = "_creating-";
constexpr char kRemovingPrefix[] = "_removing-";

std::string TransientName(const char* prefix, const std::string& id) {
  pid_t self = getpid();
  return prefix + std::to_string(self) + "-" + std::to_string(ProcessStartTime(self)) + "-" + id;
}

bool IsTransient(const std::string& name) {
  return name.rfind(kCreatingPrefix, 0) == 0 || name.rfind(kRemovingPrefix, 0) == 0;
}

// For a transient name: whether the process named in it still runs.
bool TransientOwnerAlive(const std::string& name) {
  auto parts = Split(name.substr(sizeof kCreatingPrefix - 1), '-');
  if (parts.size() < 3) return false;
  pid_t pid = static_cast<pid_t>(std::strtol(parts[0].c_str(), nullptr, 10));
  unsigned long long start = std::strtoull(parts[1].c_str(), nullptr, 10);
  return pid > 0 && ProcessStartTime(pid) == start;
}

// Renames the directory out of <id> (unless it has a transient name already), then
// removes every file in it (whatever records it holds, half-written ones too), the root/
// mount point and the directory.
void RemoveStateDir(const std::string& dir_in) {
  std::string dir = dir_in;
  const auto slash = dir.rfind('/');
  const std::string name = dir.substr(slash + 1);
  if (!IsTransient(name)) {
    std::string removing = dir.substr(0, slash + 1) + TransientName(kRemovingPrefix, name);
    if (rename(dir.c_str(), removing.c_str()) == 0) dir = removing;
  }
  if (DIR* d = opendir(dir.c_str())) {
    std::vector<std::string> files;
    while (dirent* e = readdir(d))
      if (e->d_type != DT_DIR) files.push_back(e->d_name);
    closedir(d);
    for (const auto& f : files) unlink((dir + "/" + f).c_str());
  }
  rmdir((dir + "/root").c_str());
  rmdir(dir.c_str());
}

}  // namespace

Result<std::vector<std::string>> StateDirNames(const std::string& state_root) {
  std::vector<std::string> names;
  DIR* d = opendir(state_root.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return FailErrno("opening " + state_root);
  }
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool SupervisorAlive(const std::string& dir) {
  bool held = false;
  UniqueFd probe = TryLockDir(dir, &held);
  return held;
}

Result<bool> SweepBoxDir(const std::string& dir, bool named_too) {
  // Ownership is the lock: a live supervisor holds it for its box's whole life (the
  // kernel drops it however the supervisor dies), so a directory we can lock is dead.
  const std::string name = dir.substr(dir.rfind('/') + 1);
  // Being made or removed: the lock is taken right after mkdir, so ask first whether its
  // maker runs (and leave its lock alone: the maker may be about to take it).
  if (IsTransient(name) && TransientOwnerAlive(name)) return false;
  if (!named_too && !IsTransient(name) &&
      access((dir + "/" + kPersistentMarker).c_str(), F_OK) == 0)
    return false;  // a named box: `silk box delete` reclaims it
  bool live = false;
  UniqueFd lock = TryLockDir(dir, &live);
  if (!lock) return false;
  // The volume's image first: its record may be all a SIGKILL left (write-ahead), and a
  // directory being removed may still hold it.
  if (std::string image = RecordedVolumeImage(dir); !image.empty())
    SILK_TRY(RemoveVolumeImage(image));
  if (IsTransient(name)) {
    RemoveStateDir(dir);
    return true;
  }
  if (auto cg = ReadFile(dir + "/cgroups")) {
    for (const auto& path : Split(*cg, '\n')) {
      if (path.empty()) continue;
      auto c = OpenCgroupForCleanup(path);
      SILK_TRY(c->KillAll());
      SILK_TRY(c->Remove());
    }
  }
  if (auto veth = ReadFile(dir + "/veth")) {
    std::string ifname = Trim(*veth);
    if (!ifname.empty()) {
      auto nl = SILK_TRY(Netlink::Open());
      auto r = nl.DeleteLink(ifname);
      if (!r && r.error().code() != ErrorCode::kNotFound) return Fail(std::move(r.error()));
    }
  }
  RemoveStateDir(dir);
  return true;
}

Result<BoxState> BoxState::Create(const std::string& state_root, const std::string& id,
                                  bool persistent) {
  SILK_TRY(MakeDirs(state_root, 0755, "state directory"));
  std::string dir = state_root + "/" + id;
  auto taken = [&] {
    return Fail(ErrorCode::kInvalidInput, access((dir + "/" + kPersistentMarker).c_str(), F_OK) == 0
                                              ? "a box named '" + id +
                                                    "' exists (see `silk box state " + id +
                                                    "`; `silk box delete " + id + "` removes it)"
                                              : "a running box already has the id '" + id + "'");
  };
  if (access(dir.c_str(), F_OK) == 0) {
    bool swept = SILK_TRY(SweepBoxDir(dir));
    if (!swept) return taken();
  }
  // Write-ahead: the directory appears under <id> locked, with its supervisor record in
  // it. 0711: a box's unprivileged host uid must reach root/ below it.
  BoxState creating(state_root + "/" + TransientName(kCreatingPrefix, id));
  if (mkdir(creating.dir_.c_str(), 0711) != 0)
    return FailErrno("creating box state " + creating.dir_);
  // Blocking: a sweep of another process may hold it for a moment (never longer: the
  // directory's transient name says its maker, us, is alive).
  creating.lock_ = LockDir(creating.dir_);
  if (!creating.lock_) return FailErrno("locking box state " + creating.dir_);
  if (mkdir(creating.root_dir().c_str(), 0755) != 0)
    return FailErrno("creating " + creating.root_dir());
  pid_t self = getpid();
  SILK_TRY(
      WriteStateFile(creating.dir_ + "/supervisor",
                     std::to_string(self) + " " + std::to_string(ProcessStartTime(self)) + "\n"));
  if (persistent) SILK_TRY(WriteStateFile(creating.dir_ + "/" + kPersistentMarker, "\n"));
  if (renameat2(AT_FDCWD, creating.dir_.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return taken();
    return FailErrno("renaming box state " + creating.dir_ + " to " + dir);
  }
  BoxState made(dir);
  made.lock_ = std::move(creating.lock_);  // the same directory, renamed: still ours
  creating.dir_.clear();
  return made;
}

BoxState::BoxState(BoxState&& other) noexcept
    : dir_(std::move(other.dir_)), lock_(std::move(other.lock_)), keep_(other.keep_) {
  other.dir_.clear();
}

BoxState::~BoxState() {
  if (dir_.empty()) return;
  if (keep_)
    rmdir(root_dir().c_str());
  else
    RemoveStateDir(dir_);
}

Result<void> BoxState::RecordStatus(const std::string& json) {
  return WriteStateFile(dir_ + "/status", json);
}

Result<void> BoxState::RecordCgroups(const std::vector<std::string>& paths) {
  return WriteStateFile(dir_ + "/cgroups", Join(paths, "\n") + "\n");
}

Result<void> BoxState::RecordIdRange(uint32_t first_id, uint32_t count) {
  return WriteStateFile(dir_ + "/idrange",
                        std::to_string(first_id) + " " + std::to_string(count) + "\n");
}

Result<void> BoxState::RecordVeth(const std::string& name) {
  return WriteStateFile(dir_ + "/veth", name + "\n");
}

Result<void> BoxState::RecordVolume(const std::string& image) {
  return WriteStateFile(dir_ + "/volume", image + "\n");
}

std::string RecordedVolumeImage(const std::string& dir) {
  auto text = ReadFile(dir + "/volume");
  return text ? Trim(*text) : std::string();
}

}  // namespace silk::compat::internal
