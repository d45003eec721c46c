// A classic-BPF interpreter for seccomp programs (the subset the kernel accepts for
// seccomp filters: loads from struct seccomp_data, ALU, jumps, scratch memory, return).
// The compiler uses it to check every filter it produces against
// EffectivePolicy::Evaluate before handing it out; tests use it too.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace silk::policy::internal {

// The seccomp return value (SECCOMP_RET_*) of `program` for one syscall, or nullopt if
// the program is malformed (unknown instruction, jump or load out of range, no return).
std::optional<uint32_t> RunSeccompBpf(const std::vector<sock_filter>& program, uint32_t arch,
                                      int nr, const uint64_t args[6]);

// True if the kernel's constant-action cache (kernel/seccomp.c, seccomp_is_const_allow,
// 5.11+) marks syscall `nr` on audit arch `arch` as always allowed by `program`: the
// path reads only arch and nr (loads of arguments or instruction_pointer end the
// emulation) and returns SECCOMP_RET_ALLOW. Mirrors the kernel's instruction subset.
bool KernelCachesAsAllow(const std::vector<sock_filter>& program, uint32_t arch, int nr);

}  // namespace silk::policy::internal
