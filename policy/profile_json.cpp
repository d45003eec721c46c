#include "policy/profile_json.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/json_object.hpp"
#include "policy/internal/json_profile_reader.hpp"
#include "policy/internal/json_source_map.hpp"

namespace silk::policy {
namespace {

using internal::JsonSourceMap;
using internal::SourcePos;

constexpr int kMaxDepth = 64;
// JSON values (elements, members, containers) a profile may hold: podman-default has
// ~800. Parsed JSON costs ~100 bytes per value, so this bounds memory well below the
// text limit would (16 MiB of "[0,0,...]" is 8M values).
constexpr size_t kMaxJsonValues = 1u << 17;

// A problem with the text's shape found before parsing: where, and what.
struct ShapeProblem {
  size_t offset;
  std::string message;
};

// The first bracket nested deeper than kMaxDepth, or the first value past
// kMaxJsonValues, if any (outside strings). Profiles are at most five levels deep; this
// keeps hostile input cheap to refuse.
std::optional<ShapeProblem> CheckShape(std::string_view text) {
  int depth = 0;
  size_t values = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth)
        return ShapeProblem{i, "JSON nested deeper than " + std::to_string(kMaxDepth) +
                                   " levels; a seccomp profile needs at most 5"};
      ++values;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',') {
      ++values;
    }
    if (values > kMaxJsonValues)
      return ShapeProblem{i, "more than " + std::to_string(kMaxJsonValues) +
                                 " JSON values; a seccomp profile needs a few thousand (" +
                                 "podman's default has ~800): merge rules that share an action"};
  }
  return std::nullopt;
}

// Whether `unit` lies inside, or contains, one of the `broken` units.
bool Overlaps(const std::set<std::string>& broken, const std::string& unit) {
  if (broken.empty()) return false;
  for (size_t end = unit.size();; end = unit.rfind('/', end - 1)) {
    if (broken.count(unit.substr(0, end))) return true;
    if (end == 0 || end == std::string::npos) break;
  }
  auto it = broken.lower_bound(unit + "/");
  return it != broken.end() && it->rfind(unit + "/", 0) == 0;
}

// nlohmann's message without its "[json.exception...] parse error at line 1, column 2: "
// prefix (silk prints its own position).
std::string SyntaxMessage(const std::string& what) {
  std::string msg = what;
  size_t col = msg.find("column ");
  if (col != std::string::npos) {
    size_t colon = msg.find(": ", col);
    if (colon != std::string::npos) msg = msg.substr(colon + 2);
  } else if (size_t close = msg.find("] "); close != std::string::npos) {
    msg = msg.substr(close + 2);
  }
  return "invalid JSON: " + msg;
}

// The unit a problem belongs to: "/syscalls/3" for anything inside rule 3, "/archMap/1"
// likewise, "/silk" for metadata, the pointer itself otherwise.
std::string Unit(const std::string& pointer) {
  for (const char* prefix : {"/syscalls/", "/archMap/"}) {
    size_t n = std::char_traits<char>::length(prefix);
    if (pointer.rfind(prefix, 0) == 0) return pointer.substr(0, pointer.find('/', n));
  }
  if (pointer.rfind("/silk", 0) == 0) return "/silk";
  return pointer;
}

std::string Clone3Name(Clone3Policy p) {
  switch (p) {
    case Clone3Policy::kEnosys:
      return "enosys";
    case Clone3Policy::kAllow:
      return "allow";
    case Clone3Policy::kDeny:
      return "deny";
  }
  return "enosys";
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!out.empty()) out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

