// manifest.json of a thinix image: every component with its size and SHA-256.
//
// Serialised canonically (sorted keys, two-space indent, trailing newline) so the same
// image always gives the same bytes, which is what manifest.sig signs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/internal/cpio.hpp"

namespace silk::images::internal {

inline constexpr const char kManifestFormat[] = "silk-thinix-image/1";

struct ManifestFile {
  std::string path;    // inside the initramfs, e.g. "bin/busybox"
  std::string type;    // "file", "dir", "symlink", "chardev"
  uint32_t mode = 0;   // permission bits
  uint64_t size = 0;   // files only
  std::string sha256;  // files only
  std::string target;  // symlinks only
  std::string rdev;    // chardevs only, "MAJOR:MINOR"
};

struct Manifest {
  std::string name = "thinix";
  std::string cmdline;
  struct {
    std::string version, source, sha256;
    uint64_t size = 0;
  } kernel;
  struct {
    std::string compression, sha256;
    uint64_t size = 0, unpacked_size = 0;
    std::vector<ManifestFile> files;  // in archive order
  } initramfs;
};

// The manifest line for one cpio entry (hashing its contents).
ManifestFile DescribeEntry(const CpioEntry& entry);

std::string ManifestToJson(const Manifest& m);

// Errors: kInvalidInput naming the field that is missing, mistyped or unknown.
Result<Manifest> ParseManifest(const std::string& json);

}  // namespace silk::images::internal
