// VerifyImage: signature first, then every component hash (kernel, initramfs, each file
// inside the initramfs), so a tampered image is refused naming what changed.
#include <limits.h>
#include <stdlib.h>

#include <map>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "images/image.hpp"
#include "images/internal/compress.hpp"
#include "images/internal/cpio.hpp"
#include "images/internal/crypto.hpp"
#include "images/internal/manifest.hpp"

namespace silk::images {
namespace {

using internal::ManifestFile;

Error Changed(const std::string& component, const std::string& detail) {
  return Error(ErrorCode::kDenied, "component " + component + " changed: " + detail +
                                       "; the image was modified after it was signed "
                                       "(rebuild it with `silk image build thinix`)");
}

std::string DescribeDiff(const ManifestFile& want, const ManifestFile& got) {
  if (want.type != got.type) return "type " + want.type + " -> " + got.type;
  if (want.mode != got.mode) return "mode changed";
  if (want.size != got.size)
    return "size " + std::to_string(want.size) + " -> " + std::to_string(got.size);
  if (want.sha256 != got.sha256) return "sha256 " + want.sha256 + " -> " + got.sha256;
  if (want.target != got.target) return "link target " + want.target + " -> " + got.target;
  if (want.rdev != got.rdev) return "device " + want.rdev + " -> " + got.rdev;
  return "";
}

// Compares the archive's entries with the manifest's list, naming the first difference.
Result<uint64_t> CheckInitramfsFiles(const std::string& image_bytes,
                                     const std::vector<ManifestFile>& listed) {
  auto unpacked = internal::Decompress(image_bytes);
  if (!unpacked)
    return Fail(Changed("initramfs (initramfs.img)",
                        "it no longer decompresses (" + unpacked.error().message() + ")"));
  auto entries = internal::ParseCpio(*unpacked);
  if (!entries)
    return Fail(Changed("initramfs (initramfs.img)", "it is no longer a valid cpio archive (" +
                                                         entries.error().message() + ")"));
  std::map<std::string, ManifestFile> actual;
  uint64_t total = 0;
  for (const auto& e : *entries) {
    actual[e.path] = internal::DescribeEntry(e);
    total += e.data.size();
  }
  for (const auto& want : listed) {
    auto it = actual.find(want.path);
    if (it == actual.end())
      return Fail(Changed("initramfs file " + want.path, "it is missing from initramfs.img"));
    std::string diff = DescribeDiff(want, it->second);
    if (!diff.empty()) return Fail(Changed("initramfs file " + want.path, diff));
    actual.erase(it);
  }
  if (!actual.empty())
    return Fail(Changed("initramfs file " + actual.begin()->first,
                        "it is in initramfs.img but not in the manifest"));
  return total;
}

}  // namespace

Result<ImageInfo> VerifyImage(const std::string& dir_arg, const std::string& public_key_path,
                              bool deep) {
  char resolved[PATH_MAX];
  if (!::realpath(dir_arg.c_str(), resolved))
    return Fail(Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kSystem,
                      "image directory " + dir_arg +
                          " does not exist (build one with `silk image build thinix --out " +
                          dir_arg + "`)",
                      errno));
  const std::string dir = resolved;
  auto read = [&](const char* name) -> Result<std::string> {
    auto r = ReadFile(dir + "/" + name);
    if (!r && r.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "image " + dir + " has no " + name +
                                            " (not a thinix image, or an incomplete one)");
    return r;
  };

  std::string manifest_text = SILK_TRY(read(kManifestFile));
  std::string sig_hex = Trim(SILK_TRY(read(kSignatureFile)));
  std::string key_origin = public_key_path.empty() ? dir + "/" + kPublicKeyFile : public_key_path;
  std::string key_pem = public_key_path.empty() ? SILK_TRY(read(kPublicKeyFile))
                                                : SILK_TRY(ReadFile(public_key_path));
  internal::Pkey key = SILK_TRY(internal::ParsePublicKey(key_pem, key_origin));
  auto sig = internal::HexDecode(sig_hex);
  if (!sig)
    return Fail(ErrorCode::kDenied, dir + "/" + kSignatureFile + ": not a hex signature (" +
                                        sig.error().message() + ")");
  auto ok = internal::Verify(key.get(), manifest_text, *sig);
  if (!ok)
    return Fail(ErrorCode::kDenied,
                "component manifest (manifest.json) or its signature changed: " + dir + "/" +
                    kSignatureFile + " does not verify under " + key_origin);
  internal::Manifest m = SILK_TRY(
      WithContext(internal::ParseManifest(manifest_text), "reading " + dir + "/" + kManifestFile));

  ImageInfo info;
  info.dir = dir;
  info.name = m.name;
  info.kernel_path = dir + "/" + kKernelFile;
  info.initramfs_path = dir + "/" + kInitramfsFile;
  info.kernel_version = m.kernel.version;
  info.kernel_source = m.kernel.source;
  info.cmdline = m.cmdline;
  info.compression = m.initramfs.compression;
  info.key_fingerprint = SILK_TRY(internal::KeyFingerprint(key.get()));

  std::string kernel = SILK_TRY(read(kKernelFile));
  std::string kernel_sha = internal::Sha256Hex(kernel);
  if (kernel_sha != m.kernel.sha256)
    return Fail(Changed("kernel (vmlinuz)", "sha256 " + m.kernel.sha256 + " -> " + kernel_sha));
  info.kernel_size = kernel.size();
  info.kernel_sha256 = kernel_sha;

  std::string initramfs = SILK_TRY(read(kInitramfsFile));
  std::string initramfs_sha = internal::Sha256Hex(initramfs);
  if (deep || initramfs_sha != m.initramfs.sha256) {
    // Unpack to name the file inside that changed (or, when deep, to check them all).
    info.initramfs_unpacked_size = SILK_TRY(CheckInitramfsFiles(initramfs, m.initramfs.files));
  } else {
    info.initramfs_unpacked_size = m.initramfs.unpacked_size;
  }
  if (initramfs_sha != m.initramfs.sha256)
    return Fail(Changed("initramfs (initramfs.img)",
                        "sha256 " + m.initramfs.sha256 + " -> " + initramfs_sha));
  info.initramfs_size = initramfs.size();
  info.initramfs_sha256 = initramfs_sha;
  info.file_count = m.initramfs.files.size();
  return info;
}

}  // namespace silk::images
