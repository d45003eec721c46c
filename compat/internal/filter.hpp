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

#include <memory>
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
  std::vector<policy::EffectivePolicy> effective;  // native first
  std::string profile_name;
};

// Compiled filters are cached in the process (key: profile name or path + mtime,
// profile_dir, granted capabilities, report_denials), so a node manager starting many
// boxes compiles each profile once.
// Errors: kNotFound for an unknown profile (with the names it tried), the policy
// module's parse/validation errors (file:line:column), kUnsupported from the compiler.
Result<std::shared_ptr<const BoxFilter>> PrepareFilter(const BoxSpec& spec,
                                                       const std::string& profile_dir);

// Learning mode (RunOptions::observer): the same effective policy as PrepareFilter's (the
// profile resolved for the granted capabilities, the box's packet-socket and keyring
// rules), without compiling it: the supervisor answers every syscall from it
// (learn_filter.hpp). BoxFilter::compiled stays empty. Errors: as PrepareFilter's,
// except the compiler's.
Result<std::shared_ptr<const BoxFilter>> PrepareLearningPolicy(const BoxSpec& spec,
                                                               const std::string& profile_dir);

}  // namespace silk::compat::internal
