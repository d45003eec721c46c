// silk::compat: compatibility boxes, silk's unit of isolation. A box is a process tree in
// new user, pid, mount, network, uts, ipc and cgroup namespaces (as root too: box root
// is an unprivileged host uid of a range only this box holds, compat/internal/
// idrange.hpp), on a minimal read-only root fs, with no capabilities, cgroup limits and
// a seccomp API profile installed last before execve. The calling thread becomes the
// box's supervisor: it relays stdin/stdout/stderr through pipes, answers the profile's
// SCMP_ACT_NOTIFY rules (raw sockets) and records denials, and tears everything down.
//
// This is the public entry point for other modules (node manager, `silk policy
// learn/regress`) and for `silk box run`.
//
// After installing the filter the box's child makes no syscall but execve (once per
// PATH entry tried): it announces its seccomp listener's fd number before the filter,
// waits in user space while the supervisor takes the listener with pidfd_getfd, and
// reports an exec failure through a shared page. A profile need not allow anything for
// the box runtime beyond execve.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box_record.hpp"
#include "compat/box_spec.hpp"
#include "policy/effective.hpp"

namespace silk::compat {

// One denied syscall, aggregated by (syscall, arguments, pid): how often it happened.
struct Denial {
  std::string syscall;  // name on the native arch, or "syscall_<nr>"
  int nr = -1;
  std::array<uint64_t, 6> args{};
  pid_t pid = 0;  // as seen from the host
  uint64_t count = 0;
  std::string verdict;  // what the box got: "errno(EPERM)", "kill-process", ...
};

// A raw/packet socket() request decided by the supervisor.
struct RawSocketDecision {
  pid_t pid = 0;
  int domain = 0, type = 0, protocol = 0;
  bool allowed = false;
  uint64_t count = 1;  // how often this pid made this request
};

// What the supervisor recorded about a box's denials and raw-socket requests. Bounded
// whatever the box does (the supervisor is not the box's memory): at most kMaxEntries
// distinct denials, per-syscall folds and raw-socket decisions; past that, calls are only
// counted, and capped() says so.
struct DenialReport {
  static constexpr size_t kMaxEntries = 1024;
  std::vector<Denial> denials;  // in first-seen order, at most kMaxEntries
  // Denials that found `denials` full, one entry per syscall (args and pid zero, count
  // the calls), at most kMaxEntries.
  std::vector<Denial> folded_denials;
  // How many denials are not in `denials`: those in folded_denials and those that found
  // folded_denials full too.
  uint64_t folded = 0;
  // Distinct (pid, domain, type, protocol, verdict), at most kMaxEntries.
  std::vector<RawSocketDecision> raw_socket_decisions;
  uint64_t folded_raw_socket_decisions = 0;  // requests that found it full
  bool capped() const { return folded != 0 || folded_raw_socket_decisions != 0; }
  uint64_t total() const;      // every denial, folded ones included
  std::string ToJson() const;  // {"denials":[{"syscall":..,"nr":..,"args":[..],..}],...}
  std::string ToText() const;  // one line per denial, for the terminal
};

struct BoxOutcome {
  std::string box_id;
  // What a shell would report: the exit code, 128+N when killed by signal N, 127 when
  // the command was not found in the box (exec_failure says so), 126 when it was found
  // but could not be executed.
  int exit_status = 0;
  int term_signal = 0;       // N when killed by a signal, else 0
  std::string exec_failure;  // empty when the command was started
  DenialReport denials;      // filled when spec.report_denials (raw decisions always)
  // Why `denials` stays empty although spec.report_denials asked for them: the box's
  // filter can have no seccomp listener (silk runs in a box whose filter has one; the
  // kernel allows one per chain). The box's filter denies all the same. Empty otherwise.
  std::string denials_unreported;
  double elapsed_ms = 0;   // clone to reap
  bool timed_out = false;  // killed because RunOptions::timeout_ms passed
  // Processes of the box the kernel's OOM killer killed for the memory limit (counted by
  // the box's memory cgroup; 0 without --memory), and whether the command was one.
  uint64_t oom_kills = 0;
  bool oom_killed = false;
  // Learning mode: how many syscalls were counted in the kernel (RunOptions::
  // count_in_kernel), or why none could be (then every syscall was notified).
  size_t counted_syscalls = 0;
  std::string counting_unavailable;
};

// One syscall of the box's workload, as the supervisor saw it through seccomp user
// notification: registers only (the box's memory is never read).
struct SyscallEvent {
  pid_t pid = 0;      // the calling thread, as seen from the host
  uint32_t arch = 0;  // AUDIT_ARCH_*
  int nr = -1;        // as the kernel reports it (x32 calls carry __X32_SYSCALL_BIT)
  uint64_t args[6] = {};
  // What the box answered: the profile's effective verdict (raw/packet socket() calls:
  // allow or errno(EPERM) after the spec's raw_sockets grant). The observer cannot
  // change it: learning never loosens the box.
  policy::Verdict verdict;
};

// Sees every syscall of a box's workload (RunOptions::observer), on the supervisor
// thread, while the calling thread waits for the answer: keep OnSyscall cheap.
class SyscallObserver {
 public:
  virtual ~SyscallObserver() = default;
  virtual void OnSyscall(const SyscallEvent& event) = 0;
  // Counted learning (RunOptions::count_in_kernel): which argument registers of native
  // syscall `nr` the observer needs. nullopt: the whole call, one by one (it is notified).
  // Otherwise the syscall, when the profile allows it whatever its arguments, is counted
  // in the kernel (compat/internal/syscall_counters.hpp) with the distinct values of at
  // most two registers (for example {1}: ioctl's request), reported after the box exits.
  virtual std::optional<std::vector<unsigned>> CountedArguments(int nr) const {
    (void)nr;
    return std::nullopt;
  }
  // The total of a counted syscall the workload made (native arch, non-zero only), once
  // the box has exited: these calls were allowed and never passed OnSyscall.
  virtual void OnCounted(int nr, uint64_t count) {
    (void)nr;
    (void)count;
  }
  // One distinct value tuple of CountedArguments(nr) (in that order) seen in the kernel.
  // `complete` is false once the kernel's table of tuples was full: values may be missing.
  virtual void OnCountedArguments(int nr, const std::vector<uint64_t>& values, bool complete) {
    (void)nr;
    (void)values;
    (void)complete;
  }
};

struct RunOptions {
  // Per-box state (supervisor pid, cgroups, veth) lives in <state_root>/<box_id>/ for the
  // startup sweep. Empty: /run/silk/boxes as root, $XDG_RUNTIME_DIR/silk/boxes (or
  // /tmp/silk-<uid>/boxes) otherwise.
  std::string state_root;
  // Where a box with a volume (BoxSpec::disk_max) keeps its image: on disk, not in the
  // state root (RAM). Empty: /var/lib/silk/volumes. A transient box's image goes with the
  // box; a named box's with `silk box delete` (its state records the path).
  std::string volume_root;
  std::string box_id;  // empty: generated ("b<pid>-<n>")
  // Sweep stale boxes of dead supervisors before starting (SweepStaleBoxes).
  bool sweep_first = true;
  // Directory where profile names are also looked up ("<dir>/<name>.json"), after the
  // built-in profiles. Empty: built-ins and paths only.
  std::string profile_dir;
  // cgroup placement: the box's cgroups go to <own cgroup>/silk/<box_id> in each
  // hierarchy. Override the mount points for tests (empty = from /proc/self/mountinfo).
  std::string cgroup2_mount;
  // When this fd becomes readable (e.g. a signalfd for SIGINT/SIGTERM), the box is
  // killed and torn down; the outcome then reports the kill. -1: none.
  int stop_fd = -1;
  // Kill the box when it runs longer than this (clone to exit); 0 = no limit. The
  // outcome then has timed_out set and exit_status 128+SIGKILL.
  uint64_t timeout_ms = 0;
  // The box's stdin, stdout and stderr are pipes the supervisor relays from and to these
  // descriptors of the caller (-1: the supervisor's own 0, 1, 2), which never enter the
  // box. The caller keeps them open and owns them. A directory or block device is
  // refused (kInvalidInput). The relay reads stdin ahead of the box (up to 64 KiB plus a
  // pipe's worth), as ssh does: give /dev/null when the box must not consume it.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Learning mode (`silk policy learn`): when set, the box installs, instead of the
  // profile's compiled filter, one that notifies every syscall (but those counted in the
  // kernel, see count_in_kernel), and the supervisor answers
  // each with the profile's effective verdict (SECCOMP_USER_NOTIF_FLAG_CONTINUE for allow
  // and log, -errno for errno, SIGKILL to the caller for kill, ENOSYS for trap/trace) and
  // reports it to the observer. The caller owns the observer; it must outlive RunBox.
  // Needs no CAP_SYS_ADMIN in the box (no_new_privs is set).
  // Only the workload is reported: of the execve attempts along PATH, the box's only
  // calls after the filter, just the last (the one that succeeded) is; the workload
  // starts at the first syscall of the box's init after it.
  // Cost: one supervisor round trip per notified syscall (bench/learn_bench.cpp), which
  // count_in_kernel avoids for most.
  SyscallObserver* observer = nullptr;
  // Learning mode: count in the kernel, instead of notifying each call, the syscalls the
  // profile allows whatever their arguments and the observer accepts counted
  // (SyscallObserver::CountedArguments; an eBPF program on raw_syscalls:sys_enter for the
  // box's cgroup, compat/internal/syscall_counters.hpp). Where that is unavailable (no
  // root/CAP_PERFMON, no tracefs, no cgroup v2 directory for the box), every syscall is notified
  // and BoxOutcome::counting_unavailable says why.
  bool count_in_kernel = true;

