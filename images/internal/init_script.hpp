// thinix's /init: a busybox sh script, images/thinix/init.sh, embedded at build time
// (images/init_embed.cmake; ci/lint runs shellcheck on it). See images/image.hpp for
// the command-line parameters it reads.
#pragma once

#include <string>

namespace silk::images::internal {

// The default kernel command line of a thinix image (the booter appends silk.* keys).
inline constexpr const char kDefaultCmdline[] = "console=ttyS0 panic=-1 quiet";

// Where /init reads the modules to load, one absolute guest path a line, in order.
inline constexpr const char kModuleListPath[] = "etc/thinix/modules";

// The /init script: init.sh's bytes (the same every time).
const std::string& InitScript();

}  // namespace silk::images::internal
