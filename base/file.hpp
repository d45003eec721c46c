// Whole-file reads and atomic writes.
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk {

// Reads a whole file. Errors: kNotFound if it does not exist, kSystem otherwise;
// the message names the path.
Result<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` atomically: a temporary file in the same directory,
// fsync, rename. On failure the old file (if any) is untouched and no temporary is left.
// An existing device, fifo or socket (/dev/null, /dev/stdout) is written to in place,
// never replaced; a directory is an error.
Result<void> WriteFileAtomic(const std::string& path, const std::string& contents, int mode = 0644);

}  // namespace silk