  // A named box (`silk box create`, box_lifecycle.hpp): its state directory outlives
  // the box, with its record (box_record.hpp, written at each step: created, running,
  // exited) until `silk box delete`, and the sweep leaves it alone. Needs box_id.
  bool persistent = false;
  // The command's stdout and stderr go to <state dir>/output.log (created 0600) instead
  // of stdout_fd/stderr_fd, at most log_max_bytes of it (the rest is dropped, and a last
  // line says how much: /run is RAM).
  bool log_output = false;
  uint64_t log_max_bytes = uint64_t{16} << 20;
  // Called once the box is created (cloned, limits and maps set, the record says
  // created) and before it is let go: may block (`box create` without --start waits for
  // `box start` here) and should watch `box_pidfd`. False: do not start it (it died);
  // the outcome then reports how it ended.
  std::function<Result<bool>(const BoxRecord& created, int box_pidfd)> on_created;
  // Called once the command runs (exec'd), with the record that says so.
  std::function<void(const BoxRecord& running)> on_running;
};

// Runs `spec` (validated here too) to completion in a new box and returns how it ended.
// The calling thread is the supervisor; the box gets SIGKILL if that thread dies
// (PR_SET_PDEATHSIG), and its pid-namespace init takes every box process with it.
// Errors: kInvalidInput (spec), kNotFound (rootfs, profile), kUnsupported (no user
// namespaces, missing cgroup controller), kSystem (a step failed: the message names it
// and the errno). Nothing is left behind on any error.
Result<BoxOutcome> RunBox(const BoxSpec& spec, const RunOptions& options = {});

struct SweepReport {
  std::vector<std::string> reclaimed;  // box ids whose supervisor was dead
};

// Reclaims the state of boxes whose supervisor is dead (e.g. SIGKILLed): kills their
// remaining processes, removes their cgroups and host veth ends, and deletes the state
// directory. Boxes of live supervisors are left alone.
Result<SweepReport> SweepStaleBoxes(const std::string& state_root = "");

// The state root RunOptions::state_root defaults to, for this caller.
std::string DefaultStateRoot();

}  // namespace silk::compat
