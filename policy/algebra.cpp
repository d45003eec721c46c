#include "policy/algebra.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "policy/internal/compile_regions.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

using internal::Term;
using Region = std::pair<Verdict, std::vector<Term>>;

// Most terms any one computation may produce before the algebra gives up.
constexpr size_t kLimit = 4096;

int Class(const Verdict& v) {
  if (Allows(v)) return 2;
  if (v.action == Action::kNotify) return 1;
  return 0;
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), v < 10 ? "%llu" : "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// Every argument value of the syscall falls in exactly one region: the rule regions
// (most restrictive first) and the default verdict's region.
Result<std::vector<Region>> AllRegions(const EffectivePolicy& ep, int nr) {
  auto it = ep.syscalls.find(nr);
  if (it == ep.syscalls.end()) return std::vector<Region>{{ep.default_verdict, {{}}}};
  std::vector<Region> out = SILK_TRY(internal::Regions(it->second, kLimit));
  std::vector<Term> rest = {{}};
  for (const auto& r : it->second.rules) {
    rest = internal::Subtract(rest, r.args);
    if (rest.size() > kLimit)
      return Fail(ErrorCode::kUnsupported,
                  "the rules of " + it->second.name + " need too many regions for the algebra");
  }
  out.emplace_back(ep.default_verdict, std::move(rest));
  return out;
}

// Terms of `a` not covered by `b` (empty = a ⊆ b). Sets *undecided beyond the limit.
std::vector<Term> Uncovered(std::vector<Term> a, const std::vector<Term>& b, bool* undecided) {
  for (const auto& t : b) {
    a = internal::Subtract(a, t);
    if (a.size() > kLimit) {
      *undecided = true;
      return a;
    }
  }
  std::erase_if(a, [](const Term& t) { return !internal::Satisfiable(t); });
  return a;
}

Term Concat(const Term& a, const Term& b) {
  Term t = a;
  t.insert(t.end(), b.begin(), b.end());
  return t;
}

std::string SyscallLabel(const EffectivePolicy& ep, int nr) {
  auto it = ep.syscalls.find(nr);
  if (it != ep.syscalls.end()) return it->second.name;
  auto arch = ParseArch(ep.arch);
  if (arch)
    if (auto name = SyscallName(nr, *arch)) return *name;
  return "syscall " + std::to_string(nr);
}

// "allow if arg0 == 1; errno(EPERM) if ...; else errno(ENOSYS)"
std::string Describe(const EffectivePolicy& ep, int nr) {
  auto it = ep.syscalls.find(nr);
  if (it == ep.syscalls.end()) return VerdictToString(ep.default_verdict) + " (default)";
  std::string out;
  bool unconditional = false;
  for (const auto& r : it->second.rules) {
    if (!out.empty()) out += "; ";
    out += RuleToString(r);
    unconditional = unconditional || r.args.empty();
  }
  if (!unconditional) out += "; else " + VerdictToString(ep.default_verdict);
  return out;
}

// The verdict of `ep` somewhere in `where` that is in a class below `need`.
std::optional<Verdict> WeakerSomewhere(const std::vector<Region>& regions, const Term& where,
                                       int need) {
  for (const auto& [v, terms] : regions) {
    if (Class(v) >= need) continue;
    for (const auto& t : terms)
      if (internal::Satisfiable(Concat(t, where))) return v;
  }
  return std::nullopt;
}

