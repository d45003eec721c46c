#include "compat/box_record.hpp"

#include <time.h>

#include <nlohmann/json.hpp>

#include "base/json_object.hpp"

namespace silk::compat {
const char* BoxStatusName(BoxStatus status) {
  switch (status) {
    case BoxStatus::kCreated:
      return "created";
    case BoxStatus::kRunning:
      return "running";
    case BoxStatus::kExited:
      return "exited";
    case BoxStatus::kLost:
      break;
  }
  return "lost";
}

std::string UtcTimestamp() {
  time_t now = time(nullptr);
  tm utc;
  gmtime_r(&now, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string BoxRecordToJson(const BoxRecord& r) {
  nlohmann::ordered_json j;
  j["name"] = r.name;
  j["status"] = BoxStatusName(r.status);
  j["supervisor_pid"] = r.supervisor_pid;
  j["supervisor_start"] = r.supervisor_start;
  j["init_pid"] = r.init_pid;
  j["init_start"] = r.init_start;
  j["created_at"] = r.created_at;
  j["started_at"] = r.started_at;
  j["finished_at"] = r.finished_at;
  j["exit_status"] = r.exit_status;
  j["term_signal"] = r.term_signal;
  j["oom_killed"] = r.oom_killed;
  j["exec_failure"] = r.exec_failure;
  j["error"] = r.error;
  j["cgroups"] = r.cgroups;
  if (!r.state_dir.empty()) j["state_dir"] = r.state_dir;
  if (!r.log.empty()) j["log"] = r.log;
  return j.dump(2) + "\n";
}

Result<BoxRecord> ParseBoxRecord(const std::string& text, const std::string& source) {
  auto root = nlohmann::json::parse(text, nullptr, false);
  if (!root.is_object())
    return Fail(ErrorCode::kInvalidInput, source + ": not a box record (JSON object)");
  BoxRecord r;
  JsonProblems problems;
  JsonObjectReader rd(root, "", "box record", problems);
  rd.String("name", r.name);
  rd.OneOf("status", r.status,
           {{"created", BoxStatus::kCreated},
            {"running", BoxStatus::kRunning},
            {"exited", BoxStatus::kExited},
            {"lost", BoxStatus::kLost}},
           "box status");
  rd.Uint("supervisor_pid", r.supervisor_pid);
  rd.Uint("supervisor_start", r.supervisor_start);
  rd.Uint("init_pid", r.init_pid);
  rd.Uint("init_start", r.init_start);
  rd.String("created_at", r.created_at);
  rd.String("started_at", r.started_at);
  rd.String("finished_at", r.finished_at);
  rd.Uint("exit_status", r.exit_status, 255);
  rd.Uint("term_signal", r.term_signal, 64);
  rd.Bool("oom_killed", r.oom_killed);
  rd.String("exec_failure", r.exec_failure);
  rd.String("error", r.error);
  rd.Strings("cgroups", r.cgroups);
  rd.String("state_dir", r.state_dir);
  rd.String("log", r.log);
  rd.Finish();
  SILK_TRY(problems.Check(source));
  return r;
}

}  // namespace silk::compat
