// The shared-library closure of a dynamically linked binary, resolved the way ld.so
// would on this host (DT_RUNPATH, then the multiarch system directories), read from
// the ELF headers themselves (no ldd: nothing is executed).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::images::internal {

// Where thinix puts every library: ld.so searches it by default on Debian.
inline constexpr const char kGuestLibDir[] = "lib/x86_64-linux-gnu";

struct LibraryClosure {
  std::string interp;  // the program interpreter, e.g. "/lib64/ld-linux-x86-64.so.2"; "" if static
  struct Library {
    std::string soname;     // e.g. "libssl.so.3"; the guest file is kGuestLibDir/soname
    std::string host_path;  // the resolved file on the host
  };
  std::vector<Library> libraries;  // sorted by soname; includes the interpreter's file
};

// Errors: kNotFound naming the soname and the binary that needs it when a library
// cannot be found in `search_dirs` (empty = the Debian x86-64 defaults);
// kInvalidInput if a file is not ELF.
Result<LibraryClosure> ResolveLibraries(const std::string& binary_path,
                                        std::vector<std::string> search_dirs = {});

}  // namespace silk::images::internal
