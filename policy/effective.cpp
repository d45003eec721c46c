#include "policy/effective.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "base/strings.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

// Whether `name` is a syscall MakeEffective places on `arch` (see effective.hpp).
std::optional<int> PlacedNumber(const std::string& name, ArchToken arch) {
  auto nr = SyscallNumber(name, arch);
  if (!nr) return std::nullopt;
  if (arch != NativeArch() && !LibseccompKnows(name, arch)) return std::nullopt;
  return nr;
}

// The rules already added, per syscall number, so that a repeated rule is dropped in
// O(log n) (a profile may hold 100k rules for one syscall).
using RuleKey = std::tuple<Action, uint32_t, std::vector<ArgCondition>>;
using SeenRules = std::map<int, std::set<RuleKey>>;

void AddRule(SyscallPolicy& sp, EffectiveRule rule, SeenRules& seen) {
  if (seen[sp.nr].emplace(rule.verdict.action, rule.verdict.errno_ret, rule.args).second)
    sp.rules.push_back(std::move(rule));
}

void AddUnconditional(EffectivePolicy& ep, ArchToken arch, const std::string& name,
                      const Verdict& v, SeenRules& seen) {
  auto nr = PlacedNumber(name, arch);
  if (!nr) return;
  SyscallPolicy& sp = ep.syscalls[*nr];
  sp.name = name;
  sp.nr = *nr;
  AddRule(sp, EffectiveRule{{}, v}, seen);
}

}  // namespace

std::string VerdictToString(const Verdict& v) {
  auto errno_text = [](uint32_t e) {
    const char* name = e < 4096 ? strerrorname_np(static_cast<int>(e)) : nullptr;
    return name ? std::string(name) : std::to_string(e);
  };
  switch (v.action) {
    case Action::kKillThread:
      return "kill-thread";
    case Action::kKillProcess:
      return "kill-process";
    case Action::kTrap:
      return "trap";
    case Action::kErrno:
      return "errno(" + errno_text(v.errno_ret) + ")";
    case Action::kTrace:
      return "trace(" + std::to_string(v.errno_ret) + ")";
    case Action::kLog:
      return "log";
    case Action::kNotify:
      return "notify";
    case Action::kAllow:
      return "allow";
  }
  return "unknown";
}

Verdict MakeVerdict(Action action, std::optional<uint32_t> errno_ret) {
  Verdict v{action, 0};
  if (action == Action::kErrno) v.errno_ret = errno_ret.value_or(EPERM);
  if (action == Action::kTrace) v.errno_ret = errno_ret.value_or(0);
  return v;
}

int ActionRank(Action action) {
  switch (action) {
    case Action::kKillProcess:
      return 0;
    case Action::kKillThread:
      return 1;
    case Action::kTrap:
      return 2;
    case Action::kErrno:
      return 3;
    case Action::kNotify:
      return 4;
    case Action::kTrace:
      return 5;
    case Action::kLog:
      return 6;
    case Action::kAllow:
      return 7;
  }
  return 0;
}

bool MoreRestrictive(const Verdict& a, const Verdict& b) {
  int ra = ActionRank(a.action), rb = ActionRank(b.action);
  if (ra != rb) return ra < rb;
  return a.errno_ret < b.errno_ret;
}

bool Allows(const Verdict& v) { return v.action == Action::kAllow || v.action == Action::kLog; }

bool ConditionHolds(const ArgCondition& c, uint64_t a) {
  switch (c.op) {
    case ArgOp::kNotEqual:
      return a != c.value;
    case ArgOp::kLessThan:
      return a < c.value;
    case ArgOp::kLessEqual:
      return a <= c.value;
    case ArgOp::kEqualTo:
      return a == c.value;
    case ArgOp::kGreaterEqual:
      return a >= c.value;
    case ArgOp::kGreaterThan:
      return a > c.value;
    case ArgOp::kMaskedEqual:
      return (a & c.value) == c.value_two;
  }
  return false;
}

Verdict EffectivePolicy::EvaluateRules(const std::vector<EffectiveRule>& rules,
                                       const uint64_t args[6]) const {
  const Verdict* best = nullptr;
  for (const auto& rule : rules) {
    bool match = std::all_of(rule.args.begin(), rule.args.end(), [&](const ArgCondition& c) {
      return c.index < 6 && ConditionHolds(c, args[c.index]);
    });
    if (match && (best == nullptr || MoreRestrictive(rule.verdict, *best))) best = &rule.verdict;
  }
  return best ? *best : default_verdict;
}