ProfileCheck CheckProfileText(std::string_view text, std::string_view file) {
  ProfileCheck check;
  auto add = [&](SourcePos pos, std::string path, std::string message) {
    check.diagnostics.push_back(
        Diagnostic{std::string(file), pos.line, pos.column, std::move(path), std::move(message)});
  };
  if (text.size() > kMaxProfileBytes) {
    add({}, "",
        "the profile is " + std::to_string(text.size()) + " bytes; expected at most " +
            std::to_string(kMaxProfileBytes));
    return check;
  }
  if (auto shape = CheckShape(text)) {
    add(internal::PosOfOffset(text, shape->offset), "", shape->message);
    return check;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    add(internal::PosOfOffset(text, offset), "", SyntaxMessage(e.what()));
    return check;
  } catch (const std::exception& e) {
    add({}, "", SyntaxMessage(e.what()));
    return check;
  }

  // Problems are kept by JSON pointer (at most kMaxDiagnostics, the rest counted) and
  // placed in the text by one scan at the end, which also finds duplicate keys.
  struct Problem {
    std::string pointer;
    std::string message;
    bool at_key;
  };
  std::vector<Problem> problems;
  auto keep = [&](const std::string& pointer, const std::string& message, bool at_key) {
    if (problems.size() >= kMaxDiagnostics) {
      ++check.omitted;
      return false;
    }
    problems.push_back(Problem{pointer, message, at_key});
    return true;
  };

  // Structural problems first; then the semantic checks, except inside a rule (or
  // other unit) that already has a structural problem, where they would only echo it.
  Profile profile;
  std::set<std::string> broken;
  internal::ReadProfileJson(
      doc, profile, [&](const std::string& pointer, const std::string& message, bool at_key) {
        broken.insert(Unit(pointer));
        return keep(pointer, message, at_key);
      });
  doc = nlohmann::json();
  internal::CheckProfileSemantics(
      profile, [&](const std::string& pointer, const std::string& message, bool at_key) {
        if (Overlaps(broken, Unit(pointer))) return problems.size() < kMaxDiagnostics;
        return keep(pointer, message, at_key);
      });

  std::vector<std::string> pointers;
  for (const auto& p : problems) pointers.push_back(p.pointer);
  JsonSourceMap map = JsonSourceMap::Scan(text, pointers);
  for (const auto& p : problems)
    add(p.at_key ? map.KeyPos(p.pointer) : map.ValuePos(p.pointer), JsonPointerToDisplay(p.pointer),
        p.message);
  for (const auto& dup : map.duplicates()) {
    if (check.diagnostics.size() >= kMaxDiagnostics) break;
    add(dup.pos, JsonPointerToDisplay(dup.pointer),
        "duplicate key; JSON parsers disagree on which value wins, keep only one");
  }
  check.omitted += map.duplicate_count() -
                   std::min(map.duplicate_count(), check.diagnostics.size() - problems.size());
  std::stable_sort(check.diagnostics.begin(), check.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  if (check.diagnostics.empty() && check.omitted == 0) check.profile = std::move(profile);
  return check;
}

Error DiagnosticsError(const std::vector<Diagnostic>& diagnostics, size_t omitted) {
  std::string msg;
  for (const auto& d : diagnostics) {
    if (!msg.empty()) msg += "\n";
    msg += d.ToString();
  }
  if (omitted > 0)
    msg += "\n... and " + std::to_string(omitted) + " more (only the first " +
           std::to_string(diagnostics.size()) + " are listed)";
  size_t total = diagnostics.size() + omitted;
  if (total > 1) msg += "\n(" + std::to_string(total) + " errors)";
  return Error(ErrorCode::kInvalidInput, msg);
}

Result<Profile> ParseProfile(std::string_view text, std::string_view file) {
  ProfileCheck check = CheckProfileText(text, file);
  if (!check.profile) return Fail(DiagnosticsError(check.diagnostics, check.omitted));
  return std::move(*check.profile);
}

Result<Profile> ReadProfileFile(const std::string& path) {
  std::string text = SILK_TRY(ReadRegularFile(path, kMaxProfileBytes));
  return ParseProfile(text, path);
}

std::vector<Diagnostic> ValidateProfile(const Profile& profile, std::string_view file) {
  std::vector<Diagnostic> out;
  internal::CheckProfileSemantics(
      profile, [&](const std::string& pointer, const std::string& message, bool) {
        out.push_back(Diagnostic{std::string(file), 0, 0, JsonPointerToDisplay(pointer), message});
        return true;
      });
  return out;
}

std::string WriteProfile(const Profile& p, const WriteOptions& options) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["defaultAction"] = ActionName(p.default_action);
  if (p.default_errno_ret) j["defaultErrnoRet"] = *p.default_errno_ret;
  if (!p.architectures.empty()) j["architectures"] = p.architectures;
  if (!p.arch_map.empty()) {
    ordered_json map = ordered_json::array();
    for (const auto& e : p.arch_map) {
      ordered_json entry;
      entry["architecture"] = e.architecture;
      entry["subArchitectures"] = e.sub_architectures;
      map.push_back(std::move(entry));
    }
    j["archMap"] = std::move(map);
  }
  if (!p.flags.empty()) j["flags"] = p.flags;
  if (!p.listener_path.empty()) j["listenerPath"] = p.listener_path;
  if (!p.listener_metadata.empty()) j["listenerMetadata"] = p.listener_metadata;
  ordered_json rules = ordered_json::array();
  for (const auto& r : p.syscalls) {
    ordered_json rule;
    rule["names"] = r.names;
    rule["action"] = ActionName(r.action);
    if (r.errno_ret) rule["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) {
      ordered_json args = ordered_json::array();
      for (const auto& a : r.args) {
        ordered_json arg;
        arg["index"] = a.index;
        arg["value"] = a.value;
        if (a.value_two != 0 || a.op == ArgOp::kMaskedEqual) arg["valueTwo"] = a.value_two;
        arg["op"] = ArgOpName(a.op);
        args.push_back(std::move(arg));
      }
      rule["args"] = std::move(args);
    }
    if (options.comments && !r.comment.empty()) rule["comment"] = r.comment;
    for (const auto& [key, f] : {std::pair<const char*, const RuleFilter*>{"includes", &r.includes},
                                 {"excludes", &r.excludes}}) {
      if (f->empty()) continue;
      ordered_json filter;
      if (!f->caps.empty()) filter["caps"] = f->caps;
      if (!f->arches.empty()) filter["arches"] = f->arches;
      if (!f->min_kernel.empty()) filter["minKernel"] = f->min_kernel;
      rule[key] = std::move(filter);
    }
    rules.push_back(std::move(rule));
  }
  j["syscalls"] = std::move(rules);
  if (options.meta && !(p.meta == ProfileMeta{})) {
    ordered_json m;
    const ProfileMeta& meta = p.meta;
    if (!meta.name.empty()) m["name"] = meta.name;
    if (!meta.extends.empty()) m["extends"] = meta.extends;
    if (meta.generation) m["generation"] = *meta.generation;
    if (!meta.horizon.empty()) m["horizon"] = meta.horizon;
    m["clone3"] = Clone3Name(meta.clone3);
    if (!meta.notes.empty()) m["notes"] = meta.notes;
    j["silk"] = std::move(m);
  }
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

const std::vector<std::string>& KnownCapabilities() {
  // include/uapi/linux/capability.h, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40).
  static const std::vector<std::string> caps = {"CAP_CHOWN",
                                                "CAP_DAC_OVERRIDE",
                                                "CAP_DAC_READ_SEARCH",
                                                "CAP_FOWNER",
                                                "CAP_FSETID",
                                                "CAP_KILL",
                                                "CAP_SETGID",
                                                "CAP_SETUID",
                                                "CAP_SETPCAP",
                                                "CAP_LINUX_IMMUTABLE",
                                                "CAP_NET_BIND_SERVICE",
                                                "CAP_NET_BROADCAST",
                                                "CAP_NET_ADMIN",
                                                "CAP_NET_RAW",
                                                "CAP_IPC_LOCK",
                                                "CAP_IPC_OWNER",
                                                "CAP_SYS_MODULE",
                                                "CAP_SYS_RAWIO",
                                                "CAP_SYS_CHROOT",
                                                "CAP_SYS_PTRACE",
                                                "CAP_SYS_PACCT",
                                                "CAP_SYS_ADMIN",
                                                "CAP_SYS_BOOT",
                                                "CAP_SYS_NICE",
                                                "CAP_SYS_RESOURCE",
                                                "CAP_SYS_TIME",
                                                "CAP_SYS_TTY_CONFIG",
                                                "CAP_MKNOD",
                                                "CAP_LEASE",
                                                "CAP_AUDIT_WRITE",
                                                "CAP_AUDIT_CONTROL",
                                                "CAP_SETFCAP",
                                                "CAP_MAC_OVERRIDE",
                                                "CAP_MAC_ADMIN",
                                                "CAP_SYSLOG",
                                                "CAP_WAKE_ALARM",
                                                "CAP_BLOCK_SUSPEND",
                                                "CAP_AUDIT_READ",
                                                "CAP_PERFMON",
                                                "CAP_BPF",
                                                "CAP_CHECKPOINT_RESTORE"};
  return caps;
}

const std::vector<std::string>& KnownFlags() {
  // The flags the OCI runtime-spec lists for linux.seccomp.flags.
  static const std::vector<std::string> flags = {
      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  return flags;
}

}  // namespace silk::policy
