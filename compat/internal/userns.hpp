// User namespace of a box: uid/gid maps written by the supervisor into
// /proc/<pid>/{uid_map,setgroups,gid_map} while the child waits.
//
// Defaults: rootless, box uid/gid 0 -> the caller's uid/gid (one id; setgroups denied,
// as the kernel requires without CAP_SETGID); root, 0..65535 -> the box's leased host
// range (idrange.hpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box_spec.hpp"

namespace silk::compat::internal {

struct IdMaps {
  std::vector<IdMapping> uid, gid;
  bool deny_setgroups = false;
};

// The maps for `spec` for a caller with `euid`/`egid`; root callers: box ids 0.. map
// onto `first_id`.. (`count` ids: the box's leased host range, or a nested silk's own ids).
IdMaps MapsFor(const BoxSpec& spec, uid_t euid, gid_t egid, uint32_t first_id, uint32_t count);

// The host id box root (or, when unmapped, the lowest mapped box id) maps to: the owner
// of the box's user namespace (NamespaceOwner).
uint32_t OwnerOf(const std::vector<IdMapping>& map);

// Root-run boxes act as an unprivileged host uid: every directory on the way to `path`
// (and `path` itself when `self_too`) must let `uid`/`gid` search it. Errors:
// kInvalidInput naming the directory, its mode and owner, and what to do.
Result<void> CheckSearchable(const std::string& path, uid_t uid, gid_t gid, bool self_too,
                             const std::string& what);

// Writes the maps of `pid`. Errors: kSystem naming the file (EPERM typically means an
// unprivileged caller asked for ids it does not own).
Result<void> WriteIdMaps(pid_t pid, const IdMaps& maps);

}  // namespace silk::compat::internal
