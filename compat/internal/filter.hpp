// The box's seccomp filter: the spec's API profile loaded (file or built-in), resolved
// for the native architecture and the box's granted capabilities, compiled by policy/
// (compat never touches libseccomp). Two additions that belong to the box, not the
// profile:
//  - packet socket() (AF_PACKET) becomes SCMP_ACT_NOTIFY (most restrictive rule still
//    wins, so a profile that denies them keeps denying), so the supervisor decides and
//    logs each request against the spec's raw_sockets grant. SOCK_RAW in other families
//    is not notified: policy's compiler refuses (or takes minutes on) an extra rule on
//    socket's type argument next to the profile's own socket rules; those sockets stay
//    governed by CAP_NET_RAW, which the box holds only when raw_sockets is granted;
//  - keyctl/add_key/request_key are denied (EPERM): the keyring is not namespaced;
//  - with report_denials, every non-allow verdict is notified (CompileOptions::
//    notify_denials) and answered by the supervisor with the profile's real verdict.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/compile.hpp"
#include "policy/effective.hpp"

namespace silk::compat {
struct BoxSpec;
}

namespace silk::compat::internal {

struct BoxFilter {
  policy::CompiledFilter compiled;
  // The effective policy (native first), which the supervisor needs only when the box is
  // notified: made on the first call, from the profile bytes the filter was keyed on
  // (never the file as it is now), once per filter whatever the thread. nullptr if it
  // cannot be made, which cannot happen for bytes that compiled (the same silk parsed
  // them then); a caller then answers EPERM.
  const std::vector<policy::EffectivePolicy>* Effective() const;
  struct LazyEffective {
    std::once_flag once;
    std::function<Result<std::vector<policy::EffectivePolicy>>()> make;
    std::vector<policy::EffectivePolicy> value;
    bool made = false;
  };
  std::shared_ptr<LazyEffective> effective = std::make_shared<LazyEffective>();
  // Why the compiled filter has no seccomp listener (empty: it notifies as above): silk
  // runs in a box whose own filter has one (the kernel allows one per chain: nest.hpp),
  // or the box is nest-ready without report_denials (BoxSpec::nest), so that the boxes
  // made in it can have theirs. Then packet sockets get EPERM in the filter itself
  // (unless raw_sockets grants them) and denials are not notified: each level's denials
  // are answered by its own filter and reported by the one supervisor holding a listener.
  std::string no_listener;
};

// The box's compiled filter from policy's on-disk cache (FilterCache::GetByInputs), keyed
// on what the filter is made from: the bytes of the profile (a file's, or a built-in's
// embedded text), the resolve options (native architecture, granted capabilities, the
// running kernel), the box's own rules (listener or not, raw_sockets), report_denials,
// and silk's and libseccomp's versions. A changed byte is another key; a hit reads the
// profile's bytes and one cache entry, and neither parses nor resolves the profile.
// silk.extends is not an input: a parent names the lineage the profile was checked
// against (policy check), it adds no rule to the child's filter.
// Errors: kNotFound for an unknown profile (with the names it tried), the policy
// module's parse/validation errors (file:line:column), kUnsupported from the compiler.
Result<std::shared_ptr<const BoxFilter>> LoadBoxFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir,
                                                       const std::string& cache_dir);

// LoadBoxFilter with the default cache directory (/var/cache/silk/filters as root),
// cached in the process too under the same inputs, so that a node manager starting many
// boxes loads each filter once. Errors: LoadBoxFilter's.
Result<std::shared_ptr<const BoxFilter>> PrepareFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir);

// How many times this process parsed a profile for a box's filter or effective policy
// (a test hook: a cache hit parses none).
uint64_t BoxProfileParses();

// Learning mode (RunOptions::observer): the same effective policy as PrepareFilter's (the
// profile resolved for the granted capabilities, the box's packet-socket and keyring
// rules), without compiling it: the supervisor answers every syscall from it
// (learn_filter.hpp). BoxFilter::compiled stays empty. Errors: as PrepareFilter's,
// except the compiler's.
Result<std::shared_ptr<const BoxFilter>> PrepareLearningPolicy(const BoxSpec& spec,
                                                               const std::string& profile_dir);

}  // namespace silk::compat::internal
