// BuildThinix: kernel + initramfs (busybox, silk and its libraries, modules, /init),
// manifest, signature; written to a temporary directory and renamed into place.
#include "images/build.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "images/internal/closure.hpp"
#include "images/internal/compress.hpp"
#include "images/internal/cpio.hpp"
#include "images/internal/crypto.hpp"
#include "images/internal/elf.hpp"
#include "images/internal/init_script.hpp"
#include "images/internal/kernel.hpp"
#include "images/internal/manifest.hpp"
#include "images/internal/modules.hpp"
#include "images/internal/run.hpp"
#include "images/internal/temp_dir.hpp"

namespace silk::images {
namespace {

using internal::CpioWriter;

std::string MiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

Result<void> MakeDirs(const std::string& dir) {
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string cur = dir.substr(0, pos);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return FailErrno("cannot create directory " + cur);
  }
  return {};
}

Result<void> AddSkeleton(CpioWriter& cpio, const std::string& kernel_version) {
  for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "etc",
                        "etc/thinix", "var", "lib/x86_64-linux-gnu"})
    SILK_TRY(cpio.AddDirectory(d, 0755));
  SILK_TRY(cpio.AddDirectory("tmp", 01777));
  SILK_TRY(cpio.AddDirectory("root", 0700));
  // The kernel opens /dev/console for init's stdio before /init mounts devtmpfs.
  SILK_TRY(cpio.AddCharDevice("dev/console", 0600, 5, 1));
  SILK_TRY(cpio.AddFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644));
  SILK_TRY(cpio.AddFile("etc/group", "root:x:0:\n", 0644));
  SILK_TRY(cpio.AddFile("etc/thinix/release", "thinix kernel=" + kernel_version + "\n", 0644));
  SILK_TRY(cpio.AddFile("init", internal::InitScript(), 0755));
  return {};
}

Result<size_t> AddBusybox(CpioWriter& cpio, const std::string& path) {
  auto data = ReadFile(path);
  if (!data && data.error().code() == ErrorCode::kNotFound)
    return Fail(ErrorCode::kNotFound, path + " does not exist (install busybox-static)");
  if (!data) return Fail(std::move(data).error());
  internal::ElfDeps deps = SILK_TRY(internal::ReadElfDeps(*data, path));
  if (!deps.interp.empty() || !deps.needed.empty())
    return Fail(ErrorCode::kInvalidInput,
                path + " is dynamically linked; thinix needs a static busybox (busybox-static)");
  SILK_TRY(cpio.AddFile("bin/busybox", std::move(*data), 0755));
  internal::RunOutput list = SILK_TRY(internal::Run({path, "--list-full"}, "busybox-static"));
  size_t n = 0;
  for (const auto& line : Split(list.out, '\n')) {
    std::string applet = Trim(line);
    if (applet.empty() || applet == "bin/busybox" || applet.find('/') == std::string::npos)
      continue;
    SILK_TRY(cpio.AddSymlink(applet, "/bin/busybox"));
    ++n;
  }
  return n;
}

