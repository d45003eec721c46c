#include "vmm/vm_record.hpp"

#include <sys/random.h>
#include <time.h>

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/json_object.hpp"

namespace silk::vmm {

const char* VmStatusName(VmStatus status) {
  switch (status) {
    case VmStatus::kCreated:
      return "created";
    case VmStatus::kRunning:
      return "running";
    case VmStatus::kStopped:
      return "stopped";
    case VmStatus::kLost:
      break;
  }
  return "lost";
}

Result<void> ValidateVmName(const std::string& name) {
  auto bad = [&name](const std::string& what) {
    return Fail(ErrorCode::kInvalidInput, "VM name " + QuoteWord(name) + " " + what +
                                              "; use 1..48 characters of A-Z a-z 0-9 _ . -, "
                                              "starting with a letter or digit");
  };
  if (name.empty() || name.size() > 48)
    return bad("has " + std::to_string(name.size()) + " characters");
  if (!std::isalnum(static_cast<unsigned char>(name[0])))
    return bad("does not start with a letter or digit");
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return bad("contains a character other than letters, digits, '_', '.' and '-'");
  if (name.find("..") != std::string::npos) return bad("contains \"..\"");
  return {};
}

std::string VmDomainName(const std::string& name) { return "silk-vm-" + name; }

std::string VmRecordToJson(const VmRecord& r) {
  nlohmann::ordered_json j;
  j["name"] = r.name;
  j["status"] = VmStatusName(r.status);
  j["domain"] = r.domain;
  j["uuid"] = r.uuid;
  j["uri"] = r.uri;
  j["created_at"] = r.created_at;
  j["started_at"] = r.started_at;
  j["stopped_at"] = r.stopped_at;
  j["image_dir"] = r.image_dir;
  j["memory_mib"] = r.memory_mib;
  j["vcpus"] = r.vcpus;
  j["accel"] = r.accel;
  j["box_profile"] = r.box_profile;
  j["disk_bytes"] = r.disk_bytes;
  j["bridges"] = r.bridges;
  j["taps"] = r.taps;
  j["run_dir"] = r.run_dir;
  j["control_socket"] = r.control_socket;
  j["console_log"] = r.console_log;
  j["disk"] = r.disk;
  j["error"] = r.error;
  return j.dump(2) + "\n";
}

Result<VmRecord> ParseVmRecord(const std::string& text, const std::string& source) {
  auto root =
      ParseStrictJson(text, source, JsonLimits{.max_bytes = 1 << 20, .what = "a VM record"});
  if (!root) return Fail(std::move(root.error()));
  VmRecord r;
  JsonProblems problems;
  JsonObjectReader rd(*root, "", "VM record", problems);
  rd.String("name", r.name, JsonNeed::kRequired);
  rd.OneOf("status", r.status,
           {{"created", VmStatus::kCreated},
            {"running", VmStatus::kRunning},
            {"stopped", VmStatus::kStopped},
            {"lost", VmStatus::kLost}},
           "VM status", JsonNeed::kRequired);
  rd.String("domain", r.domain, JsonNeed::kRequired);
  rd.String("uuid", r.uuid);
  rd.String("uri", r.uri);
  rd.String("created_at", r.created_at);
  rd.String("started_at", r.started_at);
  rd.String("stopped_at", r.stopped_at);
  rd.String("image_dir", r.image_dir);
  rd.Uint("memory_mib", r.memory_mib);
  rd.Uint("vcpus", r.vcpus, 1024);
  rd.String("accel", r.accel);
  rd.String("box_profile", r.box_profile);
  rd.Uint("disk_bytes", r.disk_bytes);
  rd.Strings("bridges", r.bridges);
  rd.Strings("taps", r.taps);
  rd.String("run_dir", r.run_dir);
  rd.String("control_socket", r.control_socket);
  rd.String("console_log", r.console_log);
  rd.String("disk", r.disk);
  rd.String("error", r.error);
  rd.Finish();
  SILK_TRY(problems.Check(source));
  return r;
}

Result<std::string> NewUuid() {
  unsigned char b[16];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    return FailErrno("getrandom failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out);
}

std::string VmTimestamp() {
  time_t now = ::time(nullptr);
  tm utc;
  ::gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace silk::vmm
