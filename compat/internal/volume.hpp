// A box's volume (BoxSpec::disk_max, `--disk SIZE`, PlanetLab's disk_max): a persistent,
// size-limited ext4 file system the box sees at /data. It is a sparse image file on disk
// (<volume root>/<box id>-<random>.img, never under the state root, which is RAM) of
// exactly the quota, formatted by mkfs.ext4 with no reserved blocks and its root owned by
// the box's user, attached to a free loop device (LO_FLAGS_AUTOCLEAR) and mounted
// (nosuid, nodev, discard) as a *detached* mount (fsopen/fsmount): nothing appears in the
// host's mount table. The box's child moves that mount onto its /data (move_mount, in
// its own mount namespace; mounts.hpp kMoveMount), so the file system lives exactly as
// long as the box's mount namespace and the supervisor's mount fd: when both are gone
// (the box exits, or its supervisor is SIGKILLed and the box with it, PR_SET_PDEATHSIG)
// the kernel unmounts it and the loop device detaches itself. Writing past the quota
// gets ENOSPC in the box; the host gives the image at most its size (plus the host file
// system's own extent metadata), and with `discard` what the box deletes is given back.
//
// What outlives the box is the image: kept for a named box until `silk box delete`,
// removed at the end of a transient one. Write-ahead: the image's path is recorded in the
// box's state directory (BoxState::RecordVolume) before the file is made, so the sweep
// and `box delete` (SweepBoxDir) remove it whatever point a SIGKILL hit.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "compat/box_spec.hpp"

namespace silk::compat::internal {

// Where images go unless RunOptions::volume_root says otherwise (root only: loop devices
// and ext4 mounts need it).
inline constexpr const char* kDefaultVolumeRoot = "/var/lib/silk/volumes";

struct VolumeRequest {
  std::string root;        // directory of the images (made 0700 if missing)
  std::string box_id;      // names the image
  uint64_t size = 0;       // bytes: the image's size, the box's quota
  uint32_t owner_uid = 0;  // host ids that own the file system's root directory
  uint32_t owner_gid = 0;
};

// The host id box id `id` maps to under `map` (a box's uid_map or gid_map); `id` itself
// when no line maps it (Validate() keeps a spec's uid and gid inside its maps).
uint32_t HostIdOf(const std::vector<IdMapping>& map, uint32_t id);

// Checks a quota before anything is made: at least kMinDiskSize (box_spec.hpp) and at
// most the free space of the file system holding `root` (statvfs; the image is sparse,
// so a larger one could fill the host). Errors: kInvalidInput naming disk_max (--disk),
// both numbers and what to do; kSystem when `root`'s file system cannot be read.
Result<void> CheckVolumeSize(const std::string& root, uint64_t size);

class BoxVolume {
 public:
  // Makes the volume: checks the size (CheckVolumeSize), calls `record` with the image's
  // path before creating it (write-ahead), creates the sparse image (O_EXCL, 0600),
  // formats it, attaches a loop device (LOOP_CONFIGURE; LOOP_SET_FD + LOOP_SET_STATUS64
  // where the kernel lacks it; retried when another process takes the free device first)
  // and mounts it detached. On any error nothing stays but a recorded path the caller's
  // state removes: the image is unlinked here, the loop device detaches when its fd
  // closes. Errors: kUnsupported (not root, no loop devices), kNotFound (no mkfs.ext4),
  // kInvalidInput (the size), kSystem naming the step.
  static Result<BoxVolume> Create(const VolumeRequest& request,
                                  const std::function<Result<void>(const std::string&)>& record);

  BoxVolume(BoxVolume&&) noexcept;
  BoxVolume& operator=(BoxVolume&&) = delete;
  // Closes the mount fd and, unless Keep() was called, removes the image.
  ~BoxVolume();

  // The detached mount (O_CLOEXEC); the box's child moves it onto /data. -1 once closed.
  int mount_fd() const { return mount_.get(); }
  const std::string& image() const { return image_; }
  // Drops the supervisor's reference to the mount: from now on the box's mount namespace
  // alone keeps the file system (and the loop device) alive.
  void CloseMount() { mount_.Reset(); }
  // The image outlives this object (a named box, until `silk box delete`).
  void Keep() { keep_ = true; }

 private:
  BoxVolume(std::string image, UniqueFd mount)
      : image_(std::move(image)), mount_(std::move(mount)) {}
  std::string image_;
  UniqueFd mount_;
  bool keep_ = false;
};

// Removes a recorded image (the sweep, `box delete`): first detaches any loop device
// still backed by it (LOOP_CLR_FD: a device still mounted somewhere only becomes
// autoclear), then unlinks it. A missing image is not an error. Errors: kSystem.
Result<void> RemoveVolumeImage(const std::string& image);

// The loop devices whose backing file is `image` ("/dev/loopN"), from
// <sys_block>/loop*/loop/backing_file.
std::vector<std::string> LoopDevicesOf(const std::string& image,
                                       const std::string& sys_block = "/sys/block");

// How much of its quota a box's volume uses, seen from the host without entering the
// box: the image's size (the quota) and the bytes the host holds for it (st_blocks;
// includes the file system's metadata; what the box deletes is given back through
// discard). For `silk box stats`. Errors: kNotFound (no such image), kSystem.
struct VolumeUsage {
  uint64_t quota = 0;
  uint64_t used = 0;
};
Result<VolumeUsage> ReadVolumeUsage(const std::string& image);

}  // namespace silk::compat::internal
