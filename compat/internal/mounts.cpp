#include "compat/internal/mounts.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "compat/box_spec.hpp"

namespace silk::compat::internal {
namespace {

// Host top-level entries the default view shows, read-only.
const char* const kHostDirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"};
// Host files hidden in the default view (root can read them without capabilities).
const char* const kMaskedEtc[] = {"etc/shadow", "etc/gshadow", "etc/shadow-", "etc/gshadow-"};
const char* const kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};
// OCI runtime-spec defaults: masked with /dev/null (files) or an empty tmpfs (dirs),
// and read-only.
const char* const kProcMaskedFiles[] = {"kcore",       "keys",        "latency_stats", "timer_list",
                                        "timer_stats", "sched_debug", "sysrq-trigger"};
const char* const kProcMaskedDirs[] = {"acpi", "scsi"};
const char* const kProcReadOnly[] = {"sys", "irq", "bus", "fs", "asound"};

constexpr unsigned long kNoSuidDev = MS_NOSUID | MS_NODEV;

}  // namespace

const char* MountPlanBuilder::S(std::string s) {
  strings_.push_back(std::move(s));
  return strings_.back().c_str();
}

void MountPlanBuilder::Add(MountOpKind kind, const std::string& source, const std::string& target,
                           const char* fstype, unsigned long flags, const std::string& data,
                           bool optional) {
  ops_.push_back(MountOp{kind, source.empty() ? nullptr : S(source), S(target), fstype, flags,
                         data.empty() ? nullptr : S(data), optional});
}

