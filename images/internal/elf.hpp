// Just enough of ELF64 (little-endian, x86-64) to pack a binary into thinix: its
// program interpreter, DT_NEEDED and DT_RUNPATH/DT_RPATH (elf(5)), and the .modinfo
// strings of a kernel module ("depends=a,b", "name=x").
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::images::internal {

struct ElfDeps {
  std::string interp;                // "" for a static binary
  std::vector<std::string> needed;   // DT_NEEDED sonames, in order
  std::vector<std::string> runpath;  // DT_RUNPATH (or DT_RPATH) entries
};

// `origin` names the file in errors. Errors: kInvalidInput if `data` is not a 64-bit
// little-endian ELF file or its headers point outside the file.
Result<ElfDeps> ReadElfDeps(const std::string& data, const std::string& origin);

// The NUL-separated "key=value" strings of the .modinfo section.
// Errors: kInvalidInput if not an ELF file or it has no .modinfo section.
Result<std::vector<std::string>> ReadModinfo(const std::string& data, const std::string& origin);

}  // namespace silk::images::internal
