#include "policy/internal/json_profile_reader.hpp"

#include <string.h>

#include <map>

#include "base/strings.hpp"
#include "policy/internal/json_source_map.hpp"

namespace silk::policy::internal {
namespace {

using nlohmann::json;

// "a string \"abc\"", "the number -1", "an object", ...
std::string Describe(const json& j) {
  // Only scalars are printed: dumping a hostile nested value would recurse deeply.
  std::string text = j.is_structured() ? "" : j.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  switch (j.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "the string " + text;
    case json::value_t::boolean:
      return "the boolean " + text;
    case json::value_t::null:
      return "null";
    case json::value_t::number_float:
      return "the non-integer number " + text;
    default:
      return "the number " + text;
  }
}

// 's', cut to its first 64 bytes ("...") so that a hostile 1 MiB word does not fill
// the message.
std::string Quote(const std::string& s) {
  if (s.size() <= 64) return "'" + s + "'";
  return "'" + s.substr(0, 64) + "...' (" + std::to_string(s.size()) + " bytes)";
}

class Reader {
 public:
  explicit Reader(const ReportFn& report) : report_(report) {}

  void Problem(const std::string& ptr, const std::string& msg, bool at_key = false) {
    if (!report_(ptr, msg, at_key)) full_ = true;
  }

  // DidYouMean, or "" once the caller keeps no more problems.
  std::string Suggest(const std::string& word, const std::vector<std::string>& known) const {
    return full_ ? "" : DidYouMean(word, known);
  }

  // Checks that `j` is an object and reports unknown keys. Returns false if not an object.
  bool Object(const json& j, const std::string& ptr, const std::string& what,
              const std::vector<std::string>& known) {
    if (!j.is_object()) {
      Problem(ptr, "expected " + what + " (a JSON object), found " + Describe(j));
      return false;
    }
    for (const auto& [key, value] : j.items()) {
      bool ok = false;
      for (const auto& k : known) ok = ok || k == key;
      if (!ok) {
        std::string msg = "unknown field " + Quote(key) + " in " + what + Suggest(key, known);
        if (msg.back() != '?') msg += "; known fields: " + Join(known, ", ");
        Problem(PointerChild(ptr, key), msg, true);
      }
    }
    return true;
  }

