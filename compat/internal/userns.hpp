// User namespace of a box: uid/gid maps written by the supervisor into
// /proc/<pid>/{uid_map,setgroups,gid_map} while the child waits.
//
// Defaults: rootless, box uid/gid 0 -> the caller's uid/gid (one id; setgroups denied,
// as the kernel requires without CAP_SETGID); root with user_namespace "always",
// 0..65535 -> kRootRangeStart.. (ids nobody on the host uses).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box_spec.hpp"

namespace silk::compat::internal {

inline constexpr uint32_t kRootRangeStart = 1u << 30;

struct IdMaps {
  std::vector<IdMapping> uid, gid;
  bool deny_setgroups = false;
};

// The maps for `spec` for a caller with `euid`/`egid`.
IdMaps MapsFor(const BoxSpec& spec, uid_t euid, gid_t egid);

// Writes the maps of `pid`. Errors: kSystem naming the file (EPERM typically means an
// unprivileged caller asked for ids it does not own).
Result<void> WriteIdMaps(pid_t pid, const IdMaps& maps);

}  // namespace silk::compat::internal
