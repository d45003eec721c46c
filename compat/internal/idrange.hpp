// Host id ranges for boxes started by root. Every such box runs in its own user
// namespace whose ids 0..65535 map onto 65536 host ids that no other live box holds, so
// box root is an unprivileged host uid, and the kernel's per-uid counts (inotify
// instances, mqueue bytes, RLIMIT_NPROC, keys) of one box are not another's or host
// root's (as Incus and `podman --userns=auto` allocate ranges).
//
// A range is leased by holding an exclusive flock on <dir>/<slot> for the supervisor's
// life: the kernel drops the lock when the supervisor dies however it dies, so a lease
// can never leak. Slot n is host ids kIdRangeBase + n * kIdRangeSize ..; the pool stays
// below 2^31 (some tools read ids as signed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

inline constexpr uint32_t kIdRangeBase = 1u << 30;
inline constexpr uint32_t kIdRangeSize = 65536;
inline constexpr uint32_t kIdRangeSlots = 16384;
// Host-wide, whatever state root a box uses: ranges must be unique on the host.
inline constexpr const char* kIdRangeDir = "/run/silk/idranges";

class IdRangeLease {
 public:
  // Leases the first free slot under `dir` (created 0700 if missing) for `box_id`. A slot
  // left by a dead supervisor is taken only when no process runs as one of its ids any
  // more (its box may still be dying). Errors: kSystem (EUSERS) when every slot is
  // held, kSystem naming the path.
  static Result<IdRangeLease> Acquire(const std::string& dir, const std::string& box_id);

  IdRangeLease(IdRangeLease&&) noexcept = default;
  IdRangeLease& operator=(IdRangeLease&&) = delete;
  ~IdRangeLease();  // unlinks the slot file while still holding its lock

  uint32_t first_id() const { return kIdRangeBase + slot_ * kIdRangeSize; }
  uint32_t slot() const { return slot_; }

 private:
  IdRangeLease(std::string path, UniqueFd fd, uint32_t slot)
      : path_(std::move(path)), fd_(std::move(fd)), slot_(slot) {}
  std::string path_;
  UniqueFd fd_;
  uint32_t slot_ = 0;
};

// Whether this process's user namespace maps the whole pool (uids and gids): true on
// the host. A silk running inside a box (a nested generation) has only the ids its
// parent mapped; its boxes then map their ids onto the first ones of its own
// (NestedIdCount) and rely on the parent's namespace for the host boundary.
bool HostIdPoolMapped();
// How many ids from 0 up this process's user namespace maps (uids and gids both),
// at most kIdRangeSize.
uint32_t NestedIdCount();

// Whether any process on the host has a real, effective or saved uid in
// [first, first + count).
bool AnyProcessRunsAs(uint32_t first, uint32_t count);

}  // namespace silk::compat::internal
