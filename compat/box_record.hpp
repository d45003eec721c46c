// A named box's record: what `silk box state` shows and what its supervisor writes to
// <state dir>/status at each step of the box's life (created, running, exited). A record
// whose supervisor is gone while it says created or running reads as lost.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::compat {

enum class BoxStatus {
  kCreated,  // set up, waiting for `silk box start`
  kRunning,  // the command runs
  kExited,   // the command ended (or never started: exec_failure/error say why)
  kLost,     // its supervisor died without recording an end (`silk box delete` reclaims)
};
const char* BoxStatusName(BoxStatus status);

// A named box's limits as they stand: set at create (`silk box create`'s flags) and
// changed by `silk box update` (box_update.hpp), kept in <state dir>/limits (written
// whole, by rename) beside the supervisor's status file, which never holds them: the
// supervisor owns the status, update owns the limits. 0 = no limit.
struct BoxLimits {
  uint64_t memory_max = 0;   // bytes
  uint64_t pids_max = 0;     // tasks
  uint32_t cpu_weight = 0;   // 1..10000 (cgroup v2's scale)
  uint32_t io_weight = 0;    // 1..10000 (cgroup v2's scale)
  uint64_t egress_rate = 0;  // bytes per second the box may send (its HTB class)
  friend bool operator==(const BoxLimits&, const BoxLimits&) = default;
};

// The limits file's JSON (and the record's "limits"): every field above.
std::string BoxLimitsToJson(const BoxLimits& limits);
// Reads a limits file back. Errors: kInvalidInput naming `source` and the field.
Result<BoxLimits> ParseBoxLimits(const std::string& json, const std::string& source);

struct BoxRecord {
  std::string name;
  BoxStatus status = BoxStatus::kLost;
  pid_t supervisor_pid = 0;  // host pids, each with its start time (clock ticks since boot)
  unsigned long long supervisor_start = 0;
  pid_t init_pid = 0;  // the box's pid 1
  unsigned long long init_start = 0;
  std::string created_at, started_at, finished_at;  // RFC 3339, UTC; empty until then
  int exit_status = 0;  // as BoxOutcome: 128+N for signal N, 126/127 exec failures
  int term_signal = 0;
  bool oom_killed = false;
  std::string exec_failure;  // the command could not be started
  std::string error;         // silk failed while the box lived
  std::vector<std::string> cgroups;
  // Where it lives (filled by the reader, not stored): the state directory and the log
  // of the command's stdout and stderr.
  std::string state_dir, log;
  // Its current limits (filled by the reader from <state dir>/limits; not in the status
  // file); nullopt for a box that has no limits file.
  std::optional<BoxLimits> limits;
};

// The status file's JSON (also `silk box state --json`): every field above.
std::string BoxRecordToJson(const BoxRecord& record);
// Reads a status file back. Errors: kInvalidInput naming `source` and the field.
Result<BoxRecord> ParseBoxRecord(const std::string& json, const std::string& source);

// Now as RFC 3339 in UTC ("2026-12-05T23:10:00Z").
std::string UtcTimestamp();

}  // namespace silk::compat
