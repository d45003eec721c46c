// The algebra of effective policies (effective.hpp), per architecture: what a policy
// allows, whether one policy is a subset of another (with the reasons it is not), the
// semantic difference, intersection and union, and the way back to a Profile.
//
// Argument conditions are regions of the 6 x 64-bit argument space: a rule is a
// conjunction (a box), several rules a union, and the rules of a syscall split into
// disjoint regions by verdict exactly as Evaluate decides (most restrictive wins).
// eq/ne/lt/le/gt/ge (unions of intervals) and masked_eq are handled exactly; when a
// computation would need more than a fixed number of regions the answer is the
// conservative one: Subset says "not proven" (a violation) rather than "subset".
//
// Classes of verdicts for Subset: allow and log allow; notify "maybe allows" (a
// supervisor decides); everything else denies. child ⊆ parent iff, for every syscall
// and argument values, a child allow is a parent allow, and a child notify is a parent
// allow or notify. Differing denials (errno(EPERM) vs errno(EACCES), kill vs errno) are
// a Diff, not a subset violation.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/effective.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

// The one way silk prints argument conditions (policy show, diff, subset, lineage).
// One condition: "arg0 == 0x10", "(arg2 & 0xff) == 0x1" (values under 10 in decimal).
std::string ConditionToString(const ArgCondition& cond);
// A conjunction: "arg0 == 0x10 && (arg2 & 0xff) == 0x1"; "any arguments" if empty.
std::string ConditionsToString(const std::vector<ArgCondition>& conds);
// A rule: "allow", "errno(EPERM) if arg0 == 1".
std::string RuleToString(const EffectiveRule& rule);

// --- allow set -------------------------------------------------------------------

// What a policy lets through for one syscall: the union of `allowed` conjunctions
// (allow, log), and of `notify` ones (decided by a supervisor).
struct SyscallAllow {
  int nr = -1;
  std::string name;
  bool unconditional = false;  // allowed for every argument value
  std::vector<std::vector<ArgCondition>> allowed;
  std::vector<std::vector<ArgCondition>> notify;
};

struct AllowSet {
  std::string arch;
  // The default verdict allows (or notifies): every syscall not in `syscalls` and not
  // named by the policy is let through.
  bool default_allows = false;
  bool default_notifies = false;
  std::map<int, SyscallAllow> syscalls;  // named syscalls that let something through
};

// Errors (kUnsupported) when the rules need more regions than the algebra handles.
Result<AllowSet> AllowSetOf(const EffectivePolicy& policy);

// The allowed-syscall count `silk policy show` and `silk regress` print: the syscalls of
// the policy's architecture that some argument values let run (allow, log), whether
// for any arguments or only under argument conditions; with a default that allows,
// every syscall the policy does not name counts too. Notified syscalls do not count (a
// supervisor decides). Errors: AllowSetOf's, kInvalidInput for an unknown arch.
struct AllowedCount {
  size_t total = 0;
  size_t unconditional = 0;  // for any arguments
  size_t conditional = 0;    // only under argument conditions
};
Result<AllowedCount> CountAllowed(const EffectivePolicy& policy);

// --- subset ----------------------------------------------------------------------

struct SubsetViolation {
  std::string arch;
  std::string syscall;  // "" when about the architecture or the default as a whole
  int nr = -1;
  int rule = -1;          // index into the child's rules for the syscall; -1 = default
  std::string arguments;  // the argument region where it happens, ConditionsToString
  std::string text;       // one sentence for people
};

struct SubsetResult {
  bool subset = true;
  std::vector<SubsetViolation> violations;
};

// child ⊆ parent on one architecture (both must be for the same arch; otherwise one
// violation says so).
SubsetResult Subset(const EffectivePolicy& child, const EffectivePolicy& parent);
// Per architecture: every child architecture must be a subset of the parent's policy
// for it; an architecture the parent does not cover (its filter refuses it) allows
// nothing there.
SubsetResult Subset(const std::vector<EffectivePolicy>& child,
                    const std::vector<EffectivePolicy>& parent);

// --- diff ------------------------------------------------------------------------

struct DiffEntry {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kChanged;
  std::string arch;
  std::string syscall;  // "" for the default verdict or a whole architecture
  int nr = -1;
  std::string before;  // "allow if arg0 == 1; else errno(EPERM)"
  std::string after;
};
const char* DiffKindName(DiffEntry::Kind kind);  // "added", "removed", "changed"

// Semantic difference a -> b: a syscall is listed when some argument values get a
// different verdict. kAdded: a syscall b names that a leaves to its default; kRemoved:
// the reverse. Errors (kUnsupported) for rule sets beyond the algebra's limits.
Result<std::vector<DiffEntry>> Diff(const EffectivePolicy& a, const EffectivePolicy& b);
Result<std::vector<DiffEntry>> Diff(const std::vector<EffectivePolicy>& a,
                                    const std::vector<EffectivePolicy>& b);

// --- intersect, union ------------------------------------------------------------

// Pointwise: Intersect gives the more restrictive verdict of the two (what both allow),
// Union the less restrictive one (what either allows). Same architecture required
// (kInvalidInput otherwise).
Result<EffectivePolicy> Intersect(const EffectivePolicy& a, const EffectivePolicy& b);
Result<EffectivePolicy> Union(const EffectivePolicy& a, const EffectivePolicy& b);

// --- back to a profile -----------------------------------------------------------

// A resolved Profile whose effective policies are `policies` (one per architecture, same
// default verdict): syscalls with the same unconditional verdict share one rule; rules
// that differ between architectures carry includes.arches. meta.clone3 is chosen so
// that MakeEffective adds nothing; meta.horizon is empty (horizon rules are explicit).
// Errors (kInvalidInput) for differing default verdicts or an empty list.
Result<Profile> ToProfile(const std::vector<EffectivePolicy>& policies);

}  // namespace silk::policy
