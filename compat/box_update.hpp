// Live updates of a named box's shares (`silk box update`; the node manager's resync of
// a sliver): memory, pids, cpu weight and io weight by writes to the box's cgroups (in
// the hierarchy each of its controllers is in, v2 or v1, with the backends' own scale
// conversions, compat/internal/cgroup.hpp), and the egress rate by changing the HTB
// class on the box's eth0 (compat/internal/network.hpp).
//
// Who writes what: the supervisor owns the box's status file; the limits as they stand
// live in their own file, <state dir>/limits (box_record.hpp's BoxLimits), written by
// the supervisor once before the box exists and then only by updates, each under an
// exclusive flock of that file, so two updates never lose one another's change and no
// update races a status write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box_record.hpp"

namespace silk::compat {

// What to change; unset fields stay as they are. Each set field must be a limit (above
// 0): memory_max in bytes, pids_max at most 4194304 tasks, weights 1..10000 (cgroup v2's
// scale), egress_rate in bytes per second.
struct BoxLimitsUpdate {
  std::optional<uint64_t> memory_max, pids_max;
  std::optional<uint32_t> cpu_weight, io_weight;
  std::optional<uint64_t> egress_rate;
  bool empty() const {
    return !memory_max && !pids_max && !cpu_weight && !io_weight && !egress_rate;
  }
};

// One limit an update changed.
struct LimitChange {
  std::string limit;  // "memory_max", "pids_max", "cpu_weight", "io_weight", "egress_rate"
  uint64_t old_value = 0,
           new_value = 0;  // 0 = none (or not known: a box from before limits were recorded)
};

struct UpdateReport {
  std::string name;
  std::vector<LimitChange> changes;  // in the order above; a limit set to its value is not one
  BoxLimits limits;                  // all of them, after the update
};

// Changes the limits of the live (created or running) box `name` under `state_root`
// (empty: DefaultStateRoot()). Everything is checked before anything changes: an
// update of an exited, lost or unknown box, a memory limit below the box's current
// memory use (the message names both), a controller or a veth the box does not have,
// all change nothing. Errors: kNotFound (no such box), kInvalidInput (a bad value, a box
// that is not live, memory below use), kUnsupported (the box has no cgroup for that
// controller, no veth for an egress rate), kSystem (a write the kernel refused; the
// limits changed before it are recorded and the message names them).
Result<UpdateReport> UpdateBox(const std::string& state_root, const std::string& name,
                               const BoxLimitsUpdate& update);

// `silk box update --json`: {"name", "changed": [{"limit", "old", "new"}], "limits": {..}}.
std::string UpdateReportToJson(const UpdateReport& report);

// Writes <state_dir>/limits whole (a temporary file renamed over it). The supervisor
// calls it before the box exists; afterwards only UpdateBox does, under its lock.
Result<void> RecordBoxLimits(const std::string& state_dir, const BoxLimits& limits);

}  // namespace silk::compat
