// Checks a compiled seccomp program against the reference semantics
// (EffectivePolicy::Evaluate) with the BPF interpreter: every syscall number of each
// covered architecture's range (named or not, 0..1099 after the ABI's base) with zero
// arguments, every named syscall on the boundary values
// of its argument conditions (v-1, v, v+1, masked patterns, 0, max; all combinations
// up to a bound, a fixed pseudo-random sample beyond), and the compat architectures the
// program does not cover (which must get the bad-architecture action).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "base/result.hpp"
#include "policy/compile.hpp"
#include "policy/effective.hpp"

namespace silk::policy::internal {

// Errors (kUnsupported) name the architecture, syscall, arguments and both answers.
Result<void> VerifyAgainstEvaluate(const std::vector<sock_filter>& program,
                                   const std::vector<EffectivePolicy>& policies,
                                   const CompileOptions& options);

}  // namespace silk::policy::internal
