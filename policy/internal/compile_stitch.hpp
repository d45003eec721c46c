// Stitching per-architecture seccomp programs behind one architecture dispatcher.
//
// Each architecture is compiled alone (by silk's generator, compile_codegen.hpp, or by
// libseccomp in a context holding only that architecture) and the programs are joined
// here. x32 shares AUDIT_ARCH_X86_64 with x86_64 and is told apart by the x32 bit of
// the syscall number, so the dispatcher routes on both:
//
//   ld arch
//   jeq AUDIT_ARCH_X86_64 -> ld nr; jge __X32_SYSCALL_BIT ? ja x32 : ja x86_64
//   jeq AUDIT_ARCH_I386   -> ja x86
//   ...                   (one entry per audit architecture, native first)
//   ret bad_arch
//   <x86_64 program> <x32 program> <x86 program> ...
//
// Every program (silk's or libseccomp's) ends each path in a return, so none falls
// through into the next; long jumps use BPF_JA (32-bit offsets). A side of the x86_64/x32 split
// that the profile does not list returns bad_arch. The dispatcher reads only arch and nr, so the
// kernel's constant-action cache still sees argument-free verdicts as constant.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy::internal {

// One architecture's program, from silk's generator or as libseccomp exported it (with
// its own arch check).
struct ArchProgram {
  ArchToken arch;
  std::vector<sock_filter> program;
  std::string pfc;
};

// The audit arch value the kernel puts in seccomp_data.arch for `token` (x32 syscalls
// arrive on AUDIT_ARCH_X86_64 with the x32 bit set in the number).
uint32_t AuditArch(ArchToken token);

// The joined program (see above). Errors (kUnsupported) when it would exceed
// BPF_MAXINSNS; kInvalidInput for an empty or duplicated architecture.
Result<std::vector<sock_filter>> Stitch(const std::vector<ArchProgram>& parts, uint32_t bad_arch);

// The parts' PFC texts, each under a header naming its architecture and how the
// dispatcher reaches it.
std::string StitchPfc(const std::vector<ArchProgram>& parts, uint32_t bad_arch);

}  // namespace silk::policy::internal
