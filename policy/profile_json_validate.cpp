// Semantic validation of profiles (see profile_json.hpp).
#include <algorithm>
#include <cctype>
#include <set>

#include "base/json_object.hpp"
#include "base/strings.hpp"
#include "policy/internal/json_profile_reader.hpp"
#include "policy/profile_json.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

using internal::ReportFn;

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return s[0] != '.' && s[0] != '-';
}

class Checker {
 public:
  explicit Checker(const ReportFn& report) : problems_(report) {}

  void Report(const std::string& ptr, const std::string& msg, bool at_key) {
    problems_.Report(ptr, msg, at_key);
  }

  // DidYouMean, or "" once the caller keeps no more problems.
  std::string Suggest(const std::string& word, const std::vector<std::string>& known) const {
    return problems_.Suggest(word, known);
  }

  void Scmp(const std::string& arch, const std::string& ptr) {
    auto token = ParseArch(arch);
    if (!token) {
      Report(ptr,
             "unknown architecture " + QuoteWord(arch) + Suggest(arch, KnownArchNames()) +
                 " (expected a libseccomp name such as SCMP_ARCH_X86_64)",
             false);
    } else if (arch != ArchName(*token)) {
      Report(ptr,
             "expected the libseccomp spelling " + QuoteWord(ArchName(*token)) + ", found " +
                 QuoteWord(arch) + " (runc and crun accept only SCMP_ARCH_*)",
             false);
    }
  }

  void Errno(Action action, const std::optional<uint32_t>& value, const std::string& ptr) {
    if (!value) return;
    if (action == Action::kErrno) {
      if (*value == 0 || *value > 4095)
        Report(ptr,
               "expected an errno in 1..4095 for SCMP_ACT_ERRNO, found " + std::to_string(*value) +
                   (*value == 0 ? " (0 would make a denied syscall report success)" : ""),
               false);
    } else if (action == Action::kTrace) {
      if (*value > 65535)
        Report(ptr,
               "expected a tracer message in 0..65535 for SCMP_ACT_TRACE, found " +
                   std::to_string(*value),
               false);
    } else {
      Report(ptr,
             std::string("an errno makes no sense for ") + ActionName(action) +
                 " (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE use it); remove the field",
             true);
    }
  }

  void Filter(const RuleFilter& f, const std::string& ptr) {
    for (size_t i = 0; i < f.caps.size(); ++i) {
      const auto& known = KnownCapabilities();
      if (std::find(known.begin(), known.end(), f.caps[i]) == known.end())
        Report(JsonPointerChild(JsonPointerChild(ptr, "caps"), i),
               "unknown capability " + QuoteWord(f.caps[i]) + Suggest(f.caps[i], known) +
                   " (expected a name such as CAP_SYS_ADMIN)",
               false);
    }
    for (size_t i = 0; i < f.arches.size(); ++i) {
      std::string p = JsonPointerChild(JsonPointerChild(ptr, "arches"), i);
      auto token = ParseArch(f.arches[i]);
      if (!token) {
        std::vector<std::string> shorts;
        for (const auto& n : KnownArchNames()) {
          auto t = ParseArch(n);
          if (t) shorts.emplace_back(ArchShortName(*t));
        }
        Report(p,
               "unknown architecture " + QuoteWord(f.arches[i]) + Suggest(f.arches[i], shorts) +
                   " (expected an OCI name such as amd64, x86, x32, arm64)",
               false);
      } else if (f.arches[i] != ArchShortName(*token)) {
        Report(p,
               "expected the OCI spelling " + QuoteWord(ArchShortName(*token)) + ", found " +
                   QuoteWord(f.arches[i]) + " (Docker and Podman compare these names literally)",
               false);
      }
    }
    if (!f.min_kernel.empty()) {
      auto v = ParseKernelVersion(f.min_kernel);
      if (!v)
        Report(JsonPointerChild(ptr, "minKernel"),
               "expected a kernel version MAJOR.MINOR such as \"5.8\", found " +
                   QuoteWord(f.min_kernel),
               false);
    }
  }