Result<std::string> AddSilk(CpioWriter& cpio, const BuildOptions& o,
                            const internal::TempDir& scratch) {
  // Copy the bytes first: /proc/self/exe still reads after the binary was replaced on
  // disk (its realpath then ends in " (deleted)"), and strip must not read its own exe.
  auto original = ReadFile(o.silk_binary);
  if (!original && original.error().code() == ErrorCode::kNotFound)
    return Fail(ErrorCode::kNotFound, "--silk " + o.silk_binary + ": no such file");
  if (!original) return Fail(std::move(original).error());
  char resolved[PATH_MAX];
  std::string host = ::realpath(o.silk_binary.c_str(), resolved) ? resolved : o.silk_binary;
  std::string copy = scratch.path() + "/silk.orig";
  SILK_TRY(WriteFileAtomic(copy, *original, 0755));
  std::string data;
  if (o.strip_silk) {
    std::string stripped = scratch.path() + "/silk";
    SILK_TRY(internal::Run({"strip", "--strip-debug", "-o", stripped, copy}, "binutils"));
    data = SILK_TRY(ReadFile(stripped));
  } else {
    data = std::move(*original);
  }
  uint64_t silk_size = data.size();
  SILK_TRY(cpio.AddFile("bin/silk", std::move(data), 0755));
  internal::LibraryClosure closure =
      SILK_TRY(internal::ResolveLibraries(::access(host.c_str(), R_OK) == 0 ? host : copy));
  uint64_t lib_bytes = 0;
  for (const auto& lib : closure.libraries) {
    std::string bytes = SILK_TRY(ReadFile(lib.host_path));
    lib_bytes += bytes.size();
    SILK_TRY(cpio.AddFile(std::string(internal::kGuestLibDir) + "/" + lib.soname, std::move(bytes),
                          0755));
  }
  if (!closure.interp.empty()) {
    std::string guest_lib = "/" + std::string(internal::kGuestLibDir) +
                            closure.interp.substr(closure.interp.rfind('/'));
    if (closure.interp != guest_lib) SILK_TRY(cpio.AddSymlink(closure.interp.substr(1), guest_lib));
  }
  return "silk " + MiB(silk_size) + (o.strip_silk ? " (debug info stripped)" : "") + " + " +
         std::to_string(closure.libraries.size()) + " shared libraries " + MiB(lib_bytes);
}

Result<std::string> AddModules(CpioWriter& cpio, const internal::KernelSource& k) {
  std::string list;
  std::string summary = "no kernel modules (a vmlinuz given without --modules)";
  if (!k.modules_dir.empty()) {
    internal::ModuleSet set =
        SILK_TRY(internal::ResolveModules(k.modules_dir, internal::GuestModules()));
    std::string guest_dir = "lib/modules/" + k.version;
    uint64_t bytes = 0;
    for (const auto& rel : set.load_order) {
      std::string data = SILK_TRY(ReadFile(k.modules_dir + "/" + rel));
      bytes += data.size();
      SILK_TRY(cpio.AddFile(guest_dir + "/" + rel, std::move(data), 0644));
      list += "/" + guest_dir + "/" + rel + "\n";
    }
    SILK_TRY(cpio.AddFile(guest_dir + "/modules.dep", set.modules_dep, 0644));
    summary = std::to_string(set.load_order.size()) + " kernel modules " + MiB(bytes) +
              (set.builtin.empty() ? "" : " (built in: " + Join(set.builtin, ", ") + ")");
  }
  SILK_TRY(cpio.AddFile(internal::kModuleListPath, list, 0644));
  return summary;
}

Result<void> WriteImageFile(const std::string& dir, const char* name, const std::string& data) {
  return WriteFileAtomic(dir + "/" + name, data, 0644);
}

}  // namespace

