// Reading and writing API profiles as JSON: the OCI runtime-spec seccomp format with the
// Docker/Podman extensions (archMap, includes/excludes {caps, arches, minKernel},
// comment, errno/defaultErrno names, listenerPath/listenerMetadata, flags) and silk's
// top-level "silk" object (ProfileMeta).
//
// Reading is strict: unknown fields, duplicate keys, wrong types, unknown syscall names,
// out-of-range values and fields that make no sense for a rule's action are errors.
// Every problem is a Diagnostic naming file:line:column, the JSON path, what was
// expected and what was found, with the nearest known word suggested where one exists.
// Nothing aborts on malformed input.
//
// Writing is canonical: fixed key order, two-space indent, defaults and empty fields
// left out, so WriteProfile(ParseProfile(x)) is a fixed point and
// ParseProfile(WriteProfile(p)) == p for every valid p.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

// The largest profile text silk reads (files and ParseProfile input).
inline constexpr size_t kMaxProfileBytes = 16u << 20;

// One problem found in a profile.
struct Diagnostic {
  std::string file;  // as given by the caller ("p.json", "<builtin:gen0-sliver>")
  int line = 0;      // 1-based; 0 when the profile did not come from text
  int column = 0;
  std::string path;     // JSON path: "syscalls[3].names[0]", "(top level)"
  std::string message;  // what is wrong, what was expected, what was found, what to do
  // "file:line:column: path: message" (the position left out when unknown).
  std::string ToString() const;
};

// Problems listed per profile; the rest are counted in ProfileCheck::omitted.
inline constexpr size_t kMaxDiagnostics = 100;

// The outcome of checking a profile text: the profile (when there were no errors) and
// the problems found (parsing stops at the first syntax error; the other checks report
// everything up to kMaxDiagnostics, sorted by position, and count the rest).
struct ProfileCheck {
  std::optional<Profile> profile;
  std::vector<Diagnostic> diagnostics;
  size_t omitted = 0;  // problems found beyond the first kMaxDiagnostics
};

// Parses and validates `text`; `file` names it in diagnostics.
ProfileCheck CheckProfileText(std::string_view text, std::string_view file);

// Parses and validates; the Error (kInvalidInput) lists the diagnostics, one per line.
Result<Profile> ParseProfile(std::string_view text, std::string_view file = "<input>");

// Reads and parses a profile file. kNotFound if it does not exist.
Result<Profile> ReadProfileFile(const std::string& path);

// The semantic checks of CheckProfileText for a profile built in code (diagnostics
// carry the JSON path but no line). Empty = valid.
std::vector<Diagnostic> ValidateProfile(const Profile& profile, std::string_view file = "");

// Joins diagnostics into one kInvalidInput Error (first line = first diagnostic), with
// a line counting the `omitted` ones after them.
Error DiagnosticsError(const std::vector<Diagnostic>& diagnostics, size_t omitted = 0);

struct WriteOptions {
  bool meta = true;      // the "silk" object (off for plain OCI output)
  bool comments = true;  // rule "comment" fields (a Docker extension)
};

// Canonical JSON text of `profile` (ends with a newline).
std::string WriteProfile(const Profile& profile, const WriteOptions& options = {});

// Names known to the parser, for documentation and suggestions.
const std::vector<std::string>& KnownCapabilities();  // "CAP_CHOWN", ...
const std::vector<std::string>& KnownFlags();         // "SECCOMP_FILTER_FLAG_LOG", ...

}  // namespace silk::policy