void CheckSyscall(const EffectivePolicy& child, const EffectivePolicy& parent, int nr,
                  SubsetResult& result) {
  auto add = [&](int rule, const std::string& args, const std::string& text) {
    result.subset = false;
    result.violations.push_back(
        {child.arch, nr >= 0 ? SyscallLabel(child, nr) : "", nr, rule, args, text});
  };
  auto cr = AllRegions(child, nr);
  auto pr = AllRegions(parent, nr);
  if (!cr || !pr) {
    add(-1, "",
        SyscallLabel(child, nr) + ": " + (!cr ? cr.error() : pr.error()).message() +
            "; cannot prove it is a subset");
    return;
  }
  std::vector<Term> p_allow, p_permit;
  for (const auto& [v, terms] : *pr) {
    if (Class(v) >= 2) p_allow.insert(p_allow.end(), terms.begin(), terms.end());
    if (Class(v) >= 1) p_permit.insert(p_permit.end(), terms.begin(), terms.end());
  }
  const auto crules = child.syscalls.count(nr) ? &child.syscalls.at(nr).rules : nullptr;
  for (const auto& [v, terms] : *cr) {
    int c = Class(v);
    if (c == 0) continue;
    bool undecided = false;
    auto rest = Uncovered(terms, c == 2 ? p_allow : p_permit, &undecided);
    if (undecided) {
      add(-1, "",
          SyscallLabel(child, nr) + ": the argument conditions are too complex to " +
              "compare; cannot prove the child's " + VerdictToString(v) + " is within the parent");
      continue;
    }
    if (rest.empty()) continue;
    const Term& witness = rest.front();
    int rule = -1;
    if (crules) {
      for (size_t i = 0; i < crules->size(); ++i)
        if ((*crules)[i].verdict == v &&
            internal::Satisfiable(Concat((*crules)[i].args, witness))) {
          rule = static_cast<int>(i);
          break;
        }
    }
    auto pv = WeakerSomewhere(*pr, witness, c);
    std::string who =
        rule >= 0 ? "rule " + std::to_string(rule) + " (" + RuleToString((*crules)[rule]) + ")"
                  : "the default (" + VerdictToString(v) + ")";
    add(rule, ConditionsToString(witness),
        child.arch + ": " + SyscallLabel(child, nr) + ": child " + who + " lets it through for " +
            ConditionsToString(witness) + ", where the parent " +
            (pv ? "says " + VerdictToString(*pv) : std::string("does not allow it")));
  }
}

// Applies `pick` pointwise to a and b.
Result<EffectivePolicy> Combine(const EffectivePolicy& a, const EffectivePolicy& b,
                                bool restrictive) {
  if (a.arch != b.arch)
    return Fail(ErrorCode::kInvalidInput,
                "cannot combine policies of different architectures: " + a.arch + " and " + b.arch);
  auto pick = [&](const Verdict& x, const Verdict& y) {
    return MoreRestrictive(x, y) == restrictive ? x : y;
  };
  EffectivePolicy out;
  out.arch = a.arch;
  out.default_verdict = pick(a.default_verdict, b.default_verdict);
  std::set<int> nrs;
  for (const auto& [nr, sp] : a.syscalls) nrs.insert(nr);
  for (const auto& [nr, sp] : b.syscalls) nrs.insert(nr);
  for (int nr : nrs) {
    auto ra = SILK_TRY(AllRegions(a, nr));
    auto rb = SILK_TRY(AllRegions(b, nr));
    SyscallPolicy sp;
    sp.nr = nr;
    sp.name = SyscallLabel(a.syscalls.count(nr) ? a : b, nr);
    for (const auto& [va, ta] : ra)
      for (const auto& [vb, tb] : rb) {
        Verdict v = pick(va, vb);
        if (v == out.default_verdict) continue;  // regions are disjoint: default covers it
        for (const auto& x : ta)
          for (const auto& y : tb) {
            Term t = Concat(x, y);
            if (!internal::Satisfiable(t)) continue;
            std::sort(t.begin(), t.end());
            t.erase(std::unique(t.begin(), t.end()), t.end());
            EffectiveRule rule{t, v};
            if (std::find(sp.rules.begin(), sp.rules.end(), rule) == sp.rules.end())
              sp.rules.push_back(std::move(rule));
          }
      }
    if (sp.rules.size() > kLimit)
      return Fail(ErrorCode::kUnsupported, sp.name + ": the combination needs too many rules");
    if (!sp.rules.empty()) out.syscalls.emplace(nr, std::move(sp));
  }
  return out;
}