Verdict EffectivePolicy::Evaluate(int nr, const uint64_t args[6]) const {
  auto it = syscalls.find(nr);
  if (it == syscalls.end()) return default_verdict;
  return EvaluateRules(it->second.rules, args);
}

Result<EffectivePolicy> MakeEffective(const Profile& resolved, const std::string& arch_name) {
  ArchToken arch = SILK_TRY(ParseArch(arch_name));
  EffectivePolicy ep;
  ep.arch = ArchName(arch);
  ep.default_verdict = MakeVerdict(resolved.default_action, resolved.default_errno_ret);

  std::set<std::string> named;
  SeenRules seen;
  for (size_t i = 0; i < resolved.syscalls.size(); ++i) {
    const SyscallRule& rule = resolved.syscalls[i];
    std::string where = "syscalls[" + std::to_string(i) + "]";
    if (!rule.includes.empty() || !rule.excludes.empty())
      return Fail(ErrorCode::kInvalidInput,
                  where +
                      ": includes/excludes are not resolved; resolve the profile for an "
                      "architecture and capability set first (silk policy export)");
    for (const auto& c : rule.args)
      if (c.index > 5)
        return Fail(ErrorCode::kInvalidInput, where + ": argument index " +
                                                  std::to_string(c.index) +
                                                  " is out of range; syscalls have arguments 0..5");
    Verdict v = MakeVerdict(rule.action, rule.errno_ret);
    for (size_t j = 0; j < rule.names.size(); ++j) {
      const std::string& name = rule.names[j];
      const auto& all = AllSyscallNames();
      if (!std::binary_search(all.begin(), all.end(), name)) {
        std::string msg =
            where + ".names[" + std::to_string(j) + "]: unknown syscall \"" + name + "\"";
        msg += DidYouMean(name, all);
        return Fail(ErrorCode::kInvalidInput, msg);
      }
      named.insert(name);
      auto nr = PlacedNumber(name, arch);
      if (!nr) continue;
      SyscallPolicy& sp = ep.syscalls[*nr];
      sp.name = name;
      sp.nr = *nr;
      AddRule(sp, EffectiveRule{rule.args, v}, seen);
    }
  }

  const Verdict enosys{Action::kErrno, ENOSYS};
  bool default_allows = Allows(ep.default_verdict);
  if (!named.count("clone3")) {
    switch (resolved.meta.clone3) {
      case Clone3Policy::kEnosys:
        if (!default_allows) AddUnconditional(ep, arch, "clone3", enosys, seen);
        break;
      case Clone3Policy::kAllow:
        AddUnconditional(ep, arch, "clone3", Verdict{Action::kAllow, 0}, seen);
        break;
      case Clone3Policy::kDeny:
        if (default_allows)
          AddUnconditional(ep, arch, "clone3", Verdict{Action::kErrno, EPERM}, seen);
        break;
    }
    named.insert("clone3");
  }

  if (!resolved.meta.horizon.empty() && !default_allows &&
      ep.default_verdict.action != Action::kNotify) {
    KernelVersion horizon =
        SILK_TRY(WithContext(ParseKernelVersion(resolved.meta.horizon), "silk.horizon"));
    for (const auto& e : HorizonTable())
      if (e.introduced > horizon && !named.count(e.name))
        AddUnconditional(ep, arch, e.name, enosys, seen);
  }
  return ep;
}

Result<std::vector<EffectivePolicy>> MakeEffectiveAll(const Profile& resolved) {
  std::vector<EffectivePolicy> out;
  std::set<ArchToken> seen;
  std::vector<std::string> arches = resolved.architectures;
  if (arches.empty()) arches.push_back(ArchName(NativeArch()));
  for (size_t i = 0; i < arches.size(); ++i) {
    ArchToken token =
        SILK_TRY(WithContext(ParseArch(arches[i]), "architectures[" + std::to_string(i) + "]"));
    if (!seen.insert(token).second) continue;
    out.push_back(SILK_TRY(MakeEffective(resolved, ArchName(token))));
  }
  return out;
}

}  // namespace silk::policy
