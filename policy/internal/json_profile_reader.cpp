#include "policy/internal/json_profile_reader.hpp"

#include <string.h>

#include <map>

#include "base/json_object.hpp"
#include "base/strings.hpp"

namespace silk::policy::internal {
namespace {

using nlohmann::json;

// Reads each part of a profile through base's JsonObjectReader; the problems go to
// the caller's ReportFn.
class Reader {
 public:
  explicit Reader(const ReportFn& report) : problems_(report) {}

  std::optional<Action> ActionField(JsonObjectReader& r, const std::string& key) {
    std::string s;
    if (!r.String(key, s, JsonNeed::kRequired)) return std::nullopt;
    auto a = ParseAction(s);
    if (!a) {
      static const std::vector<std::string> kNames = {
          "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",       "SCMP_ACT_TRACE",
          "SCMP_ACT_LOG",  "SCMP_ACT_NOTIFY",      "SCMP_ACT_ALLOW"};
      r.Problem(key, "unknown action " + QuoteWord(s) + problems_.Suggest(s, kNames) +
                         " (expected one of " + Join(kNames, ", ") + ")");
    }
    return a;
  }

  // "errno"/"defaultErrno" (a name) reconciled with "errnoRet"/"defaultErrnoRet".
  void ErrnoPair(JsonObjectReader& r, const std::string& num_key, const std::string& name_key,
                 std::optional<uint32_t>& out) {
    uint32_t n = 0;
    if (r.Uint(num_key, n)) out = n;
    std::string name;
    if (!r.String(name_key, name)) return;
    auto by_name = ErrnoByName(name);
    if (!by_name) {
      r.Problem(name_key, "unknown errno name " + QuoteWord(name) +
                              problems_.Suggest(name, ErrnoNames()) +
                              " (expected a Linux errno name such as EPERM or ENOSYS)");
      return;
    }
    if (out && *out != *by_name) {
      r.Problem(name_key, QuoteWord(name_key) + " is " + name + " (" + std::to_string(*by_name) +
                              ") but " + QuoteWord(num_key) + " is " + std::to_string(*out) + " (" +
                              ErrnoName(*out) + "); make them agree or drop " +
                              QuoteWord(name_key));
      return;
    }
    out = *by_name;
  }

  void Filter(JsonObjectReader& rule, const std::string& key, RuleFilter& out) {
    auto f = rule.Object(key, QuoteWord(key) + " filter");
    if (!f) return;
    f->Strings("caps", out.caps);
    f->Strings("arches", out.arches);
    f->String("minKernel", out.min_kernel);
    f->Finish();
  }

  void Arg(const json& j, const std::string& ptr, ArgCondition& out) {
    JsonObjectReader r(j, ptr, "argument condition", problems_);
    r.Uint("index", out.index, 5, JsonNeed::kRequired);
    r.Uint("value", out.value, UINT64_MAX, JsonNeed::kRequired);
    r.Uint("valueTwo", out.value_two);
    std::string s;
    if (r.String("op", s, JsonNeed::kRequired)) {
      auto op = ParseArgOp(s);
      if (op) {
        out.op = *op;
      } else {
        static const std::vector<std::string> kOps = {
            "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
        r.Problem("op", "unknown operator " + QuoteWord(s) + problems_.Suggest(s, kOps) +
                            " (expected one of " + Join(kOps, ", ") + ")");
      }
    }
    r.Finish();
  }

  void Rule(const json& j, const std::string& ptr, SyscallRule& out) {
    JsonObjectReader r(j, ptr, "syscall rule", problems_);
    if (!r.ok()) return;
    bool has_names = r.Find("names") != nullptr;
    r.Strings("names", out.names);
    std::string name;
    if (r.String("name", name)) out.names.insert(out.names.begin(), name);
    if (!has_names && !r.Find("name"))
      r.Problem("names", "missing required field 'names' (the syscalls this rule applies to)");
    if (auto a = ActionField(r, "action")) out.action = *a;
    ErrnoPair(r, "errnoRet", "errno", out.errno_ret);
    if (const json* args = r.Array("args", "argument conditions")) {
      out.args.resize(args->size());
      for (size_t i = 0; i < args->size(); ++i)
        Arg((*args)[i], JsonPointerChild(r.Child("args"), i), out.args[i]);
    }
    r.String("comment", out.comment);
    Filter(r, "includes", out.includes);
    Filter(r, "excludes", out.excludes);
    r.Finish();
  }

  void Meta(JsonObjectReader& top, ProfileMeta& out) {
    auto r = top.Object("silk", "silk metadata");
    if (!r) return;
    r->String("name", out.name);
    r->String("extends", out.extends);
    if (int generation = 0; r->Uint("generation", generation, 1000000)) out.generation = generation;
    r->String("notes", out.notes);
    r->String("horizon", out.horizon);
    r->OneOf("clone3", out.clone3,
             {{"enosys", Clone3Policy::kEnosys},
              {"allow", Clone3Policy::kAllow},
              {"deny", Clone3Policy::kDeny}},
             "clone3 policy");
    r->Finish();
  }

  void Top(const json& j, Profile& out) {
    JsonObjectReader r(j, "", "seccomp profile", problems_);
    if (!r.ok()) return;
    if (auto a = ActionField(r, "defaultAction")) out.default_action = *a;
    ErrnoPair(r, "defaultErrnoRet", "defaultErrno", out.default_errno_ret);
    r.Strings("architectures", out.architectures);
    if (const json* map = r.Array("archMap", "architecture mappings")) {
      for (size_t i = 0; i < map->size(); ++i) {
        JsonObjectReader e((*map)[i], JsonPointerChild(r.Child("archMap"), i), "archMap entry",
                           problems_);
        if (!e.ok()) continue;
        ArchMapEntry entry;
        e.String("architecture", entry.architecture, JsonNeed::kRequired);
        e.Strings("subArchitectures", entry.sub_architectures);
        e.Finish();
        out.arch_map.push_back(std::move(entry));
      }
    }
    r.Strings("flags", out.flags);
    r.String("listenerPath", out.listener_path);
    r.String("listenerMetadata", out.listener_metadata);
    if (const json* rules = r.Array("syscalls", "syscall rules")) {
      out.syscalls.resize(rules->size());
      for (size_t i = 0; i < rules->size(); ++i)
        Rule((*rules)[i], JsonPointerChild(r.Child("syscalls"), i), out.syscalls[i]);
    }
    Meta(r, out.meta);
    r.Finish();
  }

 private:
  JsonProblems problems_;
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
