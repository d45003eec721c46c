// What a workload was seen to do, and the profile proposed from it (`silk policy learn`).
//
// A learning executor (executor.hpp; the local box's recorder, syscall_recorder.hpp)
// fills Observations while the workload runs under its PARENT profile: every syscall the parent
// allows is counted per architecture, with the scalar arguments that make useful rules (socket
// family and type, clone flags, ioctl request, prctl option, fcntl command); every syscall the
// parent denies is a DeniedAttempt with its arguments. ProposeProfile turns Observations into a
// profile that allows exactly what was observed, with argument conditions where they are safe, and
// intersected with the parent, so the result is ⊆ PARENT by construction (and checked).
// Denied attempts are reported, never added.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/effective.hpp"
#include "policy/profile.hpp"

namespace silk::tighten {

// The argument indices recorded for `name` (empty for syscalls without key arguments):
// socket {0 family, 1 type}, clone {0 flags}, ioctl {1 request}, prctl {0 option},
// fcntl {1 cmd}.
const std::vector<unsigned>& KeyArgIndices(const std::string& name);

// Distinct key-argument tuples kept per syscall; beyond this the syscall is learned
// without argument conditions (the tuples are dropped and `args_overflow` is set).
inline constexpr size_t kMaxKeyTuples = 64;

struct ObservedSyscall {
  std::string name;
  uint64_t count = 0;
  // Values of KeyArgIndices(name), in that order.
  std::set<std::vector<uint64_t>> key_args;
  bool args_overflow = false;
};

struct DeniedAttempt {
  std::string arch;  // SCMP_ARCH_*
  std::string name;  // or "syscall_<nr>" if unknown on arch
  int nr = -1;
  std::array<uint64_t, 6> args{};
  pid_t pid = 0;  // first pid seen (host view)
  uint64_t count = 0;
  policy::Verdict verdict;  // what the parent decided
};

struct Observations {
  // arch (SCMP_ARCH_*) -> syscall number -> what was seen.
  std::map<std::string, std::map<int, ObservedSyscall>> by_arch;
  // First-seen order, aggregated by (arch, nr, key arguments); args/pid of the first.
  std::vector<DeniedAttempt> denied;
  uint64_t total = 0;  // syscalls seen, allowed and denied
  // Every process/thread seen making a notified syscall (calls counted in the kernel,
  // see syscall_recorder.hpp, carry no thread).
  std::set<pid_t> pids;

  // Records one allowed call. `args` are the six argument registers.
  void AddAllowed(const std::string& arch, int nr, const std::string& name, const uint64_t args[6]);
  // Records `count` allowed calls of a syscall, counted without seeing them one by one
  // (counted learning); their key arguments come through AddCountedArguments.
  void AddCounted(const std::string& arch, int nr, const std::string& name, uint64_t count);
  // Records one distinct tuple of a counted syscall's key arguments (KeyArgIndices order).
  // `complete` false: tuples may be missing, so the syscall gets no argument conditions.
  void AddCountedArguments(const std::string& arch, int nr, const std::string& name,
                           const std::vector<uint64_t>& tuple, bool complete);
  // Records one denied call (aggregated with an earlier one of the same syscall and key
  // arguments).
  void AddDenied(const std::string& arch, int nr, const std::string& name, const uint64_t args[6],
                 pid_t pid, const policy::Verdict& verdict);
  // Adds everything in `other` (learning over a suite).
  void Merge(const Observations& other);
  // Number of distinct syscalls allowed, over all architectures.
  size_t DistinctAllowed() const;
};

// The C library's floor: syscalls that glibc, the dynamic loader and the kernel's signal
// delivery make on their own, at moments no input of the workload controls -- malloc
// trimming or growing (madvise, munmap, mremap, brk, mprotect), a contended lock (futex,
// sched_yield), signal return and masking, an interrupted sleep's restart, qsort sizing
// its buffer (sysinfo), time without a vDSO clock source (as under QEMU TCG), thread and
// process exit. A profile learned from a few runs misses some of them at random and
// then fails one run in ten; learning adds those the parent allows unless asked for the
// exact observed set.
const std::vector<std::string>& LibcFloorSyscalls();

struct ProposeOptions {
  // Propose argument conditions for key arguments (else: plain allow rules).
  bool arg_conditions = true;
  // At most this many distinct values become EQ rules; more -> no condition.
  size_t max_values = 16;
  // Syscalls the executor's runtime makes after installing the filter, before the
  // workload's execve (WorkloadExecutor::RuntimeSyscalls); added when the parent allows
  // them.
  std::vector<std::string> runtime_syscalls;
  // Add LibcFloorSyscalls() (those the parent allows). Off: exactly what was observed.
  bool libc_floor = true;
  std::string name;   // meta.name of the result
  std::string notes;  // meta.notes (how it was made)
};

struct Proposal {
  policy::Profile profile;               // allows exactly the observed calls, ⊆ parent
  std::vector<std::string> conditioned;  // syscalls that got argument conditions
  std::vector<std::string> floor_added;  // from LibcFloorSyscalls(), not observed
};

// Builds the learned profile. `parent` must be resolved (resolve.hpp); the result has
// the parent's default action/errno, architectures and flags, meta.extends =
// parent.meta.name, meta.generation = parent's + 1, the parent's horizon and clone3
// policy. Syscalls observed on an architecture the parent does not list are ignored.
// Errors: kInternal if the result is not ⊆ parent (a bug; never returned silently).
Result<Proposal> ProposeProfile(const Observations& obs, const policy::Profile& parent,
                                const ProposeOptions& options = {});

// Checks child ⊆ parent (both resolved) with the algebra (algebra.hpp), per
// architecture. Errors: kDenied listing every violation (syscall, rule, arguments).
Result<void> CheckSubsetOf(const policy::Profile& child, const policy::Profile& parent,
                           const std::string& what = "child");

// `silk policy learn --merge`: the union of two profiles learned under the same parent,
// intersected with the parent (so still ⊆ parent), with a's metadata. Errors: the
// algebra's (kUnsupported beyond its limits, kInvalidInput for mismatched arches).
Result<policy::Profile> MergeLearned(const policy::Profile& a, const policy::Profile& b,
                                     const policy::Profile& parent);

// Human-readable one-line form of a denied attempt:
// "socket(AF_PACKET=17, 3, 768, ...) pid 42 x3 -> errno(EPERM)".
std::string DeniedAttemptToString(const DeniedAttempt& d);

}  // namespace silk::tighten
