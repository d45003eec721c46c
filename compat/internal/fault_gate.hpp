// The gate the box's child waits at, between its seccomp() call and its execve, until
// the supervisor holds the seccomp listener. Once the filter is in, the child may make
// no syscall but execve (the profile may deny or notify any other), so it cannot say
// "installed" through a pipe, an eventfd or a futex. It can touch memory: before the
// filter it registers a page of its own with a userfaultfd (user-mode faults only, so
// no privilege is needed) and hands that fd to the supervisor; after the filter it reads
// the page. The read faults into the userfaultfd, which puts the child to sleep in the
// kernel and makes the supervisor's fd readable; the supervisor takes the listener and
// resolves the fault with a zero page, which wakes the child. Nobody spins.
//
// Where userfaultfd is not there (Linux < 5.11 for user-mode-only, a profile above silk
// that denies it), OpenFaultGate fails and the caller falls back to a spin on the
// handoff page.
#pragma once

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

// The child's half. Async-signal-safe, no allocation: it runs between clone and execve.
struct FaultGateChild {
  int uffd = -1;                        // the userfaultfd (CLOEXEC); -1: no gate here
  const volatile char* page = nullptr;  // the registered page, never populated

  // Opens the gate: a userfaultfd with one missing page registered. Returns 0, or the
  // errno of the step that failed (nothing is left open then).
  int Open();
  // Closes the child's copy of the fd (the supervisor holds its own).
  void CloseFd();
  // Reads the page: sleeps in the kernel until the supervisor resolves the fault.
  // No syscall.
  void Pass() const { (void)*page; }
};

// The supervisor's half.
class FaultGate {
 public:
  // Takes a userfaultfd received from the child; refuses any other kind of fd.
  static Result<FaultGate> Adopt(UniqueFd uffd);
  int fd() const { return uffd_.get(); }
  // After fd() polled readable: true once the child faulted on its page (it returned
  // from seccomp()); false if there was nothing to read yet.
  Result<bool> Reached();
  // Resolves the fault: the child wakes and goes on to execve.
  Result<void> Open();

 private:
  explicit FaultGate(UniqueFd uffd) : uffd_(std::move(uffd)) {}
  UniqueFd uffd_;
  unsigned long fault_page_ = 0;
};

}  // namespace silk::compat::internal
