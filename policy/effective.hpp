// The effective policy of a resolved profile on one architecture: for every syscall
// number, the rules that decide it, and the verdict for everything else.
// This is the semantic model that the algebra (algebra.hpp) reasons about and that the
// compiler (compile.hpp) must implement exactly; Evaluate() is the reference semantics
// that kernel-truth tests compare the compiled filter against.
//
// Semantics (Evaluate):
//  - A rule matches when every one of its argument conditions holds (a conjunction over
//    the 64-bit argument registers; an empty rule always matches).
//  - When several rules of a syscall match, the most restrictive verdict wins, in the
//    order the kernel uses to combine the results of several filters
//    (kernel/seccomp.c, Documentation/userspace-api/seccomp_filter.rst):
//      kill-process < kill-thread < trap < errno < notify < trace < log < allow.
//    Between two verdicts with the same action (errno(EPERM) vs errno(EACCES)) the one
//    with the smaller errno / trace value wins. Rule order therefore never matters.
//  - When no rule matches (or the syscall has no rules), the default verdict applies.
//
// What MakeEffective adds to the profile's own rules:
//  - clone3 (seccomp cannot read its flags, which live in a struct in memory): when the
//    profile does not name clone3 itself, meta.clone3 decides: kEnosys -> errno(ENOSYS)
//    so glibc falls back to clone(2), whose flags a filter can check; kAllow -> allow;
//    kDeny -> the default verdict, or errno(EPERM) if the default allows. A profile
//    whose default verdict allows (allow, log) gets nothing added for kEnosys.
//  - the horizon: when meta.horizon is set and the default verdict does not allow
//    (anything but allow, log, notify), every syscall of the horizon table introduced
//    after the horizon that the profile does not name gets errno(ENOSYS): software
//    probing a syscall its kernel "does not have" falls back, as it would on an old
//    kernel, instead of failing on EPERM.
//  - On a non-native architecture, syscalls that the installed libseccomp does not know
//    (newer than its table) are treated as absent there: libseccomp can place rules for
//    them only on the native architecture, and the compiled filter must agree.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

// The outcome for one syscall invocation.
struct Verdict {
  Action action = Action::kErrno;
  uint32_t errno_ret = 0;  // meaningful for kErrno and kTrace only; 0 otherwise
  friend bool operator==(const Verdict&, const Verdict&) = default;
};
std::string VerdictToString(const Verdict& v);  // "allow", "errno(EPERM)", "kill-process"

// The verdict of `action` with an optional errno/trace value as a profile states it
// (errno defaults to EPERM, as runc and crun do; trace to 0; other actions carry 0).
Verdict MakeVerdict(Action action, std::optional<uint32_t> errno_ret);
// Position in the kernel's precedence order: 0 = kill-process (most restrictive) ...
// 7 = allow.
int ActionRank(Action action);
// True if `a` wins over `b` when both match (see the semantics above).
bool MoreRestrictive(const Verdict& a, const Verdict& b);
// True for verdicts that let the syscall run: allow and log.
bool Allows(const Verdict& v);
// True if argument value `value` satisfies `cond` (64-bit unsigned comparison).
bool ConditionHolds(const ArgCondition& cond, uint64_t value);

// One rule after resolution: a conjunction of argument conditions and its verdict.
struct EffectiveRule {
  std::vector<ArgCondition> args;  // empty = unconditional
  Verdict verdict;
  friend bool operator==(const EffectiveRule&, const EffectiveRule&) = default;
};

struct SyscallPolicy {
  std::string name;
  int nr = -1;
  std::vector<EffectiveRule> rules;
};

struct EffectivePolicy {
  std::string arch;  // libseccomp name: "SCMP_ARCH_X86_64"
  Verdict default_verdict;
  std::map<int, SyscallPolicy> syscalls;  // by syscall number on `arch`

  // The verdict for syscall `nr` with argument registers `args` (reference semantics).
  Verdict Evaluate(int nr, const uint64_t args[6]) const;
  // The verdict of one syscall's rules for `args` (default_verdict if none matches).
  Verdict EvaluateRules(const std::vector<EffectiveRule>& rules, const uint64_t args[6]) const;
};

// Builds the effective policy of `resolved` (a profile without includes/excludes left,
// see resolve.hpp) for `arch` (any ParseArch() spelling). Applies the horizon and the
// clone3 policy (see above). Identical rules of a syscall are merged; names that do not
// exist on `arch` (socketcall on x86_64) are skipped.
// Errors (kInvalidInput): an unknown architecture, a rule with includes/excludes left,
// an unknown syscall name (with the nearest names), an argument index above 5, an
// unparsable horizon; each names the rule (syscalls[i]) and the syscall.
Result<EffectivePolicy> MakeEffective(const Profile& resolved, const std::string& arch);

// The effective policies of every architecture a resolved profile covers: the
// profile's "architectures" (each compat architecture a process could switch to is
// covered only if listed), or the native architecture alone if the list is empty.
Result<std::vector<EffectivePolicy>> MakeEffectiveAll(const Profile& resolved);

}  // namespace silk::policy
