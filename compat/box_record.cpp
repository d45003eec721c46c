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

namespace {

nlohmann::ordered_json LimitsJson(const BoxLimits& l) {
  nlohmann::ordered_json j;
  j["memory_max"] = l.memory_max;
  j["pids_max"] = l.pids_max;
  j["cpu_weight"] = l.cpu_weight;
  j["io_weight"] = l.io_weight;
  j["egress_rate"] = l.egress_rate;
  return j;
}

void ReadLimits(JsonObjectReader& rd, BoxLimits& l) {
  rd.Uint("memory_max", l.memory_max);
  rd.Uint("pids_max", l.pids_max);
  rd.Uint("cpu_weight", l.cpu_weight, 10000);
  rd.Uint("io_weight", l.io_weight, 10000);
  rd.Uint("egress_rate", l.egress_rate);
  rd.Finish();
}

}  // namespace

std::string BoxLimitsToJson(const BoxLimits& limits) { return LimitsJson(limits).dump(2) + "\n"; }

Result<BoxLimits> ParseBoxLimits(const std::string& text, const std::string& source) {
  auto root = nlohmann::json::parse(text, nullptr, false);
  if (!root.is_object())
    return Fail(ErrorCode::kInvalidInput, source + ": not a box's limits (JSON object)");
  BoxLimits l;
  JsonProblems problems;
  JsonObjectReader rd(root, "", "box limits", problems);
  ReadLimits(rd, l);
  SILK_TRY(problems.Check(source));
  return l;
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
  if (r.limits) j["limits"] = LimitsJson(*r.limits);
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
  if (auto limits = rd.Object("limits", "box limits")) {
    r.limits.emplace();
    ReadLimits(*limits, *r.limits);
  }
  rd.Finish();
  SILK_TRY(problems.Check(source));
  return r;
}

}  // namespace silk::compat
