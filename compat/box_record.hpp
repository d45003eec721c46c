// A named box's record: what `silk box state` shows and what its supervisor writes to
// <state dir>/status at each step of the box's life (created, running, exited). A record
// whose supervisor is gone while it says created or running reads as lost.
#pragma once

#include <sys/types.h>

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
};

// The status file's JSON (also `silk box state --json`): every field above.
std::string BoxRecordToJson(const BoxRecord& record);
// Reads a status file back. Errors: kInvalidInput naming `source` and the field.
Result<BoxRecord> ParseBoxRecord(const std::string& json, const std::string& source);

// Now as RFC 3339 in UTC ("2026-12-05T23:10:00Z").
std::string UtcTimestamp();

}  // namespace silk::compat