  void Rule(const SyscallRule& r, const std::string& ptr) {
    std::string names_ptr = JsonPointerChild(ptr, "names");
    if (r.names.empty()) Report(names_ptr, "expected at least one syscall name, found none", false);
    std::set<std::string> seen;
    for (size_t i = 0; i < r.names.size(); ++i) {
      const std::string& name = r.names[i];
      std::string p = JsonPointerChild(names_ptr, i);
      const auto& all = AllSyscallNames();
      if (!std::binary_search(all.begin(), all.end(), name)) {
        Report(p,
               "unknown syscall " + QuoteWord(name) + Suggest(name, all) +
                   " (not a syscall on any architecture libseccomp knows)",
               false);
      }
      if (!seen.insert(name).second)
        Report(p, "syscall " + QuoteWord(name) + " is listed twice in this rule; remove one",
               false);
    }
    Errno(r.action, r.errno_ret, JsonPointerChild(ptr, "errnoRet"));
    for (size_t i = 0; i < r.args.size(); ++i) {
      const ArgCondition& a = r.args[i];
      std::string p = JsonPointerChild(JsonPointerChild(ptr, "args"), i);
      if (a.index > 5)
        Report(JsonPointerChild(p, "index"),
               "expected an argument index in 0..5, found " + std::to_string(a.index), false);
      if (a.op == ArgOp::kMaskedEqual) {
        if ((a.value_two & ~a.value) != 0)
          Report(JsonPointerChild(p, "valueTwo"),
                 "SCMP_CMP_MASKED_EQ can never match: valueTwo has bits outside the mask "
                 "'value' ((arg & value) == valueTwo is always false)",
                 false);
      } else if (a.value_two != 0) {
        Report(JsonPointerChild(p, "valueTwo"),
               std::string("valueTwo is only used by SCMP_CMP_MASKED_EQ, found it with ") +
                   ArgOpName(a.op) + "; remove it or use SCMP_CMP_MASKED_EQ",
               true);
      }
      for (size_t j = 0; j < i; ++j) {
        if (r.args[j] == a)
          Report(p,
                 "the same condition appears twice in this rule (args[" + std::to_string(j) +
                     "]); remove one",
                 false);
      }
    }
    Filter(r.includes, JsonPointerChild(ptr, "includes"));
    Filter(r.excludes, JsonPointerChild(ptr, "excludes"));
  }

  void Meta(const ProfileMeta& m) {
    if (!m.name.empty() && !ValidName(m.name))
      Report("/silk/name",
             "expected a profile name of letters, digits, '-', '_' and '.', found " +
                 QuoteWord(m.name),
             false);
    if (!m.extends.empty() && !ValidName(m.extends))
      Report("/silk/extends",
             "expected the name of the parent profile, found " + QuoteWord(m.extends), false);
    if (!m.extends.empty() && m.extends == m.name)
      Report("/silk/extends", "a profile cannot extend itself (" + QuoteWord(m.name) + ")", false);
    if (m.generation && *m.generation < 0)
      Report("/silk/generation", "expected a generation >= 0", false);
    if (!m.horizon.empty() && !ParseKernelVersion(m.horizon))
      Report("/silk/horizon",
             "expected a kernel version MAJOR.MINOR such as \"6.1\", found " + QuoteWord(m.horizon),
             false);
  }

  void Top(const Profile& p) {
    Errno(p.default_action, p.default_errno_ret, "/defaultErrnoRet");
    std::set<std::string> seen;
    for (size_t i = 0; i < p.architectures.size(); ++i) {
      std::string ptr = JsonPointerChild("/architectures", i);
      Scmp(p.architectures[i], ptr);
      if (!seen.insert(p.architectures[i]).second)
        Report(ptr, "architecture " + QuoteWord(p.architectures[i]) + " is listed twice", false);
    }
    if (!p.architectures.empty() && !p.arch_map.empty())
      Report("/archMap",
             "both 'architectures' and 'archMap' are set; Docker and Podman refuse this, use "
             "one of them",
             true);
    seen.clear();
    for (size_t i = 0; i < p.arch_map.size(); ++i) {
      std::string ptr = JsonPointerChild("/archMap", i);
      Scmp(p.arch_map[i].architecture, JsonPointerChild(ptr, "architecture"));
      if (!p.arch_map[i].architecture.empty() && !seen.insert(p.arch_map[i].architecture).second)
        Report(JsonPointerChild(ptr, "architecture"),
               "archMap has two entries for " + QuoteWord(p.arch_map[i].architecture), false);
      for (size_t j = 0; j < p.arch_map[i].sub_architectures.size(); ++j)
        Scmp(p.arch_map[i].sub_architectures[j],
             JsonPointerChild(JsonPointerChild(ptr, "subArchitectures"), j));
    }
    seen.clear();
    for (size_t i = 0; i < p.flags.size(); ++i) {
      std::string ptr = JsonPointerChild("/flags", i);
      const auto& known = KnownFlags();
      if (std::find(known.begin(), known.end(), p.flags[i]) == known.end())
        Report(ptr,
               "unknown flag " + QuoteWord(p.flags[i]) + Suggest(p.flags[i], known) +
                   " (expected one of " + Join(known, ", ") + ")",
               false);
      if (!seen.insert(p.flags[i]).second)
        Report(ptr, "flag " + QuoteWord(p.flags[i]) + " is listed twice", false);
    }
    if (!p.listener_metadata.empty() && p.listener_path.empty())
      Report("/listenerMetadata", "listenerMetadata needs listenerPath (the OCI spec requires it)",
             true);
    for (size_t i = 0; i < p.syscalls.size(); ++i)
      Rule(p.syscalls[i], JsonPointerChild("/syscalls", i));
    Meta(p.meta);
  }

 private:
  JsonProblems problems_;
};

}  // namespace

namespace internal {
void CheckProfileSemantics(const Profile& profile, const ReportFn& report) {
  Checker(report).Top(profile);
}
}  // namespace internal

}  // namespace silk::policy