Result<MountPlanBuilder> MountPlanBuilder::Build(const BoxSpec& spec, const std::string& staging) {
  MountPlanBuilder b;
  const bool volume = spec.disk_max != 0;
  const std::string& r = staging;
  // The default scratch size follows a smaller memory limit (tmpfs pages are charged to
  // the box's memory cgroup); Validate() refuses an explicit size above it.
  uint64_t scratch = spec.scratch_size;
  if (spec.memory_max != 0 && spec.memory_max < scratch) scratch = spec.memory_max;
  std::string size = "size=" + std::to_string(scratch);
  // Nothing we mount propagates back to the host.
  b.Add(MountOpKind::kMount, "", "/", nullptr, MS_REC | MS_PRIVATE);
  if (spec.rootfs.empty()) {
    b.Add(MountOpKind::kMount, "silk-root", r, "tmpfs", kNoSuidDev, "mode=0755,size=1m");
    for (const char* d : kHostDirs) {
      std::string host = std::string("/") + d;
      struct stat st;
      if (lstat(host.c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        ssize_t n = readlink(host.c_str(), buf, sizeof buf - 1);
        if (n <= 0) continue;
        b.Add(MountOpKind::kSymlink, std::string(buf, static_cast<size_t>(n)), r + "/" + d);
      } else if (S_ISDIR(st.st_mode)) {
        b.Add(MountOpKind::kMkdir, "", r + "/" + d);
        b.Add(MountOpKind::kBindReadOnly, host, r + "/" + d);
      }
    }
    for (const char* f : kMaskedEtc) {
      struct stat st;
      if (lstat((std::string("/") + f).c_str(), &st) == 0 && S_ISREG(st.st_mode))
        b.Add(MountOpKind::kBindReadOnly, "/dev/null", r + "/" + f, nullptr, 0, "", true);
    }
  } else {
    struct stat st;
    if (stat(spec.rootfs.c_str(), &st) != 0)
      return Fail(ErrorCode::kNotFound, "rootfs '" + spec.rootfs + "' does not exist");
    if (!S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kInvalidInput, "rootfs '" + spec.rootfs + "' is not a directory");
    // Bind what the path resolves to now (Validate() refused the host's `/`).
    char resolved[PATH_MAX];
    if (!realpath(spec.rootfs.c_str(), resolved))
      return FailErrno("resolving rootfs '" + spec.rootfs + "'");
    if (std::string(resolved) == "/")
      return Fail(ErrorCode::kInvalidInput,
                  "rootfs '" + spec.rootfs + "' is the host's root directory");
    // The box cannot make a mount point in a directory it does not own.
    if (volume &&
        (lstat((std::string(resolved) + "/data").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
      return Fail(ErrorCode::kInvalidInput,
                  "rootfs '" + spec.rootfs +
                      "' has no directory /data for the box's volume (disk_max, --disk): a root "
                      "fs brings its mount points; create " +
                      resolved + "/data");
    b.Add(MountOpKind::kMount, resolved, r, nullptr, MS_BIND | MS_REC);
  }
  for (const char* d : {"tmp", "scratch", "dev", "proc", "sys"})
    b.Add(MountOpKind::kMkdir, "", r + "/" + d);
  if (volume) b.Add(MountOpKind::kMkdir, "", r + "/data");
  // The rootfs and every mount the host has inside it: ro, nosuid, nodev, before silk
  // mounts its own writable /tmp, /scratch and /dev on top.
  if (!spec.rootfs.empty()) b.Add(MountOpKind::kRemountRo, "", r, nullptr, MS_REC | kNoSuidDev);
  // /dev
  const std::string dev = r + "/dev";
  b.Add(MountOpKind::kMount, "tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  for (const char* d : kDevices) {
    std::string host = std::string("/dev/") + d;
    if (access(host.c_str(), F_OK) != 0) continue;
    b.Add(MountOpKind::kTouch, "", dev + "/" + d);
    b.Add(MountOpKind::kMount, host, dev + "/" + d, nullptr, MS_BIND);
  }
  // A nest-ready box's node manager makes tun devices (a box cannot mknod).
  if (spec.nest && access("/dev/net/tun", F_OK) == 0) {
    b.Add(MountOpKind::kMkdir, "", dev + "/net");
    b.Add(MountOpKind::kTouch, "", dev + "/net/tun");
    b.Add(MountOpKind::kMount, "/dev/net/tun", dev + "/net/tun", nullptr, MS_BIND);
  }
  b.Add(MountOpKind::kSymlink, "/proc/self/fd", dev + "/fd");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/0", dev + "/stdin");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/1", dev + "/stdout");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/2", dev + "/stderr");
  b.Add(MountOpKind::kMkdir, "", dev + "/shm");
  // One tmpfs, one budget: /tmp, /scratch and /dev/shm are binds of its subdirectories.
  // It is mounted on the (still empty) /proc mount point, split, and detached again,
  // so its root is reachable from nowhere in the box.
  const std::string pool = r + "/proc";
  b.Add(MountOpKind::kMount, "scratch", pool, "tmpfs", kNoSuidDev, "mode=0755," + size);
  for (const auto& [sub, target] : {std::pair<const char*, std::string>{"tmp", r + "/tmp"},
                                    {"scratch", r + "/scratch"},
                                    {"shm", dev + "/shm"}}) {
    b.Add(MountOpKind::kMkdir, "", pool + "/" + sub, nullptr, 01777);
    b.Add(MountOpKind::kMount, pool + "/" + sub, target, nullptr, MS_BIND);
  }
  b.Add(MountOpKind::kUmount, "", pool);
  // The volume, after the rootfs went read-only: it stays writable. Its fd comes later
  // (SetVolumeFd); none fails the move (EBADF).
  if (volume) b.Add(MountOpKind::kMoveMount, "", r + "/data", nullptr, ~0ul);
  if (spec.tty) {
    b.Add(MountOpKind::kMkdir, "", dev + "/pts");
    b.Add(MountOpKind::kMount, "devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620");
    b.Add(MountOpKind::kSymlink, "pts/ptmx", dev + "/ptmx");
  }
  b.Add(MountOpKind::kRemountRo, "", dev, nullptr, MS_NOSUID | MS_NOEXEC);
  // /proc, with the kernel's knobs out of reach.
  const std::string proc = r + "/proc";
  b.Add(MountOpKind::kMount, "proc", proc, "proc", kNoSuidDev | MS_NOEXEC);
  // Not in a nest-ready box: the kernel lets its boxes mount their own proc only while a
  // fully visible one is mounted here (mount_too_revealing(), fs/namespace.c). What the
  // masks hide stays out of reach of its root all the same: that root is an unprivileged
  // host uid, and its capabilities count in its own user namespace only.
  if (!spec.nest) {
    for (const char* f : kProcMaskedFiles)
      b.Add(MountOpKind::kMount, "/dev/null", proc + "/" + f, nullptr, MS_BIND, "", true);
    for (const char* d : kProcMaskedDirs)
      b.Add(MountOpKind::kMount, "tmpfs", proc + "/" + d, "tmpfs", MS_RDONLY | kNoSuidDev, "size=0",
            true);
    for (const char* d : kProcReadOnly)
      b.Add(MountOpKind::kBindReadOnly, proc + "/" + d, proc + "/" + d, nullptr, 0, "", true);
  }
  // /sys read-only; a user namespace may be refused sysfs (then /sys stays empty).
  b.Add(MountOpKind::kMount, "sysfs", r + "/sys", "sysfs", MS_RDONLY | kNoSuidDev | MS_NOEXEC, "",
        true);
  if (spec.nest) {
    // The inner silk's state root, and the binary that made this box (DESIGN: the binary
    // that deploys generation N+1 is the one that runs in it), read-only.
    char self[PATH_MAX];
    if (!realpath("/proc/self/exe", self)) return FailErrno("resolving silk's own binary");
    b.Add(MountOpKind::kMkdir, "", r + "/run");
    b.Add(MountOpKind::kMount, "run", r + "/run", "tmpfs", kNoSuidDev, "mode=0755,size=16m");
    for (const char* d : {"/run/silk", "/run/silk/bin"}) b.Add(MountOpKind::kMkdir, "", r + d);
    b.Add(MountOpKind::kTouch, "", r + kNestSilkPath);
    b.Add(MountOpKind::kBindReadOnly, self, r + kNestSilkPath);
  }
  if (spec.rootfs.empty())
    b.Add(MountOpKind::kRemountRo, "", r, nullptr, kNoSuidDev);
  else
    b.Add(MountOpKind::kRemountRo, "", r, nullptr, MS_BIND | kNoSuidDev);
  // The audit login uid: any task may set it once while it is unset (4294967295, no
  // login session); changing it after needs CAP_AUDIT_CONTROL in the initial user
  // namespace (audit_set_loginuid_perm(), kernel/audit.c). A /proc/self file cannot be
  // masked by a bind, so the box's init sets it to the box's uid before the command
  // runs; the box cannot change it. Fails harmlessly when already set or without audit.
  b.Add(MountOpKind::kWriteFile, "", "/proc/self/loginuid", nullptr, 0, std::to_string(spec.uid),
        true);
  b.Add(MountOpKind::kPivot, "", r);
  return b;
}

void MountPlanBuilder::AddCgroupMounts(const std::vector<CgroupMount>& cgroups) {
  if (cgroups.empty()) return;
  auto at = std::find_if(ops_.begin(), ops_.end(),
                         [](const MountOp& op) { return op.kind == MountOpKind::kPivot; });
  const std::string root = at->target;
  std::vector<MountOp> more;
  std::swap(more, ops_);
  ops_.assign(more.begin(), more.begin() + (at - more.begin()));
  const std::string base = root + "/sys/fs/cgroup";
  const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  Add(MountOpKind::kMount, "cgroups", base, "tmpfs", flags, "mode=0755,size=64k");
  for (const auto& c : cgroups) {
    Add(MountOpKind::kMkdir, "", base + "/" + c.name);
    Add(MountOpKind::kMount, c.fstype, base + "/" + c.name, S(c.fstype), flags, c.options);
  }
  Add(MountOpKind::kRemountRo, "", base, nullptr, flags);
  ops_.insert(ops_.end(), more.begin() + (at - more.begin()), more.end());
}

void MountPlanBuilder::SetTunSource(const std::string& node) {
  for (auto& op : ops_)
    if (op.kind == MountOpKind::kMount && op.source && std::string(op.source) == "/dev/net/tun")
      op.source = S(node);
}

void MountPlanBuilder::SetVolumeFd(int fd) {
  for (auto& op : ops_)
    if (op.kind == MountOpKind::kMoveMount) op.flags = static_cast<unsigned long>(fd);
}

namespace {

// The target must be what we expect and not a symlink planted in a caller's rootfs.
bool TargetIsSafe(const char* target) {
  struct stat st;
  if (lstat(target, &st) != 0) return false;
  return !S_ISLNK(st.st_mode);
}

// mount_setattr(2) on the tree at `target`: the attributes of `flags` (MS_RDONLY,
// MS_NOSUID, MS_NODEV, MS_NOEXEC) set on every mount, with AT_RECURSIVE when MS_REC.
// Only adds restrictions, so flags the kernel locked stay as they are.
int SetAttr(const char* target, unsigned long flags) {
  struct mount_attr attr = {};
  if (flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  unsigned int at = AT_SYMLINK_NOFOLLOW | ((flags & MS_REC) ? AT_RECURSIVE : 0);
  return static_cast<int>(syscall(SYS_mount_setattr, AT_FDCWD, target, at, &attr, sizeof attr));
}

int BindReadOnly(const MountOp& op) {
  if (!TargetIsSafe(op.target)) {
    errno = ELOOP;
    return -1;
  }
  if (mount(op.source, op.target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
  // Not a remount (MS_REMOUNT|MS_BIND changes only the top mount and must restate the
  // flags the kernel locked): add ro, nosuid, nodev to every mount of the tree.
  return SetAttr(op.target, MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV);
}

int Pivot(const char* root) {
  if (chdir(root) != 0) return -1;
  // pivot_root(".", "."): the old root ends up on top of the new one, then is detached
  // (pivot_root(2), "NOTES").
  if (syscall(SYS_pivot_root, ".", ".") != 0) return -1;
  if (umount2(".", MNT_DETACH) != 0) return -1;
  return chdir("/");
}

}  // namespace

int ExecuteMountPlan(const MountPlan& plan, size_t* failed_op) {
  for (size_t i = 0; i < plan.count; ++i) {
    const MountOp& op = plan.ops[i];
    int rc = 0;
    switch (op.kind) {
      case MountOpKind::kMount:
        if (op.source && op.source[0] == '/' && !TargetIsSafe(op.target)) {
          errno = ELOOP;
          rc = -1;
          break;
        }
        rc = mount(op.source, op.target, op.fstype, op.flags, op.data);
        break;
      case MountOpKind::kBindReadOnly:
        rc = BindReadOnly(op);
        break;
      case MountOpKind::kMkdir:
        rc = mkdir(op.target, op.flags ? static_cast<mode_t>(op.flags) : 0755);
        if (rc != 0 && errno == EEXIST) rc = TargetIsSafe(op.target) ? 0 : (errno = ELOOP, -1);
        if (rc == 0 && op.flags) rc = chmod(op.target, static_cast<mode_t>(op.flags));
        break;
      case MountOpKind::kTouch: {
        int fd = open(op.target, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        rc = fd < 0 ? -1 : close(fd);
        break;
      }
      case MountOpKind::kSymlink:
        rc = symlink(op.source, op.target);
        break;
      case MountOpKind::kRemountRo:
        if (op.flags & MS_REC)
          rc = SetAttr(op.target, op.flags | MS_RDONLY);
        else
          rc = mount(nullptr, op.target, nullptr, MS_REMOUNT | MS_RDONLY | op.flags, nullptr);
        break;
      case MountOpKind::kUmount:
        rc = umount2(op.target, MNT_DETACH | UMOUNT_NOFOLLOW);
        break;
      case MountOpKind::kWriteFile: {
        int fd = open(op.target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
          rc = -1;
          break;
        }
        size_t len = op.data ? strlen(op.data) : 0;
        rc = write(fd, op.data, len) == static_cast<ssize_t>(len) ? 0 : -1;
        close(fd);
        break;
      }
      case MountOpKind::kPivot:
        rc = Pivot(op.target);
        break;
      case MountOpKind::kMoveMount:
        if (!TargetIsSafe(op.target)) {
          errno = ELOOP;
          rc = -1;
          break;
        }
        rc = move_mount(static_cast<int>(op.flags), "", AT_FDCWD, op.target,
                        MOVE_MOUNT_F_EMPTY_PATH);
        break;
    }
    if (rc != 0 && !op.optional) {
      *failed_op = i;
      return -1;
    }
  }
  return 0;
}

}  // namespace silk::compat::internal
