// The box's root file system view (mounts + pivot_root), planned by the supervisor and
// executed by the child without allocation.
//
// Default view (no rootfs): a tmpfs root holding read-only binds of the host's /usr,
// /bin, /sbin, /lib*, /etc (symlinks where the host has merged /usr), a private tmpfs
// /tmp, a writable /scratch tmpfs of the spec's size, a /dev with only null zero full
// random urandom tty (plus /dev/pts and /dev/shm), a fresh /proc with the kernel knobs
// masked or read-only (/proc/sys, /proc/sysrq-trigger, /proc/kcore ...), and /sys
// read-only (absent when the kernel refuses sysfs in a user namespace). With a rootfs:
// the directory bound read-only, with the same /tmp /scratch /dev /proc /sys.
// Every mount target is checked not to be a symlink before it is mounted on.
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
  kBindReadOnly,  // bind source on target, then remount ro,nosuid,nodev (keeps locked flags)
  kMkdir,         // mkdir(target, 0755); EEXIST is fine
  kTouch,         // create an empty file at target (a bind mount point)
  kSymlink,       // symlink(source, target)
  kRemountRo,     // remount the filesystem at target read-only
  kPivot,         // pivot_root into target and detach the old root
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
  // directory on the host, mounted on only inside the box's mount namespace).
  // Errors: kNotFound when spec.rootfs does not exist or is not a directory.
  static Result<MountPlanBuilder> Build(const BoxSpec& spec, const std::string& staging);

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
