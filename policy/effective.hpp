// The effective policy of a resolved profile on one architecture: for every syscall
// number, the ordered rules that decide it, and the verdict for everything else.
// This is the semantic model that the algebra (algebra.hpp) reasons about and that the
// compiler (compile.hpp) must implement exactly; Evaluate() is the reference semantics
// that kernel-truth tests compare the compiled filter against.
#pragma once

#include <cstdint>
#include <map>
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
};

// Builds the effective policy of `resolved` (a profile without includes/excludes left,
// see resolve.hpp) for `arch`. Applies the horizon (syscalls newer than the profile's
// horizon that it does not name get ENOSYS) and the clone3 policy.
// Errors (kInvalidInput) name the rule (syscalls[i]) and the syscall.
Result<EffectivePolicy> MakeEffective(const Profile& resolved, const std::string& arch);

}  // namespace silk::policy
