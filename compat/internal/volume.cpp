#include "compat/internal/volume.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "compat/box_spec.hpp"

namespace silk::compat::internal {
namespace {

// How often a free loop device is asked for when other processes take each one first.
constexpr int kLoopAttempts = 64;
// mkfs.ext4 takes well under a second for the sizes a box gets (lazy inode tables).
constexpr auto kMkfsTimeout = std::chrono::seconds(120);

// "<n> bytes (8 MiB)", or "(~<n> MiB)" when not a whole unit (free space never is).
std::string Bytes(uint64_t n) {
  std::string unit = FormatSize(n);
  if (unit.find("bytes") != std::string::npos || unit.find("KiB") != std::string::npos)
    unit = "~" + std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes (" + unit + ")";
}

// statvfs of `path`, or of its nearest existing ancestor (the root is made later).
Result<struct statvfs> StatNearest(std::string path) {
  struct statvfs st;
  for (;;) {
    if (statvfs(path.c_str(), &st) == 0) return st;
    if (errno != ENOENT || path.empty() || path == "/")
      return FailErrno("reading the free space of " + path);
    auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

// "<root>/<box id>-<16 hex digits>.img": unique also across state roots (emulated nodes
// share the volume root and may have boxes of the same name).
Result<std::string> NewImagePath(const std::string& root, const std::string& box_id) {
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd))
    return FailErrno("getrandom for the volume's name");
  char hex[sizeof rnd * 2 + 1];
  for (size_t i = 0; i < sizeof rnd; ++i) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
  return root + "/" + box_id + "-" + hex + ".img";
}

Result<void> Mkfs(const std::string& image, uint32_t uid, uint32_t gid) {
  SpawnOptions so;
  // -m 0: the box's root gets every block (no reserve it could not use anyway);
  // root_owner: the box's user owns /data; lazy init keeps the image sparse.
  so.argv = {"mkfs.ext4",
             "-q",
             "-F",
             "-m",
             "0",
             "-E",
             "root_owner=" + std::to_string(uid) + ":" + std::to_string(gid) +
                 ",lazy_itable_init=1,lazy_journal_init=1",
             image};
  so.clear_env = true;
  so.set_env = {{"PATH", kDefaultSearchPath}, {"LC_ALL", "C"}};
  auto out = RunAndCapture(so, std::chrono::steady_clock::now() + kMkfsTimeout);
  if (!out) {
    if (out.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "disk_max (--disk): mkfs.ext4 was not found in " +
                                            std::string(kDefaultSearchPath) +
                                            "; a box volume needs e2fsprogs");
    return Fail(std::move(out.error()));
  }
  if (!out->status.success())
    return Fail(ErrorCode::kSystem, "mkfs.ext4 " + image + " failed (" + out->status.Describe() +
                                        "): " + Trim(out->err + out->out));
  return {};
}

void CopyName(unsigned char (&dst)[LO_NAME_SIZE], const std::string& name) {
  size_t n = std::min(name.size(), sizeof dst - 1);
  memcpy(dst, name.data(), n);
  dst[n] = 0;
}

// Binds `image_fd` to a free loop device that detaches itself on its last close; returns
// the device's fd (keep it open until the file system holds the device) and its path.
Result<UniqueFd> AttachLoop(int image_fd, const std::string& image, std::string* dev) {
  UniqueFd ctl(open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl) {
    if (errno == ENOENT || errno == EACCES || errno == EPERM)
      return Fail(Error(ErrorCode::kUnsupported,
                        "disk_max (--disk): a volume needs loop devices, and /dev/loop-control "
                        "cannot be opened here",
                        errno));
    return FailErrno("opening /dev/loop-control");
  }
  for (int attempt = 0; attempt < kLoopAttempts; ++attempt) {
    int n = ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return FailErrno("finding a free loop device (LOOP_CTL_GET_FREE)");
    const std::string path = "/dev/loop" + std::to_string(n);
    UniqueFd loop(open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop) return FailErrno("opening " + path);
    loop_config cfg{};
    cfg.fd = static_cast<uint32_t>(image_fd);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    CopyName(cfg.info.lo_file_name, image);
    if (ioctl(loop.get(), LOOP_CONFIGURE, &cfg) == 0) {
      *dev = path;
      return loop;
    }
    // Another process bound it between LOOP_CTL_GET_FREE and here: ask again.
    if (errno == EBUSY) continue;
    if (errno != EINVAL && errno != ENOTTY) return FailErrno("attaching " + image + " to " + path);
    // No LOOP_CONFIGURE (before Linux 5.8): bind, then set the flags.
    if (ioctl(loop.get(), LOOP_SET_FD, image_fd) != 0) {
      if (errno == EBUSY) continue;
      return FailErrno("attaching " + image + " to " + path + " (LOOP_SET_FD)");
    }
    loop_info64 info{};
    info.lo_flags = LO_FLAGS_AUTOCLEAR;
    CopyName(info.lo_file_name, image);
    if (ioctl(loop.get(), LOOP_SET_STATUS64, &info) != 0) {
      int err = errno;
      ioctl(loop.get(), LOOP_CLR_FD, 0);
      return FailErrno("setting autoclear on " + path + " (LOOP_SET_STATUS64)", err);
    }
    *dev = path;
    return loop;
  }
  return Fail(ErrorCode::kSystem, "no free loop device for " + image + " after " +
                                      std::to_string(kLoopAttempts) +
                                      " attempts: other processes took each one first");
}

// The kernel's messages about a failed fsconfig (read from the fs context, "e ...").
std::string FsLog(int fs) {
  std::string log;
  char buf[512];
  for (int i = 0; i < 8; ++i) {
    ssize_t n = read(fs, buf, sizeof buf - 1);
    if (n <= 0) break;
    buf[n] = 0;
    log += (log.empty() ? "" : "; ") + std::string(buf);
  }
  return log.empty() ? "" : " (" + log + ")";
}

// ext4 on `dev`, nosuid and nodev, attached nowhere.
Result<UniqueFd> MountDetached(const std::string& dev) {
  UniqueFd fs(fsopen("ext4", FSOPEN_CLOEXEC));
  if (!fs) return FailErrno("fsopen(ext4) for the volume (Linux 5.2+, ext4)");
  if (fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", dev.c_str(), 0) != 0)
    return FailErrno("fsconfig source=" + dev + FsLog(fs.get()));
  // What the box deletes is punched out of the image: the host gets it back.
  if (fsconfig(fs.get(), FSCONFIG_SET_FLAG, "discard", nullptr, 0) != 0)
    return FailErrno("fsconfig discard" + FsLog(fs.get()));
  if (fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return FailErrno("mounting the volume's ext4 on " + dev + FsLog(fs.get()));
  UniqueFd mnt(fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!mnt) return FailErrno("fsmount of the volume on " + dev);
  return mnt;
}

}  // namespace

uint32_t HostIdOf(const std::vector<IdMapping>& map, uint32_t id) {
  for (const auto& m : map)
    if (id >= m.inside && id - m.inside < m.count) return m.outside + (id - m.inside);
  return id;
}

Result<void> CheckVolumeSize(const std::string& root, uint64_t size) {
  if (size < kMinDiskSize)
    return Fail(ErrorCode::kInvalidInput,
                "disk_max (--disk): " + Bytes(size) + " is below the minimum of " +
                    FormatSize(kMinDiskSize) +
                    " (ext4's journal and metadata would leave the box little); give at least 16M");
  struct statvfs st = SILK_TRY(StatNearest(root));
  const uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (size > free)
    return Fail(ErrorCode::kInvalidInput,
                "disk_max (--disk): " + Bytes(size) + " is more than the free space of " + root +
                    "'s file system (" + Bytes(free) +
                    "); the image is sparse, so a box could fill the host: give at most that, "
                    "or another volume directory");
  return {};
}

Result<BoxVolume> BoxVolume::Create(const VolumeRequest& req,
                                    const std::function<Result<void>(const std::string&)>& record) {
  if (geteuid() != 0)
    return Fail(ErrorCode::kUnsupported,
                "disk_max (--disk): a volume needs root (loop devices and ext4 mounts)");
  SILK_TRY(CheckVolumeSize(req.root, req.size));
  SILK_TRY(MakeDirs(req.root, 0700, "the volume directory"));
  const std::string image = SILK_TRY(NewImagePath(req.root, req.box_id));
  SILK_TRY(record(image));  // write-ahead
  UniqueFd file(open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file) return FailErrno("creating the volume image " + image);
  BoxVolume volume(image, UniqueFd());  // from here on an error removes the image
  if (ftruncate(file.get(), static_cast<off_t>(req.size)) != 0)
    return FailErrno("sizing the volume image " + image);
  SILK_TRY(Mkfs(image, req.owner_uid, req.owner_gid));
  std::string dev;
  UniqueFd loop = SILK_TRY(AttachLoop(file.get(), image, &dev));
  // The loop device keeps the file; the mount keeps the device (and our `loop` fd, closed
  // on return, no longer matters: AUTOCLEAR detaches it when the mount goes).
  volume.mount_ = SILK_TRY(WithContext(MountDetached(dev), "the box's volume " + image));
  return volume;
}

BoxVolume::BoxVolume(BoxVolume&& other) noexcept
    : image_(std::move(other.image_)), mount_(std::move(other.mount_)), keep_(other.keep_) {
  other.image_.clear();
}

BoxVolume::~BoxVolume() {
  mount_.Reset();
  if (!keep_ && !image_.empty()) unlink(image_.c_str());
}

std::vector<std::string> LoopDevicesOf(const std::string& image, const std::string& sys_block) {
  std::vector<std::string> devs;
  DIR* d = opendir(sys_block.c_str());
  if (!d) return devs;
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (strncmp(e->d_name, "loop", 4) == 0) names.push_back(e->d_name);
  closedir(d);
  for (const auto& n : names) {
    auto backing = ReadFile(sys_block + "/" + n + "/loop/backing_file");
    if (!backing) continue;
    std::string b = Trim(*backing);
    if (b == image || b == image + " (deleted)") devs.push_back("/dev/" + n);
  }
  return devs;
}

Result<void> RemoveVolumeImage(const std::string& image) {
  for (const auto& dev : LoopDevicesOf(image)) {
    // Still bound: its box's namespace is gone, so at most a stray opener holds it.
    // LOOP_CLR_FD detaches now, or (busy) marks it to detach on its last close.
    UniqueFd loop(open(dev.c_str(), O_RDONLY | O_CLOEXEC));
    if (loop) (void)ioctl(loop.get(), LOOP_CLR_FD, 0);
  }
  if (unlink(image.c_str()) != 0 && errno != ENOENT)
    return FailErrno("removing the volume image " + image);
  return {};
}

Result<VolumeUsage> ReadVolumeUsage(const std::string& image) {
  struct stat st;
  if (stat(image.c_str(), &st) != 0) {
    if (errno == ENOENT) return Fail(ErrorCode::kNotFound, "no volume image " + image);
    return FailErrno("reading the volume image " + image);
  }
  return VolumeUsage{static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blocks) * 512};
}

}  // namespace silk::compat::internal
