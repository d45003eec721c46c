// silk::policy::Profile: an API profile, in the model of the OCI runtime-spec seccomp
// JSON (the format Docker, Podman, crun and Kubernetes use), plus the Docker/Podman
// extensions (archMap, includes/excludes, comment) and silk's own metadata (name,
// parent, generation, horizon), which rides in the extra top-level field "silk".
//
// This header is the data model only. Reading and writing JSON live in
// profile_json.hpp, resolution for an architecture and capability set in resolve.hpp,
// the semantic algebra in algebra.hpp, compilation to BPF in compile.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace silk::policy {

// Seccomp actions by their OCI names (SCMP_ACT_*).
enum class Action {
  kKillThread,   // SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD
  kKillProcess,  // SCMP_ACT_KILL_PROCESS
  kTrap,         // SCMP_ACT_TRAP
  kErrno,        // SCMP_ACT_ERRNO (errno from errnoRet / defaultErrnoRet; EPERM if unset)
  kTrace,        // SCMP_ACT_TRACE
  kLog,          // SCMP_ACT_LOG (allowed, and logged by the kernel)
  kNotify,       // SCMP_ACT_NOTIFY (decided by a user-space supervisor)
  kAllow,        // SCMP_ACT_ALLOW
};

// Argument comparison operators by their OCI names (SCMP_CMP_*).
enum class ArgOp {
  kNotEqual,      // SCMP_CMP_NE
  kLessThan,      // SCMP_CMP_LT
  kLessEqual,     // SCMP_CMP_LE
  kEqualTo,       // SCMP_CMP_EQ
  kGreaterEqual,  // SCMP_CMP_GE
  kGreaterThan,   // SCMP_CMP_GT
  kMaskedEqual,   // SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo
};

// One comparison on a syscall argument register (64-bit, unsigned).
struct ArgCondition {
  unsigned index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  ArgOp op = ArgOp::kEqualTo;
  friend bool operator==(const ArgCondition&, const ArgCondition&) = default;
  friend auto operator<=>(const ArgCondition&, const ArgCondition&) = default;
};

// Docker/Podman "includes"/"excludes": a rule applies only for these capabilities,
// architectures and kernel versions. Empty = no constraint.
struct RuleFilter {
  std::vector<std::string> caps;    // e.g. "CAP_SYS_ADMIN"
  std::vector<std::string> arches;  // OCI arch names without prefix: "amd64", "x86", ...
  std::string min_kernel;           // "5.8"
  bool empty() const { return caps.empty() && arches.empty() && min_kernel.empty(); }
  friend bool operator==(const RuleFilter&, const RuleFilter&) = default;
};

// One entry of "syscalls": an action for these syscall names when all `args` hold.
struct SyscallRule {
  std::vector<std::string> names;
  Action action = Action::kAllow;
  std::optional<uint32_t> errno_ret;  // for kErrno and kTrace
  std::vector<ArgCondition> args;     // conjunction
  std::string comment;
  RuleFilter includes;
  RuleFilter excludes;
  friend bool operator==(const SyscallRule&, const SyscallRule&) = default;
};

// "archMap" entry: a native architecture and the sub-architectures that come with it.
struct ArchMapEntry {
  std::string architecture;                    // "SCMP_ARCH_X86_64"
  std::vector<std::string> sub_architectures;  // "SCMP_ARCH_X86", "SCMP_ARCH_X32"
  friend bool operator==(const ArchMapEntry&, const ArchMapEntry&) = default;
};

// What a profile does with clone3, whose struct argument seccomp cannot inspect:
// kEnosys makes glibc fall back to clone(2), whose flags the filter can check.
enum class Clone3Policy { kEnosys, kAllow, kDeny };

// silk's metadata, the top-level "silk" object (ignored by other runtimes).
struct ProfileMeta {
  std::string name;               // unique in a profile directory
  std::string extends;            // the parent profile's name; empty for a root
  std::optional<int> generation;  // testbed generation this profile is for
  std::string notes;              // how it was made (learned, minimised, tightened ...)
  // Syscall horizon: the kernel version whose syscall table the profile was written
  // against ("6.1"). Syscalls newer than the horizon that the profile does not name
  // get ENOSYS instead of the default action, so new glibc fallbacks keep working.
  std::string horizon;
  Clone3Policy clone3 = Clone3Policy::kEnosys;
  friend bool operator==(const ProfileMeta&, const ProfileMeta&) = default;
};

struct Profile {
  Action default_action = Action::kErrno;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", ...
  std::vector<ArchMapEntry> arch_map;
  std::vector<std::string> flags;  // "SECCOMP_FILTER_FLAG_LOG", ...
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SyscallRule> syscalls;
  ProfileMeta meta;
  friend bool operator==(const Profile&, const Profile&) = default;
};

// OCI names <-> enums. Parse functions return nullopt for unknown names.
const char* ActionName(Action action);  // "SCMP_ACT_ALLOW"
std::optional<Action> ParseAction(const std::string& name);
const char* ArgOpName(ArgOp op);  // "SCMP_CMP_EQ"
std::optional<ArgOp> ParseArgOp(const std::string& name);

}  // namespace silk::policy
