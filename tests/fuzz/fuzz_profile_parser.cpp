// libFuzzer target: the profile parser and everything downstream of a profile that
// parsed. Properties checked on every input:
//  - CheckProfileText never crashes, and rejects with at least one diagnostic;
//  - an accepted profile writes canonically and re-reads to an equal profile, and the
//    canonical text is a fixed point;
//  - resolving it for amd64 and building its effective policies never crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/effective.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"

using namespace silk::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ProfileCheck check = CheckProfileText(text, "fuzz.json");
  if (!check.profile) {
    if (check.diagnostics.empty()) std::abort();
    return 0;
  }
  std::string written = WriteProfile(*check.profile);
  auto again = ParseProfile(written, "written.json");
  if (!again || !(*again == *check.profile)) std::abort();
  if (WriteProfile(*again) != written) std::abort();

  ResolveOptions options;
  options.arch = "amd64";
  options.kernel = KernelVersion{6, 1};
  auto resolved = Resolve(*check.profile, options);
  if (resolved) {
    auto effective = MakeEffectiveAll(*resolved);
    (void)effective;
    auto plain = MaterializeSilkRules(*resolved);
    (void)plain;
  }
  return 0;
}
