// Per-box state on the host, so that a box whose supervisor was SIGKILLed can be
// reclaimed by the next silk that starts (the startup sweep):
//   <state_root>/<box id>/supervisor  "<pid> <start time in clock ticks>"
//   <state_root>/<box id>/cgroups     one cgroup directory per line
//   <state_root>/<box id>/veth        the host end of the box's veth pair, if any
//   <state_root>/<box id>/idrange     "<first host id> <count>" of its user namespace
//   <state_root>/<box id>/volume      the image of its volume (volume.hpp), if any: the
//                                     sweep and `box delete` remove it
//   <state_root>/<box id>/root/       mount point of the box's new root (mounted only
//                                     inside the box's own mount namespace)
// and for a named box (`silk box create`, RunOptions::persistent), which outlives its
// supervisor until `silk box delete`:
//   <state_root>/<box id>/persistent  marker: the sweep leaves the directory alone
//   <state_root>/<box id>/status      the box's record (box_lifecycle.hpp), JSON
//   <state_root>/<box id>/output.log  the command's stdout and stderr
//   <state_root>/<box id>/start       FIFO a created box's supervisor waits on
// Ownership is an exclusive flock on <state_root>/<box id>/, held by the supervisor for
// the box's whole life; the sweep reclaims only directories whose lock it can take
// (LOCK_NB), so it never touches a live box and the kernel frees the lock of a dead one.
// The supervisor record is informational (for people and `box state`).
// Write-ahead: each resource is recorded before it is made (a record of something that
// was never made costs the sweep nothing), each record file is replaced whole (rename),
// and the directory appears under <box id> with its supervisor record already in it, so
// a SIGKILL at any point leaves nothing the sweep cannot find.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

class BoxState {
 public:
  // Creates the directory for `id` and records this process as the supervisor
  // (`persistent`: with the marker, write-ahead). A leftover directory of a dead
  // supervisor with the same id is swept first (not a persistent one: that is a named
  // box until it is deleted). Errors: kSystem (naming the path), kInvalidInput if a live
  // or named box has this id.
  static Result<BoxState> Create(const std::string& state_root, const std::string& id,
                                 bool persistent = false);
  BoxState(BoxState&& other) noexcept;
  BoxState& operator=(BoxState&&) = delete;
  ~BoxState();  // removes the directory

  const std::string& dir() const { return dir_; }
  std::string root_dir() const { return dir_ + "/root"; }
  // Records the cgroup directories of the box, before they are created (BoxCgroup::
  // Create's `record`); replaces the previous record.
  Result<void> RecordCgroups(const std::vector<std::string>& paths);
  Result<void> RecordVeth(const std::string& host_ifname);
  // The box's volume image (volume.hpp), before it is created.
  Result<void> RecordVolume(const std::string& image);
  // The host id range the box's user namespace maps (informational: the lease itself is
  // an flock that dies with the supervisor, idrange.hpp).
  Result<void> RecordIdRange(uint32_t first_id, uint32_t count);
  // Replaces the box's status record (persistent boxes).
  Result<void> RecordStatus(const std::string& json);
  // From now on the directory outlives this object (a created named box): only root/
  // goes with it; its records stay for `box state` and `box delete`.
  void Keep() { keep_ = true; }
  bool kept() const { return keep_; }

 private:
  explicit BoxState(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  UniqueFd lock_;  // the directory, flock(LOCK_EX)
  bool keep_ = false;
};

// The names of the entries of the state root (box ids and transient names), sorted;
// none when it does not exist. Errors: kSystem naming the root.
Result<std::vector<std::string>> StateDirNames(const std::string& state_root);

// Whether a live supervisor holds the lock of the state directory `dir` (probed with a
// non-blocking flock, released at once).
bool SupervisorAlive(const std::string& dir);

// The start time of `pid` (field 22 of /proc/<pid>/stat), or 0 if there is no such pid.
unsigned long long ProcessStartTime(pid_t pid);

// The volume image recorded in the state directory `dir`, or "" when it has none (for
// `silk box stats`: ReadVolumeUsage in volume.hpp).
std::string RecordedVolumeImage(const std::string& dir);

// Reclaims one box directory if no live supervisor holds its lock. Returns true if it did.
// A named box's directory (the persistent marker) is reclaimed only with
// `named_too` (`silk box delete`).
Result<bool> SweepBoxDir(const std::string& dir, bool named_too = false);

}  // namespace silk::compat::internal
