// The syscall table silk reasons about, per architecture: names <-> numbers through
// libseccomp (seccomp_syscall_resolve_name_arch / _num_arch), architecture names in the
// spellings that profiles and users write ("amd64", "x86_64", "SCMP_ARCH_X86_64"), and
// the horizon table: the kernel version that introduced each syscall newer than 3.16.
//
// Syscalls that the installed libseccomp does not know yet (it lags the kernel) but that
// the horizon table lists are resolved through the kernel's unified syscall numbering
// (every architecture but alpha and ia64 uses the same number for syscalls >= 424, with
// the x32 bit or the MIPS ABI offset added); LibseccompKnows() tells them apart because
// libseccomp can place a rule for them only on the native architecture.
//
// Everything here is read-only after first use and safe to call from several threads.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace silk::policy {

// An architecture is its libseccomp token (SCMP_ARCH_*, the audit arch value).
using ArchToken = uint32_t;

// Parses an architecture in any of the spellings profiles use: libseccomp's
// "SCMP_ARCH_X86_64", libseccomp's short "x86_64", Docker/OCI/Go "amd64", "386",
// "arm64", "ppc64le", uname's "i686", "aarch64", and "native". Case-insensitive.
// Errors (kInvalidInput) name the input and suggest the nearest known names.
Result<ArchToken> ParseArch(std::string_view name);

// "SCMP_ARCH_X86_64" for a known token; "SCMP_ARCH_UNKNOWN" otherwise.
const char* ArchName(ArchToken arch);
// The Docker/OCI short name: "amd64", "x86", "x32", "arm64", ...
const char* ArchShortName(ArchToken arch);
// The architecture silk runs on.
ArchToken NativeArch();
// Architectures whose syscalls a process on `native` can also make, and so could bypass
// a filter that checks only `native`: x86 (int 0x80) and x32 on x86_64, arm on aarch64,
// s390 on s390x, ppc on ppc64.
std::vector<ArchToken> CompatArches(ArchToken native);
// Names of every architecture ParseArch accepts as SCMP_ARCH_*.
std::vector<std::string> KnownArchNames();

// The number of syscall `name` on `arch`, or nullopt when the syscall does not exist
// there (e.g. "socketcall" on x86_64, "arch_prctl" on aarch64).
std::optional<int> SyscallNumber(std::string_view name, ArchToken arch);
// The name of syscall `nr` on `arch`, or nullopt.
std::optional<std::string> SyscallName(int nr, ArchToken arch);
// Every syscall name known on `arch`, sorted; for "did you mean" suggestions.
const std::vector<std::string>& SyscallNames(ArchToken arch);
// Every syscall name known on any supported architecture, sorted (a profile may name a
// syscall that exists only on some of its architectures, e.g. "socketcall").
const std::vector<std::string>& AllSyscallNames();
// True if the installed libseccomp can resolve `name` on `arch` itself (as opposed to
// silk's unified-number fallback for syscalls newer than libseccomp's table).
bool LibseccompKnows(std::string_view name, ArchToken arch);

// A kernel version "major.minor" (patch levels do not add syscalls).
struct KernelVersion {
  int major = 0;
  int minor = 0;
  friend auto operator<=>(const KernelVersion&, const KernelVersion&) = default;
  friend bool operator==(const KernelVersion&, const KernelVersion&) = default;
};
// Parses "6.1", "5.10", "6.1.0-13-amd64" (everything after major.minor is ignored).
// Errors (kInvalidInput) name the input and the expected form.
Result<KernelVersion> ParseKernelVersion(std::string_view text);
std::string KernelVersionToString(KernelVersion v);

// One entry of the horizon table.
struct HorizonEntry {
  const char* name;
  KernelVersion introduced;
  int unified_nr;  // the asm-generic number for syscalls >= 424, -1 otherwise
};
// Syscalls added to Linux after 3.16, with the release that introduced them, oldest
// first. Only syscalls that exist on x86_64 or on every architecture are listed (the
// 32-bit-only time64 variants of 5.1 are listed too, as 5.1).
const std::vector<HorizonEntry>& HorizonTable();
// The kernel release that introduced `name`, or nullopt if it is older than 3.17 or
// unknown.
std::optional<KernelVersion> SyscallIntroduced(std::string_view name);

}  // namespace silk::policy
