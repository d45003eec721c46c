// Region arithmetic on argument conditions, for the compiler.
//
// libseccomp places one comparison per argument in a rule, and when rules of one
// syscall overlap with different actions its decision tree does not implement "the most
// restrictive verdict wins". The compiler therefore hands libseccomp disjoint regions:
// a Term is a conjunction of ArgConditions (any number per argument); Subtract() and
// Expressible() turn overlapping, arbitrarily combined terms into conjunctions with at
// most one comparison per argument. Everything here is exact: a per-argument
// conjunction that no single comparison expresses is split into masked-equality
// patterns (an interval is a union of aligned power-of-two blocks, x != v is the union
// over bits of "bit i differs").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "policy/effective.hpp"
#include "policy/profile.hpp"

namespace silk::policy::internal {

using Term = std::vector<ArgCondition>;  // conjunction; empty = always true

// False if no argument values satisfy `t`.
bool Satisfiable(const Term& t);

// Terms whose union is `t` and that have at most one condition per argument (sorted by
// argument index); empty if `t` is unsatisfiable. Errors (kUnsupported) when more than
// `limit` terms would be needed.
Result<std::vector<Term>> Expressible(const Term& t, size_t limit);

// Terms whose union is (union of `a`) minus `b`, pairwise disjoint from `b`.
std::vector<Term> Subtract(const std::vector<Term>& a, const Term& b);

// The rules of one syscall as regions, most restrictive verdict first: each verdict's
// terms minus the terms of every more restrictive verdict, disjoint from each other and
// from the other verdicts' regions. The default verdict's region (no rule matches) is not
// included. Errors (kUnsupported) beyond `limit` terms.
Result<std::vector<std::pair<Verdict, std::vector<Term>>>> Regions(const SyscallPolicy& sp,
                                                                   size_t limit);

// One libseccomp rule: a seccomp action and a conjunction with at most one comparison
// per argument and no SCMP_CMP_NE.
struct Chain {
  uint32_t action;
  Term term;
};

// The chains of one syscall: its rules as disjoint regions (most restrictive verdict
// wins, see effective.hpp), mapped to seccomp actions by `action_of`; regions whose
// action is `default_action` are left to the filter's default. An unconditional
// region becomes one chain without conditions. Errors (kUnsupported) when more than
// `limit` chains would be needed.
Result<std::vector<Chain>> SyscallChains(const SyscallPolicy& sp,
                                         uint32_t (*action_of)(const Verdict&, bool),
                                         bool notify_denials, uint32_t default_action,
                                         size_t limit);

}  // namespace silk::policy::internal
