// Kernel features a test relies on and that differ between the machines CI and users
// run on: probed once, on this kernel, so a test skips (or checks the same property
// another way) only where the feature is really absent.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

namespace silk::testing {

// Whether this kernel runs i386 syscalls through int 0x80 (IA-32 emulation; some kernels
// are built or booted without it, and then int 0x80 is a fault, SIGSEGV). Probed in a
// forked child, once per process.
inline bool KernelRunsInt80() {
  static const bool runs = [] {
    pid_t pid = fork();
    if (pid == 0) {
      long r;
      asm volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");  // i386 getpid
      _exit(r == getpid() ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return runs;
}

}  // namespace silk::testing
