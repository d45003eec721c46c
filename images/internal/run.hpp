// Runs a host tool (apt-get, apt-cache, dpkg-deb, strip) and captures its output.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::images::internal {

struct RunOutput {
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs argv[0] (looked up in PATH) with `argv`, LC_ALL=C, stdin from /dev/null, and
// waits for it. Errors: kNotFound if the program is not installed (the message names
// it and `package`, the Debian package that provides it); kSystem if it exits non-zero
// or is killed (the message holds the command and the tail of its stderr).
// `cwd`, if not empty, is the child's working directory.
Result<RunOutput> Run(const std::vector<std::string>& argv, const std::string& package,
                      const std::string& cwd = "");

}  // namespace silk::images::internal
