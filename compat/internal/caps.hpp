// Capabilities of the box: everything dropped (bounding, effective, permitted,
// inheritable, ambient) except the granted mask, made to survive execve for any uid
// (ambient + SECBIT_NOROOT locked, so uid 0 in the box gets nothing extra at exec).
// Async-signal-safe: runs in the child between clone and execve.
#pragma once

#include <cstdint>

namespace silk::compat::internal {

// Step 1 (before any uid change): drops the bounding set down to `keep_mask` and locks
// SECBIT_NOROOT and SECBIT_NO_SETUID_FIXUP. Needs CAP_SETPCAP in the effective set.
// Returns 0, or -1 with errno set.
// `last_cap` is LastCapability(), read by the supervisor before clone.
int LockCapabilities(uint64_t keep_mask, int last_cap);
// Step 2 (after the uid change): effective = permitted = inheritable = ambient =
// `keep_mask`. Returns 0, or -1 with errno set.
int SetCapabilities(uint64_t keep_mask, int last_cap);

// The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap,
// 40 if unreadable), read once per process; thread-safe. Not async-signal-safe: call it
// in the supervisor and hand the value to the child.
int LastCapability();

}  // namespace silk::compat::internal
