#include "vmm/run_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::vmm {
namespace {

constexpr const char kStagedImageName[] = "image";
constexpr const char kQemuUser[] = "libvirt-qemu";

// Removes every entry of the directory open as `dir_fd`, subdirectories with their
// contents; symbolic links are removed, never followed.
void RemoveEntries(int dir_fd) {
  int list_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return;
  DIR* d = ::fdopendir(list_fd);
  if (d == nullptr) {
    ::close(list_fd);
    return;
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (::unlinkat(dir_fd, n.c_str(), 0) == 0 || errno != EISDIR) continue;
    UniqueFd sub(::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub) RemoveEntries(sub.get());
    ::unlinkat(dir_fd, n.c_str(), AT_REMOVEDIR);
  }
  ::closedir(d);
}

// mkdir with exactly `mode` (the umask does not narrow it: QEMU's user must get through).
Result<void> MakeDir(const std::string& path, mode_t mode, bool may_exist) {
  if (::mkdir(path.c_str(), mode) != 0) {
    if (may_exist && errno == EEXIST) return {};
    return FailErrno("cannot create the VM run directory " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) return FailErrno("cannot set the mode of " + path);
  return {};
}

// Can `user` search (x) the directory `st` describes? The owner's, group's or others'
// bits apply, in that order, as the kernel checks them (path_resolution(7)).
bool Searchable(const struct stat& st, const passwd& user) {
  if (user.pw_uid == 0) return true;
  if (user.pw_uid == st.st_uid) return (st.st_mode & S_IXUSR) != 0;
  bool in_group = user.pw_gid == st.st_gid;
  int n = 64;
  gid_t groups[64];
  if (!in_group && ::getgrouplist(user.pw_name, user.pw_gid, groups, &n) >= 0)
    for (int i = 0; i < n; ++i) in_group = in_group || groups[i] == st.st_gid;
  if (in_group) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

// QEMU runs as its own user (libvirt's DAC driver) and opens the staged kernel and
// initramfs by path: every directory above them must let that user through. Names the
// first that does not ("" if all do, or if there is no such user here).
std::string FirstDirClosedToQemu(const std::string& path) {
  passwd* pw = ::getpwnam(kQemuUser);
  if (pw == nullptr) return "";
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return "";
  std::string partial;
  for (const std::string& part : Split(resolved, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    struct stat st;
    if (::stat(partial.c_str(), &st) == 0 && !Searchable(st, *pw)) return partial;
  }
  return "";
}

std::string CurrentUser() {
  if (passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

std::string HowToLetSilkRead(const std::string& what) {
  return "silk (running as " + CurrentUser() + ") cannot read " + what +
         ": make it readable (and its directories searchable) by that user, e.g. `chmod "
         "u+rX`, or run silk as its owner. QEMU needs no access: it boots a copy silk makes";
}

Result<void> WriteAllTo(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("cannot write " + path);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

// Opens `name` in the source image for copying: no links, regular files only.
Result<UniqueFd> OpenSourceFile(const ImageSource& source, const char* name) {
  std::string from = source.dir + "/" + name;
  UniqueFd in(
      ::openat(source.fd.get(), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!in) {
    int err = errno;
    if (err == ENOENT) return UniqueFd();
    if (err == ELOOP)
      return Fail(ErrorCode::kInvalidInput,
                  from +
                      " is a symbolic link; silk copies only regular files from an image "
                      "(put the file itself there, or rebuild with `silk image build thinix`)");
    if (err == EACCES || err == EPERM)
      return Fail(Error(ErrorCode::kSystem, HowToLetSilkRead(from), err));
    return FailErrno("cannot open " + from, err);
  }
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return FailErrno("cannot stat " + from);
  if (!S_ISREG(st.st_mode))
    return Fail(ErrorCode::kInvalidInput,
                from +
                    " is not a regular file; an image holds regular files only (rebuild it "
                    "with `silk image build thinix`)");
  if (static_cast<uint64_t>(st.st_size) > kMaxImageFileBytes)
    return Fail(ErrorCode::kInvalidInput, from + " has " + std::to_string(st.st_size) +
                                              " bytes, more than an image file may have (" +
                                              std::to_string(kMaxImageFileBytes) + ")");
  return in;
}

// Copies one file of the source image into `to_dir_fd`, reading it once.
Result<void> CopyImageFile(const ImageSource& source, const char* name, int to_dir_fd,
                           const std::string& to_dir) {
  UniqueFd in = SILK_TRY(OpenSourceFile(source, name));
  if (!in) return {};  // missing: verification names it
  std::string from = source.dir + "/" + name;
  std::string to = to_dir + "/" + name;
  UniqueFd out(
      ::openat(to_dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return FailErrno("cannot create " + to);
  if (::fchmod(out.get(), 0644) != 0) return FailErrno("cannot set the mode of " + to);
  std::vector<char> buf(size_t{1} << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("cannot read " + from);
    if (n == 0) return {};
    total += static_cast<uint64_t>(n);
    if (total > kMaxImageFileBytes)
      return Fail(ErrorCode::kInvalidInput, from + " grew beyond " +
                                                std::to_string(kMaxImageFileBytes) +
                                                " bytes while it was copied");
    SILK_TRY(WriteAllTo(out.get(), buf.data(), static_cast<size_t>(n), to));
  }
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// `e` with every mention of the staged copy (as named, and as resolved) said as `source`.
Error NamedForSource(const Error& e, const std::string& staged, const std::string& source) {
  char resolved[PATH_MAX];
  std::string real = ::realpath(staged.c_str(), resolved) ? resolved : staged;
  auto rename = [&](std::string s) {
    ReplaceAll(s, real, source);
    ReplaceAll(s, staged, source);
    return s;
  };
  Error out(e.code(), rename(e.message()), e.sys_errno());
  for (auto it = e.context().rbegin(); it != e.context().rend(); ++it) out.Wrap(rename(*it));
  return out;
}

}  // namespace

Result<std::string> UniqueVmName(const std::string& prefix) {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
    return FailErrno("getrandom failed");
  char hex[13];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return prefix + "-" + hex;
}

std::string TapName(const std::string& vm_name, unsigned index) {
  std::string tail = vm_name.size() > 10 ? vm_name.substr(vm_name.size() - 10) : vm_name;
  for (char& c : tail)
    if (c == '-' || c == '.') c = '_';
  return "sk" + tail + std::to_string(index % 100);
}

Result<VmRunDir> VmRunDir::Create(const std::string& root, const std::string& name) {
  // Create each component of root; existing ones are left as they are.
  std::string partial;
  for (const std::string& part : Split(root, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    SILK_TRY(MakeDir(partial, 0711, true));
  }
  std::string path = root + "/" + name;
  SILK_TRY(MakeDir(path, 0711, false));
  VmRunDir dir(path);
  if (std::string closed = FirstDirClosedToQemu(path); !closed.empty())
    return Fail(Error(ErrorCode::kInvalidInput,
                      "the VM run directory " + path + " is out of reach of QEMU's user " +
                          kQemuUser + ": " + closed +
                          " does not let it through; choose a run root under directories "
                          "others may search (the default is " +
                          kDefaultRunRoot + "), or `chmod o+x " + closed + "`"));
  return dir;
}

VmRunDir::~VmRunDir() {
  if (path_.empty()) return;
  UniqueFd dir(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return;
  if (keep_) {
    UniqueFd staged(
        ::openat(dir.get(), kStagedImageName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!staged) return;
    RemoveEntries(staged.get());
    ::unlinkat(dir.get(), kStagedImageName, AT_REMOVEDIR);
    return;
  }
  RemoveEntries(dir.get());
  ::rmdir(path_.c_str());
}

Result<void> RemoveRunDir(const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT) return {};
    return FailErrno("cannot open the VM run directory " + path);
  }
  RemoveEntries(dir.get());
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
    return FailErrno("cannot remove the VM run directory " + path);
  return {};
}

Result<ImageSource> OpenImageSource(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) return ImageSource{dir, std::move(fd)};
  int err = errno;
  if (err == ENOENT)
    return Fail(Error(ErrorCode::kNotFound,
                      "image directory " + dir +
                          " does not exist (build one with `silk image build thinix --out " + dir +
                          "`)",
                      err));
  if (err == EACCES || err == EPERM)
    return Fail(Error(ErrorCode::kSystem, HowToLetSilkRead("the image directory " + dir), err));
  if (err == ENOTDIR)
    return Fail(ErrorCode::kInvalidInput, "image " + dir +
                                              " is not a directory (an image is the directory that "
                                              "`silk image build thinix --out DIR` writes)");
  return FailErrno("cannot open the image directory " + dir, err);
}

Result<void> CopyImageFiles(const ImageSource& source, const std::string& to_dir) {
  UniqueFd to(::open(to_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!to) return FailErrno("cannot open the staging directory " + to_dir);
  for (const char* name : {images::kKernelFile, images::kInitramfsFile, images::kManifestFile,
                           images::kSignatureFile, images::kPublicKeyFile})
    SILK_TRY(CopyImageFile(source, name, to.get(), to_dir));
  return {};
}

Result<images::ImageInfo> VerifyStagedImage(const std::string& staged_dir,
                                            const std::string& source_dir,
                                            const std::string& public_key) {
  auto info = images::VerifyImage(staged_dir, public_key);
  if (!info) return Fail(NamedForSource(info.error(), staged_dir, source_dir));
  return info;
}

Result<images::ImageInfo> StageImage(const VmRunDir& dir, const ImageSource& source,
                                     const std::string& public_key) {
  std::string staged = dir.staged_image_dir();
  SILK_TRY(MakeDir(staged, 0755, false));
  SILK_TRY(CopyImageFiles(source, staged));
  return VerifyStagedImage(staged, source.dir, public_key);
}

std::string ConsoleTail(const std::string& path, size_t lines) {
  auto text = ReadFile(path);
  if (!text) return "";
  std::string clean;
  clean.reserve(text->size());
  const std::string& t = *text;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '\x1b') {  // ESC [ ... final byte in @..~
      if (i + 1 < t.size() && t[i + 1] == '[') {
        i += 2;
        while (i < t.size() && !(t[i] >= '@' && t[i] <= '~')) ++i;
      }
      continue;
    }
    if (c == '\r') continue;
    clean.push_back(c);
  }
  while (!clean.empty() && clean.back() == '\n') clean.pop_back();
  size_t pos = clean.size();
  for (size_t n = 0; n < lines && pos != std::string::npos && pos > 0; ++n)
    pos = clean.rfind('\n', pos - 1);
  return pos == std::string::npos || pos == 0 ? clean : clean.substr(pos + 1);
}

}  // namespace silk::vmm
