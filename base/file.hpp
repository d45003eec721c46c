// Whole-file reads and atomic writes.
#pragma once

#include <sys/types.h>
#include <cstddef>

#include <string>

#include "base/result.hpp"

namespace silk {

// Reads a whole file. Errors: kNotFound if it does not exist, kSystem otherwise;
// the message names the path. For files silk itself owns or the kernel provides (/proc,
// sysfs, state directories); input a user names goes through ReadRegularFile.
Result<std::string> ReadFile(const std::string& path);

// The size limit user-input readers use unless they have their own.
inline constexpr size_t kMaxInputFileBytes = size_t{16} << 20;

// Reads a user-named input file (profile, spec, suite, manifest) of at most `max_bytes`.
// Opens with O_NONBLOCK (a FIFO never blocks) and O_NOCTTY, refuses anything but a
// regular file ("is a FIFO", "is a character device", "is a directory", ...) and reads
// at most max_bytes + 1 bytes, so /dev/zero or a growing file cannot balloon memory.
// Errors: kNotFound if it does not exist; kInvalidInput for a file that is not regular
// or is larger than max_bytes; kSystem otherwise. Every message names the path.
Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes = kMaxInputFileBytes);

// Writes `contents` to `path` atomically: a temporary file in the same directory,
// fsync, rename. On failure the old file (if any) is untouched and no temporary is left.
// An existing device, fifo or socket (/dev/null, /dev/stdout) is written to in place,
// never replaced; a directory is an error.
Result<void> WriteFileAtomic(const std::string& path, const std::string& contents, int mode = 0644);

// mkdir -p: creates `path` and its missing parents with `mode` (existing ones are left
// as they are). `what` names the directory in the error ("the volume directory").
Result<void> MakeDirs(const std::string& path, mode_t mode, const std::string& what = "directory");

}  // namespace silk