bool SameRules(const SyscallPolicy& x, const SyscallPolicy& y) {
  if (x.rules.size() != y.rules.size()) return false;
  for (const auto& r : x.rules)
    if (std::find(y.rules.begin(), y.rules.end(), r) == y.rules.end()) return false;
  return true;
}

}  // namespace

std::string ConditionToString(const ArgCondition& c) {
  std::string a = "arg" + std::to_string(c.index);
  switch (c.op) {
    case ArgOp::kNotEqual:
      return a + " != " + Hex(c.value);
    case ArgOp::kLessThan:
      return a + " < " + Hex(c.value);
    case ArgOp::kLessEqual:
      return a + " <= " + Hex(c.value);
    case ArgOp::kEqualTo:
      return a + " == " + Hex(c.value);
    case ArgOp::kGreaterEqual:
      return a + " >= " + Hex(c.value);
    case ArgOp::kGreaterThan:
      return a + " > " + Hex(c.value);
    case ArgOp::kMaskedEqual:
      return "(" + a + " & " + Hex(c.value) + ") == " + Hex(c.value_two);
  }
  return a;
}

std::string ConditionsToString(const std::vector<ArgCondition>& conds) {
  if (conds.empty()) return "any arguments";
  std::string out;
  for (const auto& c : conds) {
    if (!out.empty()) out += " && ";
    out += ConditionToString(c);
  }
  return out;
}

std::string RuleToString(const EffectiveRule& r) {
  if (r.args.empty()) return VerdictToString(r.verdict);
  return VerdictToString(r.verdict) + " if " + ConditionsToString(r.args);
}

Result<AllowSet> AllowSetOf(const EffectivePolicy& ep) {
  AllowSet out;
  out.arch = ep.arch;
  out.default_allows = Class(ep.default_verdict) == 2;
  out.default_notifies = Class(ep.default_verdict) == 1;
  for (const auto& [nr, sp] : ep.syscalls) {
    auto regions = SILK_TRY(AllRegions(ep, nr));
    SyscallAllow s;
    s.nr = nr;
    s.name = sp.name;
    for (const auto& [v, terms] : regions) {
      auto& into = Class(v) == 2 ? s.allowed : s.notify;
      if (Class(v) == 0) continue;
      into.insert(into.end(), terms.begin(), terms.end());
    }
    s.unconditional =
        std::any_of(s.allowed.begin(), s.allowed.end(), [](const Term& t) { return t.empty(); });
    if (s.unconditional) s.allowed = {{}};
    if (!s.allowed.empty() || !s.notify.empty()) out.syscalls.emplace(nr, std::move(s));
  }
  return out;
}

Result<AllowedCount> CountAllowed(const EffectivePolicy& policy) {
  AllowSet set = SILK_TRY(AllowSetOf(policy));
  AllowedCount n;
  for (const auto& [nr, s] : set.syscalls) {
    if (s.unconditional)
      ++n.unconditional;
    else if (!s.allowed.empty())
      ++n.conditional;
  }
  if (set.default_allows) {
    const size_t all = SyscallNames(SILK_TRY(ParseArch(policy.arch))).size();
    const size_t named = policy.syscalls.size();
    n.unconditional += all > named ? all - named : 0;
  }
  n.total = n.unconditional + n.conditional;
  return n;
}

SubsetResult Subset(const EffectivePolicy& child, const EffectivePolicy& parent) {
  SubsetResult result;
  if (child.arch != parent.arch) {
    result.subset = false;
    result.violations.push_back(
        {child.arch, "", -1, -1, "", "cannot compare " + child.arch + " with " + parent.arch});
    return result;
  }
  std::set<int> nrs;
  for (const auto& [nr, sp] : child.syscalls) nrs.insert(nr);
  for (const auto& [nr, sp] : parent.syscalls) nrs.insert(nr);
  for (int nr : nrs) CheckSyscall(child, parent, nr, result);
  // Syscalls neither names: default against default.
  int c = Class(child.default_verdict), p = Class(parent.default_verdict);
  if (c > p) {
    result.subset = false;
    result.violations.push_back(
        {child.arch, "", -1, -1, "any arguments",
         child.arch + ": the child's default (" + VerdictToString(child.default_verdict) +
             ") lets through syscalls that neither profile names; the parent's default is " +
             VerdictToString(parent.default_verdict)});
  }
  return result;
}

