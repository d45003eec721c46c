#include "compat/internal/mounts.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

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
  const std::string& r = staging;
  std::string size = "size=" + std::to_string(spec.scratch_size);
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
    b.Add(MountOpKind::kMount, spec.rootfs, r, nullptr, MS_BIND | MS_REC);
  }
  for (const char* d : {"tmp", "scratch", "dev", "proc", "sys"})
    b.Add(MountOpKind::kMkdir, "", r + "/" + d);
  b.Add(MountOpKind::kMount, "tmpfs", r + "/tmp", "tmpfs", kNoSuidDev, "mode=1777," + size);
  b.Add(MountOpKind::kMount, "scratch", r + "/scratch", "tmpfs", kNoSuidDev, "mode=1777," + size);
  // /dev
  const std::string dev = r + "/dev";
  b.Add(MountOpKind::kMount, "tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  for (const char* d : kDevices) {
    std::string host = std::string("/dev/") + d;
    if (access(host.c_str(), F_OK) != 0) continue;
    b.Add(MountOpKind::kTouch, "", dev + "/" + d);
    b.Add(MountOpKind::kMount, host, dev + "/" + d, nullptr, MS_BIND);
  }
  b.Add(MountOpKind::kSymlink, "/proc/self/fd", dev + "/fd");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/0", dev + "/stdin");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/1", dev + "/stdout");
  b.Add(MountOpKind::kSymlink, "/proc/self/fd/2", dev + "/stderr");
  b.Add(MountOpKind::kMkdir, "", dev + "/shm");
  b.Add(MountOpKind::kMount, "shm", dev + "/shm", "tmpfs", kNoSuidDev, "mode=1777," + size);
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
  for (const char* f : kProcMaskedFiles)
    b.Add(MountOpKind::kMount, "/dev/null", proc + "/" + f, nullptr, MS_BIND, "", true);
  for (const char* d : kProcMaskedDirs)
    b.Add(MountOpKind::kMount, "tmpfs", proc + "/" + d, "tmpfs", MS_RDONLY | kNoSuidDev, "size=0",
          true);
  for (const char* d : kProcReadOnly)
    b.Add(MountOpKind::kBindReadOnly, proc + "/" + d, proc + "/" + d, nullptr, 0, "", true);
  // /sys read-only; a user namespace may be refused sysfs (then /sys stays empty).
  b.Add(MountOpKind::kMount, "sysfs", r + "/sys", "sysfs", MS_RDONLY | kNoSuidDev | MS_NOEXEC, "",
        true);
  if (spec.rootfs.empty())
    b.Add(MountOpKind::kRemountRo, "", r, nullptr, kNoSuidDev);
  else
    b.Add(MountOpKind::kRemountRo, "", r, nullptr, MS_BIND | kNoSuidDev);
  b.Add(MountOpKind::kPivot, "", r);
  return b;
}

namespace {

// The target must be what we expect and not a symlink planted in a caller's rootfs.
bool TargetIsSafe(const char* target) {
  struct stat st;
  if (lstat(target, &st) != 0) return false;
  return !S_ISLNK(st.st_mode);
}

int BindReadOnly(const MountOp& op) {
  if (!TargetIsSafe(op.target)) {
    errno = ELOOP;
    return -1;
  }
  if (mount(op.source, op.target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
  // A remount must keep the flags the kernel locked on the original mount (nodev,
  // noexec, ... in a user namespace): read them back and add ro, nosuid, nodev.
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (mount(nullptr, op.target, nullptr, flags, nullptr) == 0) return 0;
  // Locked noexec (e.g. /proc knobs): retry with it.
  return mount(nullptr, op.target, nullptr, flags | MS_NOEXEC, nullptr);
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
        rc = mkdir(op.target, 0755);
        if (rc != 0 && errno == EEXIST) rc = TargetIsSafe(op.target) ? 0 : (errno = ELOOP, -1);
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
        rc = mount(nullptr, op.target, nullptr, MS_REMOUNT | MS_RDONLY | op.flags, nullptr);
        break;
      case MountOpKind::kPivot:
        rc = Pivot(op.target);
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
