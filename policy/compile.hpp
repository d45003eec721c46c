// Compilation of effective policies to a seccomp BPF program through libseccomp.
//
// The program covers every architecture the profile lists (native first); any other
// architecture, including the compat ABIs a process could switch to (i386 through
// int 0x80, x32 through the x32 syscall bit), gets CompileOptions::bad_arch.
// The compiled filter implements EffectivePolicy::Evaluate exactly: overlapping rules
// with different verdicts are split into disjoint regions before libseccomp sees them
// (libseccomp's own tree does not implement "most restrictive wins"), and every program
// is run through a BPF interpreter against Evaluate() on every syscall number and on
// the boundary values of every argument condition before Compile returns it.
// Rule sets that libseccomp 2.5 cannot build (its argument-tree insertion loops on some
// overlapping shapes) are built in a child process with a deadline and refused with
// kUnsupported rather than hanging.
// Argument-free allowed syscalls compile to paths that read only the architecture and
// the syscall number, so the kernel's constant-action cache (5.11+) skips the filter
// for them entirely; SCMP_FLTATR_CTL_OPTIMIZE=2 turns the syscall dispatch into a
// binary tree, which keeps the remaining syscalls at O(log n) comparisons.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/effective.hpp"
#include "policy/profile.hpp"

namespace silk::policy {

struct CompileOptions {
  // SCMP_FLTATR_CTL_OPTIMIZE=2 (binary tree). false = libseccomp's defaults (a linear
  // list sorted by libseccomp's priorities), kept for comparison in the benchmark.
  bool optimize = true;
  // Every verdict that does not allow (including the default) becomes SCMP_ACT_NOTIFY,
  // so a supervisor sees each denial, records it and answers with the verdict that
  // EffectivePolicy::Evaluate gives. Allow and log stay in the filter.
  bool notify_denials = false;
  // The verdict for a syscall from an architecture the profile does not cover. Never
  // notified: the supervisor has no policy for it.
  Verdict bad_arch = {Action::kKillProcess, 0};
  // Also produce libseccomp's PFC text (CompiledFilter::pfc).
  bool pfc = false;
};

// A compiled filter. Owns its instructions; Fprog() points into them.
struct CompiledFilter {
  std::vector<sock_filter> program;
  std::string pfc;                  // set if CompileOptions::pfc
  std::vector<std::string> arches;  // SCMP_ARCH_* covered, native first
  bool has_notify = false;          // some path returns SECCOMP_RET_USER_NOTIF

  // For seccomp(2) / InstallFilter. Valid while `program` is unchanged.
  sock_fprog Fprog() const {
    return sock_fprog{static_cast<unsigned short>(program.size()),
                      const_cast<sock_filter*>(program.data())};
  }
};

// Compiles the effective policies (one per architecture, distinct architectures, same
// default verdict as MakeEffectiveAll produces them). Errors: kInvalidInput for
// inconsistent input, kUnsupported when an architecture or rule cannot be expressed
// through the installed libseccomp, kSystem for libseccomp failures (with its errno).
Result<CompiledFilter> Compile(const std::vector<EffectivePolicy>& policies,
                               const CompileOptions& options = {});

// MakeEffectiveAll(resolved) + Compile.
Result<CompiledFilter> CompileProfile(const Profile& resolved, const CompileOptions& options = {});

// The seccomp return value libseccomp uses for a verdict (SCMP_ACT_*).
uint32_t SeccompAction(const Verdict& verdict);
// What the compiled filter returns for a syscall whose verdict is `verdict`:
// SeccompAction, or SCMP_ACT_NOTIFY for denials under notify_denials.
uint32_t FilterActionFor(const Verdict& verdict, const CompileOptions& options);

}  // namespace silk::policy
