// A deterministic cpio "newc" (SVR4, no CRC) archive writer and reader: the format the
// kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst).
//
// The writer emits entries sorted by path, with mtime 0, uid/gid 0, inode numbers
// assigned in order and no host metadata, so equal inputs give equal bytes. Parent
// directories are added implicitly (mode 0755).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::images::internal {

enum class CpioType { kDirectory, kFile, kSymlink, kCharDevice };

const char* CpioTypeName(CpioType type);

struct CpioEntry {
  std::string path;  // relative, no leading '/', e.g. "bin/busybox"
  CpioType type = CpioType::kFile;
  uint32_t mode = 0;                        // permission bits only (07777)
  std::string data;                         // file contents, or the symlink target
  uint32_t rdev_major = 0, rdev_minor = 0;  // character devices
};

class CpioWriter {
 public:
  // Each Add* replaces an earlier entry of the same path. Errors: kInvalidInput for an
  // empty path, "..", or a path that is a non-directory's child.
  Result<void> AddDirectory(const std::string& path, uint32_t mode = 0755);
  Result<void> AddFile(const std::string& path, std::string data, uint32_t mode);
  Result<void> AddSymlink(const std::string& path, const std::string& target);
  Result<void> AddCharDevice(const std::string& path, uint32_t mode, uint32_t major,
                             uint32_t minor);

  // Entries in archive (sorted) order.
  std::vector<const CpioEntry*> Entries() const;
  // The archive bytes, ending with the TRAILER!!! entry.
  std::string Finish() const;

 private:
  Result<void> Add(CpioEntry entry);
  std::map<std::string, CpioEntry> entries_;
};

// Parses a newc archive up to TRAILER!!!. Errors: kInvalidInput naming the byte offset
// of a bad magic, a truncated header/name/body, or a missing trailer.
Result<std::vector<CpioEntry>> ParseCpio(const std::string& archive);

}  // namespace silk::images::internal