  // The member `key` of object `obj`, or nullptr if absent or null.
  static const json* Member(const json& obj, const std::string& key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<std::string> String(const json& obj, const std::string& key, const std::string& ptr,
                                    bool required = false) {
    const json* v = Member(obj, key);
    std::string p = PointerChild(ptr, key);
    if (!v) {
      if (required) Problem(p, "missing required field " + Quote(key));
      return std::nullopt;
    }
    if (!v->is_string()) {
      Problem(p, "expected a string, found " + Describe(*v));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<uint64_t> Uint(const json& obj, const std::string& key, const std::string& ptr,
                               bool required = false, uint64_t max = UINT64_MAX) {
    const json* v = Member(obj, key);
    std::string p = PointerChild(ptr, key);
    if (!v) {
      if (required) Problem(p, "missing required field " + Quote(key));
      return std::nullopt;
    }
    uint64_t n = 0;
    if (v->is_number_unsigned()) {
      n = v->get<uint64_t>();
    } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
      n = static_cast<uint64_t>(v->get<int64_t>());
    } else {
      Problem(p, "expected a non-negative integer" +
                     (max == UINT64_MAX ? std::string(" (up to 2^64-1)")
                                        : " (0.." + std::to_string(max) + ")") +
                     ", found " + Describe(*v));
      return std::nullopt;
    }
    if (n > max) {
      Problem(p,
              "expected an integer in 0.." + std::to_string(max) + ", found " + std::to_string(n));
      return std::nullopt;
    }
    return n;
  }

  std::vector<std::string> Strings(const json& obj, const std::string& key,
                                   const std::string& ptr) {
    std::vector<std::string> out;
    const json* v = Member(obj, key);
    std::string p = PointerChild(ptr, key);
    if (!v) return out;
    if (!v->is_array()) {
      Problem(p, "expected an array of strings, found " + Describe(*v));
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_string()) {
        Problem(PointerChild(p, i), "expected a string, found " + Describe(e));
        continue;
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  // An array member, or nullptr (reported) if it is something else.
  const json* Array(const json& obj, const std::string& key, const std::string& ptr,
                    const std::string& what) {
    const json* v = Member(obj, key);
    if (!v) return nullptr;
    if (!v->is_array()) {
      Problem(PointerChild(ptr, key), "expected an array of " + what + ", found " + Describe(*v));
      return nullptr;
    }
    return v;
  }

  std::optional<Action> ActionField(const json& obj, const std::string& key,
                                    const std::string& ptr) {
    auto s = String(obj, key, ptr, true);
    if (!s) return std::nullopt;
    auto a = ParseAction(*s);
    if (!a) {
      static const std::vector<std::string> kNames = {
          "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",       "SCMP_ACT_TRACE",
          "SCMP_ACT_LOG",  "SCMP_ACT_NOTIFY",      "SCMP_ACT_ALLOW"};
      Problem(PointerChild(ptr, key), "unknown action " + Quote(*s) + Suggest(*s, kNames) +
                                          " (expected one of " + Join(kNames, ", ") + ")");
    }
    return a;
  }

  // "errno"/"defaultErrno" (a name) reconciled with "errnoRet"/"defaultErrnoRet".
  void ErrnoPair(const json& obj, const std::string& num_key, const std::string& name_key,
                 const std::string& ptr, std::optional<uint32_t>& out) {
    auto n = Uint(obj, num_key, ptr, false, UINT32_MAX);
    if (n) out = static_cast<uint32_t>(*n);
    auto name = String(obj, name_key, ptr);
    if (!name) return;
    auto by_name = ErrnoByName(*name);
    std::string p = PointerChild(ptr, name_key);
    if (!by_name) {
      Problem(p, "unknown errno name " + Quote(*name) + Suggest(*name, ErrnoNames()) +
                     " (expected a Linux errno name such as EPERM or ENOSYS)");
      return;
    }
    if (out && *out != *by_name) {
      Problem(p, Quote(name_key) + " is " + *name + " (" + std::to_string(*by_name) + ") but " +
                     Quote(num_key) + " is " + std::to_string(*out) + " (" + ErrnoName(*out) +
                     "); make them agree or drop " + Quote(name_key));
      return;
    }
    out = *by_name;
  }

  void Filter(const json& obj, const std::string& key, const std::string& ptr, RuleFilter& out) {
    const json* v = Member(obj, key);
    if (!v) return;
    std::string p = PointerChild(ptr, key);
    if (!Object(*v, p, Quote(key) + " filter", {"caps", "arches", "minKernel"})) return;
    out.caps = Strings(*v, "caps", p);
    out.arches = Strings(*v, "arches", p);
    out.min_kernel = String(*v, "minKernel", p).value_or("");
  }

  void Arg(const json& j, const std::string& ptr, ArgCondition& out) {
    if (!Object(j, ptr, "argument condition", {"index", "value", "valueTwo", "op"})) return;
    if (auto i = Uint(j, "index", ptr, true, 5)) out.index = static_cast<unsigned>(*i);
    if (auto v = Uint(j, "value", ptr, true)) out.value = *v;
    if (auto v = Uint(j, "valueTwo", ptr)) out.value_two = *v;
    if (auto s = String(j, "op", ptr, true)) {
      auto op = ParseArgOp(*s);
      if (op) {
        out.op = *op;
      } else {
        static const std::vector<std::string> kOps = {
            "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
        Problem(PointerChild(ptr, "op"), "unknown operator " + Quote(*s) + Suggest(*s, kOps) +
                                             " (expected one of " + Join(kOps, ", ") + ")");
      }
    }
  }

  void Rule(const json& j, const std::string& ptr, SyscallRule& out) {
    if (!Object(j, ptr, "syscall rule",
                {"names", "name", "action", "errnoRet", "errno", "args", "comment", "includes",
                 "excludes"}))
      return;
    out.names = Strings(j, "names", ptr);
    if (auto name = String(j, "name", ptr)) out.names.insert(out.names.begin(), *name);
    if (!Member(j, "names") && !Member(j, "name"))
      Problem(PointerChild(ptr, "names"),
              "missing required field 'names' (the syscalls this rule applies to)");
    if (auto a = ActionField(j, "action", ptr)) out.action = *a;
    ErrnoPair(j, "errnoRet", "errno", ptr, out.errno_ret);
    if (const json* args = Array(j, "args", ptr, "argument conditions")) {
      out.args.resize(args->size());
      for (size_t i = 0; i < args->size(); ++i)
        Arg((*args)[i], PointerChild(PointerChild(ptr, "args"), i), out.args[i]);
    }
    out.comment = String(j, "comment", ptr).value_or("");
    Filter(j, "includes", ptr, out.includes);
    Filter(j, "excludes", ptr, out.excludes);
  }

  void Meta(const json& j, const std::string& ptr, ProfileMeta& out) {
    if (!Object(j, ptr, "silk metadata",
                {"name", "extends", "generation", "notes", "horizon", "clone3"}))
      return;
    out.name = String(j, "name", ptr).value_or("");
    out.extends = String(j, "extends", ptr).value_or("");
    if (auto g = Uint(j, "generation", ptr, false, 1000000)) out.generation = static_cast<int>(*g);
    out.notes = String(j, "notes", ptr).value_or("");
    out.horizon = String(j, "horizon", ptr).value_or("");
    if (auto c = String(j, "clone3", ptr)) {
      if (*c == "enosys")
        out.clone3 = Clone3Policy::kEnosys;
      else if (*c == "allow")
        out.clone3 = Clone3Policy::kAllow;
      else if (*c == "deny")
        out.clone3 = Clone3Policy::kDeny;
      else
        Problem(PointerChild(ptr, "clone3"),
                "unknown clone3 policy " + Quote(*c) + Suggest(*c, {"enosys", "allow", "deny"}) +
                    " (expected 'enosys' (glibc falls back to clone), 'allow' or 'deny')");
    }
  }

  void Top(const json& j, Profile& out) {
    const std::string ptr;
    if (!Object(j, ptr, "seccomp profile",
                {"defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap",
                 "flags", "listenerPath", "listenerMetadata", "syscalls", "silk"}))
      return;
    if (auto a = ActionField(j, "defaultAction", ptr)) out.default_action = *a;
    ErrnoPair(j, "defaultErrnoRet", "defaultErrno", ptr, out.default_errno_ret);
    out.architectures = Strings(j, "architectures", ptr);
    if (const json* map = Array(j, "archMap", ptr, "architecture mappings")) {
      for (size_t i = 0; i < map->size(); ++i) {
        std::string p = PointerChild("/archMap", i);
        const json& e = (*map)[i];
        ArchMapEntry entry;
        if (!Object(e, p, "archMap entry", {"architecture", "subArchitectures"})) continue;
        entry.architecture = String(e, "architecture", p, true).value_or("");
        entry.sub_architectures = Strings(e, "subArchitectures", p);
        out.arch_map.push_back(std::move(entry));
      }
    }
    out.flags = Strings(j, "flags", ptr);
    out.listener_path = String(j, "listenerPath", ptr).value_or("");
    out.listener_metadata = String(j, "listenerMetadata", ptr).value_or("");
    if (const json* rules = Array(j, "syscalls", ptr, "syscall rules")) {
      out.syscalls.resize(rules->size());
      for (size_t i = 0; i < rules->size(); ++i)
        Rule((*rules)[i], PointerChild("/syscalls", i), out.syscalls[i]);
    }
    if (const json* meta = Member(j, "silk")) Meta(*meta, "/silk", out.meta);
  }

 private:
  const ReportFn& report_;
  bool full_ = false;
};

struct ErrnoTable {
  std::map<std::string, uint32_t> by_name;
  std::map<uint32_t, std::string> by_number;
  std::vector<std::string> names;
  ErrnoTable() {
    for (int e = 1; e < 4096; ++e) {
      const char* name = strerrorname_np(e);
      if (!name) continue;
      by_name.emplace(name, static_cast<uint32_t>(e));
      by_number.emplace(static_cast<uint32_t>(e), name);  // first name wins (EAGAIN)
      names.emplace_back(name);
    }
  }
};

const ErrnoTable& Errnos() {
  static const ErrnoTable table;
  return table;
}

}  // namespace

std::optional<uint32_t> ErrnoByName(const std::string& name) {
  auto it = Errnos().by_name.find(name);
  if (it == Errnos().by_name.end()) return std::nullopt;
  return it->second;
}

std::string ErrnoName(uint32_t number) {
  auto it = Errnos().by_number.find(number);
  return it == Errnos().by_number.end() ? "" : it->second;
}

const std::vector<std::string>& ErrnoNames() { return Errnos().names; }

void ReadProfileJson(const nlohmann::json& doc, Profile& out, const ReportFn& report) {
  Reader(report).Top(doc, out);
}

}  // namespace silk::policy::internal
