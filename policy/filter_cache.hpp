// A cache of compiled filters on disk, so that starting a box costs nearly nothing for
// its profile: compiling and verifying a Podman-sized profile takes milliseconds, a
// cache hit reads one small file.
//
// Key: a 64-bit FNV-1a hash of a canonical text of the resolved profile, the compile
// options, the native architecture, the libseccomp version, the silk version and the
// compiler generation (bumped when the generated code changes shape). Each
// entry also stores that whole text and a checksum, so a hash collision, a truncated or
// corrupt file is detected; such entries are ignored and rebuilt.
#pragma once

#include <string>

#include "base/result.hpp"
#include "policy/compile.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

inline constexpr const char* kDefaultFilterCacheDir = "/var/cache/silk/filters";

// The canonical text the cache key is computed from (exposed for tests).
std::string FilterCacheKeyText(const Profile& resolved, const CompileOptions& options);

class FilterCache {
 public:
  explicit FilterCache(std::string dir = kDefaultFilterCacheDir) : dir_(std::move(dir)) {}

  // The path of the entry for this profile and options.
  std::string EntryPath(const Profile& resolved, const CompileOptions& options) const;

  // The cached filter, or CompileProfile() stored in the cache. Sets *hit if given.
  // Errors: those of CompileProfile. Failing to create the directory or to write the
  // entry is not an error (the compiled filter is returned; the cache is only a cache).
  Result<CompiledFilter> Get(const Profile& resolved, const CompileOptions& options,
                             bool* hit = nullptr) const;

 private:
  std::string dir_;
};

}  // namespace silk::policy
