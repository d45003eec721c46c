// A cache of compiled filters on disk, so that starting a box costs nearly nothing for
// its profile: compiling and verifying a Podman-sized profile takes milliseconds, a
// cache hit reads one small file.
//
// Key: a 64-bit FNV-1a hash of a canonical text of the resolved profile, the compile
// options, the native architecture, the libseccomp version, the silk version and the
// compiler generation (bumped when the generated code changes shape). Each
// entry also stores that whole text and a checksum, so a hash collision, a truncated or
// corrupt file is detected; such entries are ignored and rebuilt.
//
// A second key, for callers that start from a profile file (a box): the inputs the
// resolved profile is made from (the profile's bytes, the resolve options, what the
// caller adds), so that a hit needs no parse and no resolve. Same header, same entry
// format, same checks: the entry holds that whole text, bytes included.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "policy/compile.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

inline constexpr const char* kDefaultFilterCacheDir = "/var/cache/silk/filters";

// The canonical text the cache key is computed from (exposed for tests).
std::string FilterCacheKeyText(const Profile& resolved, const CompileOptions& options);

// The canonical text of an inputs key (GetByInputs): the same header as
// FilterCacheKeyText's, then `inputs` as given.
std::string FilterCacheInputsKeyText(std::string_view inputs, const CompileOptions& options);

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

  // The cached filter for `inputs`: a text that names everything the resolved profile is
  // made from (the caller's contract: equal inputs resolve to equal profiles). On a miss,
  // calls make_resolved() and compiles and stores its result; on a hit, calls nothing.
  // Errors: make_resolved()'s and CompileProfile's; writing is as Get's.
  Result<CompiledFilter> GetByInputs(std::string_view inputs, const CompileOptions& options,
                                     const std::function<Result<Profile>()>& make_resolved,
                                     bool* hit = nullptr) const;
  // The path of the entry for `inputs`.
  std::string InputsEntryPath(std::string_view inputs, const CompileOptions& options) const;

 private:
  std::string PathFor(const std::string& key_text) const;
  // The entry for key_text if present and intact, else make() compiled and stored.
  Result<CompiledFilter> Lookup(const std::string& key_text,
                                const std::function<Result<CompiledFilter>()>& make,
                                bool* hit) const;

  std::string dir_;
};

}  // namespace silk::policy
