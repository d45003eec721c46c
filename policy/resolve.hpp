// Resolution of a profile for one machine: an architecture, a capability set and a
// kernel version. Applies the Docker/Podman extensions the way Docker and Podman do
// (moby profiles/seccomp, containers/common pkg/seccomp):
//  - archMap: the entry whose architecture is the target becomes "architectures"
//    (the target plus its sub-architectures); without an entry, "architectures" stays;
//  - a rule applies only if includes.arches (when set) names the target, excludes.arches
//    does not, every cap in includes.caps is in the set, no cap in excludes.caps is,
//    the kernel is at least includes.minKernel and below excludes.minKernel.
// The result has no archMap and no includes/excludes left, so it is plain OCI JSON that
// runc and crun accept, and the input of MakeEffective.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {

// Docker's default capability set (moby oci/caps/defaults.go), which Podman also uses
// for its default profile decisions. Not silk's default: a compatibility box has no
// capabilities, so ResolveOptions resolves for none unless told otherwise.
extern const std::vector<std::string> kDefaultCaps;

// Parses a comma-separated capability list ("CAP_NET_ADMIN,sys_admin", "" = none,
// "default" = kDefaultCaps, "all" = every known capability). Names are normalised to
// upper case with the CAP_ prefix; unknown names are an error naming the nearest.
Result<std::vector<std::string>> ParseCapList(std::string_view list);

// The word ParseCapList reads back for `caps`: "none", "default" (kDefaultCaps, in any
// order), "all" (every known capability), or the comma-separated names.
std::string CapSetName(const std::vector<std::string>& caps);

// The running kernel's version (uname -r); {0, 0} if it cannot be read.
KernelVersion RunningKernel();  // uname -r

struct ResolveOptions {
  std::string arch;  // any ParseArch() spelling; "" = NativeArch()
  // The capabilities the box has. Default: none, as a compatibility box has; a rule
  // gated on includes.caps (chroot under CAP_SYS_CHROOT) then does not apply.
  std::vector<std::string> caps;
  std::optional<KernelVersion> kernel;  // nullopt = RunningKernel()
};

// Resolves `profile` (which should be valid, see ValidateProfile). Errors:
// kInvalidInput for an unknown architecture or an unparsable minKernel.
Result<Profile> Resolve(const Profile& profile, const ResolveOptions& options);

// Makes silk's own semantics explicit for runtimes that ignore the "silk" object: the
// clone3 policy and the horizon (see effective.hpp) become ordinary rules appended to
// the resolved profile, and the metadata is kept (WriteOptions.meta decides whether it
// is written). MakeEffective of the result equals MakeEffective of `resolved`.
// Errors: kInvalidInput for an unparsable horizon.
Result<Profile> MaterializeSilkRules(const Profile& resolved);

// True if the profile still has Docker/Podman extensions to resolve.
bool NeedsResolve(const Profile& profile);

}  // namespace silk::policy
