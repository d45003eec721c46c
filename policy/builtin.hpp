// Built-in API profiles, embedded into silk at build time from policy/profiles/*.json,
// so that every generation (and every thinix VM) has them without files:
//   podman-default  Debian's Podman/Docker default profile (containers-common), imported
//   gen0-sliver     silk's generation-0 sliver profile: podman-default resolved for amd64
//                   with no capabilities, clone3 -> ENOSYS, a syscall horizon; the default
//                   --profile of `silk box run`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

inline constexpr std::string_view kDefaultSliverProfile = "gen0-sliver";

// Names of the built-in profiles, sorted.
std::vector<std::string> BuiltinProfileNames();

// The JSON text of a built-in profile, or nullopt.
std::optional<std::string_view> BuiltinProfileText(std::string_view name);

// Parses a built-in profile. kNotFound (with the nearest names) if there is none.
Result<Profile> BuiltinProfile(std::string_view name);

// A profile's text, not yet parsed, and where it came from: the path of a file, or
// "<builtin:NAME>" for a built-in profile (its embedded text). ParseProfile(text, file)
// is the profile.
struct ProfileSource {
  std::string text;
  std::string file;
};

// Finds a profile as LoadProfile does and reads its bytes without parsing them (a
// file: a regular file of at most 16 MiB). Errors: LoadProfile's, except the parser's.
Result<ProfileSource> ReadProfileSource(const std::string& path_or_name);

// Loads a profile named on a command line or in a spec: a file path (contains '/', ends
// in ".json" or names an existing file), "builtin:NAME", or a built-in NAME.
// Errors: parse/validation errors with file:line:column; kNotFound naming both the
// path tried and the built-in names.
Result<Profile> LoadProfile(const std::string& path_or_name);

}  // namespace silk::policy
