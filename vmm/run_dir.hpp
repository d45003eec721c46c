// silk::vmm: per-VM names and run directories.
//
// Every VM silk starts gets a name no other VM on the host has (prefix + random hex) and
// its own directory, <root>/<name>/, holding the control socket, the console log and the
// staged image (image/: the kernel and initramfs the VM boots, copied from the image
// directory and verified there), so that several VMs at once never share a socket, a log
// or a tap name, and QEMU reads only what silk verified. The directory is removed with
// everything in it when the VmRunDir is destroyed (a kept one keeps its console log only).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "images/image.hpp"

namespace silk::vmm {

inline constexpr const char kDefaultRunRoot[] = "/run/silk/vm";

// "<prefix>-<12 random hex digits>". Errors: kSystem if getrandom fails.
Result<std::string> UniqueVmName(const std::string& prefix = "silk");
// A tap name unique with the VM's name: "sk" + the name's last 10 hex digits + index
// (<= 15 characters, never libvirt's reserved "vnet").
std::string TapName(const std::string& vm_name, unsigned index);

class VmRunDir {
 public:
  // Creates <root>/<name>/ (mode 0711 on the way so that QEMU, running as its own user,
  // can reach the staged image and the socket libvirt hands it). Errors: kSystem naming
  // the path; kInvalidInput when a directory above it (one that existed, e.g. a private
  // 0700 one) does not let QEMU's user (libvirt-qemu) through, naming it and what to do.
  static Result<VmRunDir> Create(const std::string& root, const std::string& name);
  VmRunDir(VmRunDir&& o) noexcept : path_(std::move(o.path_)), keep_(o.keep_) { o.path_.clear(); }
  VmRunDir& operator=(VmRunDir&&) = delete;
  ~VmRunDir();

  const std::string& path() const { return path_; }
  std::string control_socket() const { return path_ + "/control.sock"; }
  std::string console_log() const { return path_ + "/console.log"; }
  // Where StageImage puts the image the VM boots.
  std::string staged_image_dir() const { return path_ + "/image"; }
  // Leave the directory in place with its console log (the staged image still goes).
  void Keep() { keep_ = true; }
  // Leave the directory in place whole (a named VM's: it lives until `silk vm delete`,
  // which removes it with RemoveRunDir).
  void Release() { path_.clear(); }

 private:
  explicit VmRunDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool keep_ = false;
};

// Removes the run directory `path` with everything in it (links are removed, never
// followed). A missing directory is not an error. Errors: kSystem naming what stayed.
Result<void> RemoveRunDir(const std::string& path);

// An image directory opened for staging (kept open, so the copy comes from the
// directory that was named even if the name is moved meanwhile).
struct ImageSource {
  std::string dir;  // as the caller named it; messages use it
  UniqueFd fd;      // O_RDONLY | O_DIRECTORY
};

// The most bytes one staged image file may have (the kernel or initramfs; ~15-30 MiB).
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

// Opens `dir` for staging. Errors: kNotFound if it does not exist (how to build one);
// kSystem with EACCES/EPERM if silk cannot read it (naming the directory, the user silk
// runs as and what to do); kSystem otherwise. All name `dir`.
Result<ImageSource> OpenImageSource(const std::string& dir);

// Copies the image's files (kernel, initramfs, manifest, signature, public key) from
// `source` into the existing directory `to_dir`, mode 0644 there. Each source file is
// opened with O_NOFOLLOW, must be a regular file of at most kMaxImageFileBytes, and is
// read once. A file missing from the source is skipped (verification names it).
// Errors: kInvalidInput for a symbolic link, a file that is not regular or one too large;
// kSystem when reading or writing fails (e.g. the run directory's file system is full).
// Every message names the file in the source, or the copy's path when writing failed.
Result<void> CopyImageFiles(const ImageSource& source, const std::string& to_dir);

// Verifies the copy in `staged_dir` (images::VerifyImage: the manifest's signature under
// `public_key` or the copied signing.pub, then the SHA-256 of the kernel and initramfs).
// Its errors name `source_dir` where VerifyImage names the copy, since the copy holds the
// source's bytes. Returns the copy's ImageInfo (kernel and initramfs paths in the copy).
Result<images::ImageInfo> VerifyStagedImage(const std::string& staged_dir,
                                            const std::string& source_dir,
                                            const std::string& public_key);

// Stages `source` for a VM in `dir`: CopyImageFiles into dir.staged_image_dir() (mode 0755,
// so QEMU, running as its own user, reads the copy whatever the source directory's mode),
// then VerifyStagedImage. QEMU boots the copy, so what it reads is what was verified
// however the source changes afterwards; the copy goes with the run directory. Errors:
// CopyImageFiles's and VerifyStagedImage's; kSystem if the staging directory cannot be made.
Result<images::ImageInfo> StageImage(const VmRunDir& dir, const ImageSource& source,
                                     const std::string& public_key);

// The last `lines` lines of a console log, with terminal escape sequences and carriage
// returns removed. Empty if the file is missing or empty.
std::string ConsoleTail(const std::string& path, size_t lines = 15);

}  // namespace silk::vmm