Result<ImageInfo> BuildThinix(const BuildOptions& o) {
  const auto& progress = o.progress;
  internal::CompressionSpec compression = SILK_TRY(internal::ParseCompression(o.compression));
  // The key first: a bad --key fails before minutes of work.
  internal::Pkey key = SILK_TRY(internal::LoadOrCreatePrivateKey(o.key_path, o.create_key));
  std::string out = o.out_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) return Fail(ErrorCode::kInvalidInput, "--out: empty directory name");
  if (IsDir(out) && !Exists(out + "/" + kManifestFile)) {  // only an empty dir or an image
    if (::rmdir(out.c_str()) != 0)
      return Fail(ErrorCode::kInvalidInput,
                  "--out " + out + " exists and is not a thinix image; choose another directory");
  } else if (Exists(out) && !IsDir(out)) {
    return Fail(ErrorCode::kInvalidInput, "--out " + out + " exists and is not a directory");
  }
  auto slash = out.rfind('/');
  if (slash != std::string::npos && slash > 0) SILK_TRY(MakeDirs(out.substr(0, slash)));

  internal::TempDir scratch = SILK_TRY(internal::TempDir::Create("/tmp/silk-image-build-"));
  internal::KernelSource k = SILK_TRY(
      internal::ObtainKernel(o.kernel, o.modules_dir, o.kernel_cache_dir, scratch, progress));
  if (!k.modules_dir.empty()) {
    std::string release = k.modules_dir.substr(k.modules_dir.rfind('/') + 1);
    if (release != k.version)
      return Fail(ErrorCode::kInvalidInput, "--modules " + k.modules_dir + " is for kernel " +
                                                release + " but the kernel is " + k.version);
  }
  std::string kernel_bytes = SILK_TRY(ReadFile(k.vmlinuz_path));
  progress("kernel: " + k.version + " " + MiB(kernel_bytes.size()));

  CpioWriter cpio;
  SILK_TRY(AddSkeleton(cpio, k.version));
  size_t applets = SILK_TRY(AddBusybox(cpio, o.busybox));
  progress("busybox: " + std::to_string(applets) + " applets");
  progress(SILK_TRY(AddSilk(cpio, o, scratch)));
  progress(SILK_TRY(AddModules(cpio, k)));

  std::string archive = cpio.Finish();
  progress("initramfs: compressing " + MiB(archive.size()) + " with " +
           internal::CompressionName(compression.kind) + " -" + std::to_string(compression.level));
  auto t0 = std::chrono::steady_clock::now();
  std::string compressed = SILK_TRY(internal::Compress(archive, compression));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char timing[64];
  std::snprintf(timing, sizeof timing, " in %.1f s", secs);
  progress("initramfs: " + MiB(compressed.size()) + timing);

  internal::Manifest m;
  m.cmdline = internal::kDefaultCmdline;
  m.kernel.version = k.version;
  m.kernel.source = k.source;
  m.kernel.size = kernel_bytes.size();
  m.kernel.sha256 = internal::Sha256Hex(kernel_bytes);
  m.initramfs.compression = internal::CompressionName(compression.kind);
  m.initramfs.size = compressed.size();
  m.initramfs.sha256 = internal::Sha256Hex(compressed);
  for (const auto* e : cpio.Entries()) {
    m.initramfs.files.push_back(internal::DescribeEntry(*e));
    m.initramfs.unpacked_size += e->data.size();
  }
  std::string manifest = internal::ManifestToJson(m);
  std::string signature = SILK_TRY(internal::Sign(key.get(), manifest));
  std::string public_pem = SILK_TRY(internal::PublicKeyPem(key.get()));

  internal::TempDir stage = SILK_TRY(internal::TempDir::Create(out + ".tmp-"));
  if (::chmod(stage.path().c_str(), 0755) != 0) return FailErrno("chmod " + stage.path());
  SILK_TRY(WriteImageFile(stage.path(), kKernelFile, kernel_bytes));
  SILK_TRY(WriteImageFile(stage.path(), kInitramfsFile, compressed));
  SILK_TRY(WriteImageFile(stage.path(), kManifestFile, manifest));
  SILK_TRY(WriteImageFile(stage.path(), kSignatureFile, internal::HexEncode(signature) + "\n"));
  SILK_TRY(WriteImageFile(stage.path(), kPublicKeyFile, public_pem));
  SILK_TRY(WithContext(VerifyImage(stage.path(), "", /*deep=*/true),
                       "verifying the freshly built image"));

  if (IsDir(out)) {
    // Swap atomically; the old image ends up in the stage directory, removed with it.
    if (::renameat2(AT_FDCWD, stage.path().c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0)
      return FailErrno("cannot replace " + out);
  } else {
    if (::rename(stage.path().c_str(), out.c_str()) != 0)
      return FailErrno("cannot move the image into " + out);
    stage.Release();
  }
  ImageInfo info = SILK_TRY(VerifyImage(out));
  progress("image: " + info.dir + " (key " + info.key_fingerprint.substr(0, 16) + ")");
  return info;
}

}  // namespace silk::images
