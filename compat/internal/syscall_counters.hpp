// Counted learning (RunOptions::count_in_kernel): the box's syscalls that need no
// supervisor decision are counted in the kernel instead of being notified one by one.
//
// How: a small eBPF program on the raw_syscalls:sys_enter tracepoint adds one to a
// per-CPU array slot indexed by the syscall number when the calling task is in the box's
// cgroup v2 subtree (bpf_get_current_ancestor_cgroup_id), and returns 0 (no sample is
// written). For syscalls whose key arguments make rules (ioctl's request, fcntl's
// command, ...) it also records each distinct value tuple in a hash table. A counted syscall then
// costs the workload tens of nanoseconds instead of a supervisor round trip (10-18 µs), so
// syscall-heavy work learns at close to full speed (bench/learn_bench.cpp). While the program is
// attached, every task of the host takes the tracepoint path on its syscalls (tens of nanoseconds
// more each).
//
// What the counts mean: the tracepoint fires for every syscall the kernel runs, of
// every architecture, after seccomp. The learning filter (learn_filter.hpp) lets only the
// counted native syscalls through without notification, so their numbers' counts are
// theirs -- except that an i386 call the supervisor let continue also counts under its
// own number; the supervisor subtracts those (NotifyHandler). x32 numbers (bit 30 set)
// are beyond the array and never counted.
//
// Needs: root (CAP_BPF and CAP_PERFMON), tracefs for the tracepoint id (read from a
// private mount namespace when /sys/kernel/tracing is not mounted), a kernel with BPF
// tracepoint programs (4.7+; ancestor cgroup ids 5.6+), and the box in a cgroup v2
// directory. Where anything is missing Open() fails with kUnsupported and the caller
// notifies every syscall instead.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

// Syscall numbers below this are counted (x86_64 has about 470).
inline constexpr uint32_t kCountedSlots = 1024;
// Distinct key-argument tuples kept per box, over all keyed syscalls.
inline constexpr uint32_t kKeySlots = 4096;

// A syscall whose key arguments are recorded: the values of registers args[0..1]
// (indices 0-5; at most two) of each call.
struct KeyedSyscall {
  int nr = -1;
  std::vector<unsigned> args;
};

// One distinct tuple seen: values of KeyedSyscall::args, in that order.
struct KeyTuple {
  int nr = -1;
  std::vector<uint64_t> values;
};

class SyscallCounters {
 public:
  // Creates the counter tables and loads the program for the tasks of cgroup v2
  // directory `cgroup_dir_fd` (kept open by the caller); counting starts with Enable().
  // Errors: kInvalidInput (more than two arguments or an index above 5), kUnsupported
  // (see above, with the reason), kSystem otherwise.
  static Result<SyscallCounters> Open(int cgroup_dir_fd, const std::vector<KeyedSyscall>& keyed);

  // Attaches the program: counting starts (the box's workload is about to run).
  Result<void> Enable();
  // Totals since Enable() for syscall numbers `nrs`, non-zero ones only.
  Result<std::map<int, uint64_t>> Read(const std::vector<int>& nrs) const;
  // The distinct tuples of the keyed syscalls; *complete is false when the table filled
  // up (then some tuples may be missing).
  Result<std::vector<KeyTuple>> ReadKeys(bool* complete) const;

 private:
  std::map<int, size_t> arity_;  // keyed nr -> number of recorded arguments
  UniqueFd map_, keys_, prog_, event_;
};

}  // namespace silk::compat::internal