SubsetResult Subset(const std::vector<EffectivePolicy>& child,
                    const std::vector<EffectivePolicy>& parent) {
  SubsetResult result;
  for (const auto& c : child) {
    auto p = std::find_if(parent.begin(), parent.end(),
                          [&](const EffectivePolicy& x) { return x.arch == c.arch; });
    if (p != parent.end()) {
      SubsetResult r = Subset(c, *p);
      result.subset = result.subset && r.subset;
      result.violations.insert(result.violations.end(), r.violations.begin(), r.violations.end());
      continue;
    }
    // The parent's filter refuses this architecture entirely.
    auto allow = AllowSetOf(c);
    if (!allow || allow->default_allows || allow->default_notifies || !allow->syscalls.empty()) {
      result.subset = false;
      result.violations.push_back(
          {c.arch, "", -1, -1, "",
           c.arch + ": the child lets syscalls of this architecture through; the parent does "
                    "not cover it (its filter refuses the architecture)"});
    }
  }
  return result;
}

const char* DiffKindName(DiffEntry::Kind kind) {
  switch (kind) {
    case DiffEntry::Kind::kAdded:
      return "added";
    case DiffEntry::Kind::kRemoved:
      return "removed";
    case DiffEntry::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

Result<std::vector<DiffEntry>> Diff(const EffectivePolicy& a, const EffectivePolicy& b) {
  std::vector<DiffEntry> out;
  if (!(a.default_verdict == b.default_verdict))
    out.push_back({DiffEntry::Kind::kChanged, a.arch, "", -1,
                   "default " + VerdictToString(a.default_verdict),
                   "default " + VerdictToString(b.default_verdict)});
  std::set<int> nrs;
  for (const auto& [nr, sp] : a.syscalls) nrs.insert(nr);
  for (const auto& [nr, sp] : b.syscalls) nrs.insert(nr);
  for (int nr : nrs) {
    auto ra = SILK_TRY(AllRegions(a, nr));
    auto rb = SILK_TRY(AllRegions(b, nr));
    // Equal iff every pair of regions with different verdicts is disjoint.
    bool equal = true;
    for (const auto& [va, ta] : ra) {
      for (const auto& [vb, tb] : rb) {
        if (va == vb) continue;
        for (const auto& x : ta) {
          for (const auto& y : tb)
            if (internal::Satisfiable(Concat(x, y))) {
              equal = false;
              break;
            }
          if (!equal) break;
        }
        if (!equal) break;
      }
      if (!equal) break;
    }
    if (equal) continue;
    DiffEntry::Kind kind = !a.syscalls.count(nr)   ? DiffEntry::Kind::kAdded
                           : !b.syscalls.count(nr) ? DiffEntry::Kind::kRemoved
                                                   : DiffEntry::Kind::kChanged;
    out.push_back({kind, a.arch, SyscallLabel(a.syscalls.count(nr) ? a : b, nr), nr,
                   Describe(a, nr), Describe(b, nr)});
  }
  return out;
}

Result<std::vector<DiffEntry>> Diff(const std::vector<EffectivePolicy>& a,
                                    const std::vector<EffectivePolicy>& b) {
  std::vector<DiffEntry> out;
  for (const auto& x : a) {
    auto y = std::find_if(b.begin(), b.end(),
                          [&](const EffectivePolicy& p) { return p.arch == x.arch; });
    if (y == b.end()) {
      out.push_back({DiffEntry::Kind::kRemoved, x.arch, "", -1, "covered", "not covered"});
      continue;
    }
    auto d = SILK_TRY(Diff(x, *y));
    out.insert(out.end(), d.begin(), d.end());
  }
  for (const auto& y : b)
    if (std::none_of(a.begin(), a.end(),
                     [&](const EffectivePolicy& p) { return p.arch == y.arch; }))
      out.push_back({DiffEntry::Kind::kAdded, y.arch, "", -1, "not covered", "covered"});
  return out;
}

Result<EffectivePolicy> Intersect(const EffectivePolicy& a, const EffectivePolicy& b) {
  return Combine(a, b, true);
}

Result<EffectivePolicy> Union(const EffectivePolicy& a, const EffectivePolicy& b) {
  return Combine(a, b, false);
}

Result<Profile> ToProfile(const std::vector<EffectivePolicy>& policies) {
  if (policies.empty()) return Fail(ErrorCode::kInvalidInput, "no policy to turn into a profile");
  Profile p;
  const Verdict& d = policies[0].default_verdict;
  p.default_action = d.action;
  if (d.action == Action::kErrno || d.action == Action::kTrace) p.default_errno_ret = d.errno_ret;
  for (const auto& ep : policies) {
    if (!(ep.default_verdict == d))
      return Fail(ErrorCode::kInvalidInput, "architectures " + policies[0].arch + " and " +
                                                ep.arch + " have different default verdicts");
    p.architectures.push_back(ep.arch);
  }
  // A syscall's rules are shared when every architecture has the same ones (by name).
  std::set<std::string> names;
  for (const auto& ep : policies)
    for (const auto& [nr, sp] : ep.syscalls) names.insert(sp.name);
  auto find = [](const EffectivePolicy& ep, const std::string& name) -> const SyscallPolicy* {
    for (const auto& [nr, sp] : ep.syscalls)
      if (sp.name == name) return &sp;
    return nullptr;
  };
  auto exists = [](const EffectivePolicy& ep, const std::string& name) {
    auto arch = ParseArch(ep.arch);
    return arch && SyscallNumber(name, *arch).has_value();
  };
  // Unconditional rules with the same verdict and arch set are merged into one entry.
  std::map<std::pair<std::string, std::vector<std::string>>, size_t> merged;
  for (const auto& name : names) {
    bool shared = true;
    const SyscallPolicy* first = nullptr;
    for (const auto& ep : policies) {
      const SyscallPolicy* sp = find(ep, name);
      if (!sp && !exists(ep, name)) continue;  // absent on this arch: nothing to say
      if (!sp || (first && !SameRules(*sp, *first))) shared = false;
      if (!first) first = sp;
    }
    for (const auto& ep : policies) {
      const SyscallPolicy* sp = shared ? first : find(ep, name);
      if (!sp) continue;
      std::vector<std::string> arches;
      if (!shared) arches.push_back(ArchShortName(*ParseArch(ep.arch)));
      for (const auto& r : sp->rules) {
        SyscallRule rule;
        rule.action = r.verdict.action;
        if (r.verdict.action == Action::kErrno || r.verdict.action == Action::kTrace)
          rule.errno_ret = r.verdict.errno_ret;
        rule.args = r.args;
        rule.includes.arches = arches;
        if (r.args.empty()) {
          auto key = std::make_pair(VerdictToString(r.verdict), arches);
          auto it = merged.find(key);
          if (it != merged.end()) {
            p.syscalls[it->second].names.push_back(name);
            continue;
          }
          merged[key] = p.syscalls.size();
        }
        rule.names = {name};
        p.syscalls.push_back(std::move(rule));
      }
      if (shared) break;
    }
  }
  // clone3 and the horizon are explicit in the rules already: make MakeEffective add
  // nothing (kAllow adds an allow only where the default allows anyway).
  p.meta.clone3 = Allows(d) ? Clone3Policy::kAllow : Clone3Policy::kDeny;
  return p;
}

}  // namespace silk::policy
