// The box's root file system view (mounts + pivot_root), planned by the supervisor and
// executed by the child without allocation.
//
// Default view (no rootfs): a tmpfs root holding read-only binds of the host's /usr,
// /bin, /sbin, /lib*, /etc (symlinks where the host has merged /usr), writable /tmp,
// /scratch and /dev/shm that share one tmpfs of the spec's scratch size (one budget), a
// /dev with only null zero full random urandom tty (plus /dev/pts), a fresh /proc with
// the kernel knobs masked or read-only (/proc/sys, /proc/sysrq-trigger, /proc/kcore
// ...), and /sys read-only (absent when the kernel refuses sysfs in a user namespace).
// With a rootfs: the directory bound with the same /tmp /scratch /dev /proc /sys.
// A box with a volume (BoxSpec::disk_max, volume.hpp) gets it at /data, read-write, moved
// there from the supervisor's detached mount (a rootfs must bring the /data directory).
// Host binds are read-only, nosuid and nodev all the way down: mount_setattr(2) with
// AT_RECURSIVE covers mounts the host has inside them (Linux 5.12+).
// Every mount target is checked not to be a symlink before it is mounted on.
//
// What /proc/self/mountinfo still shows (the kernel writes it): for each host bind, the
// host's device numbers, file system type and super block options (the rootfs's ext4
// device, devtmpfs's size= for the /dev nodes, which /proc/meminfo shows anyway). The
// box's own tmpfs mounts show their own sizes; no host tmpfs is bound in the default
// view unless the host mounts one inside /usr, /etc or /lib*.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::compat {
struct BoxSpec;
}

namespace silk::compat::internal {

enum class MountOpKind : uint8_t {
  kMount,         // mount(source, target, fstype, flags, data)
  kBindReadOnly,  // bind source on target recursively, then ro,nosuid,nodev on every mount
                  // of the tree (mount_setattr AT_RECURSIVE; keeps locked flags)
  kMkdir,         // mkdir(target) with mode `flags` (0 = 0755, umask ignored); EEXIST is fine
  kTouch,         // create an empty file at target (a bind mount point)
  kSymlink,       // symlink(source, target)
  kRemountRo,     // remount the filesystem at target read-only (flags: MS_NOSUID ...); with
                  // MS_REC every mount below target too (mount_setattr AT_RECURSIVE)
  kPivot,         // pivot_root into target and detach the old root
  kUmount,        // detach the mount at target (umount2 MNT_DETACH)
  kWriteFile,     // write `data` to the existing file at target (a /proc knob of the child)
  kMoveMount,     // move the detached mount of fd `flags` (fsmount, inherited) onto target
};

struct MountOp {
  MountOpKind kind;
  const char* source;
  const char* target;
  const char* fstype;
  unsigned long flags;
  const char* data;
  bool optional;  // failure is ignored (e.g. sysfs refused in a user namespace)
};

struct MountPlan {
  const MountOp* ops = nullptr;
  size_t count = 0;
};

// Owns the strings and ops of a plan.
class MountPlanBuilder {
 public:
  // Plans the view for `spec` with the new root assembled at `staging` (an empty
  // directory on the host, mounted on only inside the box's mount namespace); with
  // spec.disk_max, /data for the box's volume, whose mount SetVolumeFd() names.
  // Errors: kNotFound when spec.rootfs does not exist or is not a directory;
  // kInvalidInput when a volume is asked for and the rootfs has no /data directory.
  static Result<MountPlanBuilder> Build(const BoxSpec& spec, const std::string& staging);
  // A nest-ready box's cgroups (BoxSpec::nest): a tmpfs on /sys/fs/cgroup holding a fresh
  // mount of each hierarchy, made in the box's cgroup namespace (so rooted at the box's
  // own cgroup: nothing above is reachable), then the tmpfs read-only. Needs the box's
  // /sys (a sysfs refused in the user namespace fails the box, naming the step).
  struct CgroupMount {
    std::string name;     // directory under /sys/fs/cgroup ("cpu,cpuacct", "unified")
    std::string fstype;   // "cgroup" (v1) or "cgroup2"
    std::string options;  // v1: the hierarchy's controllers ("cpu,cpuacct")
  };
  void AddCgroupMounts(const std::vector<CgroupMount>& cgroups);
  // A nest-ready box's /dev/net/tun is a bind of `node` instead of the host's node.
  void SetTunSource(const std::string& node);
  // The box's volume for /data: a detached mount (volume.hpp) the child inherits as `fd`.
  void SetVolumeFd(int fd);

  MountPlan plan() const { return {ops_.data(), ops_.size()}; }
  const std::vector<MountOp>& ops() const { return ops_; }

 private:
  const char* S(std::string s);
  void Add(MountOpKind kind, const std::string& source, const std::string& target,
           const char* fstype = nullptr, unsigned long flags = 0, const std::string& data = "",
           bool optional = false);
  std::deque<std::string> strings_;
  std::vector<MountOp> ops_;
};

// Executes the plan (in the child). Returns -1 and sets *failed_op on error (errno set).
int ExecuteMountPlan(const MountPlan& plan, size_t* failed_op);

}  // namespace silk::compat::internal
