// The escape battery's attempts (probe.c makes each; exit 0 = it worked), shared by the
// battery run by root (box_escape_test.cpp) and by an unprivileged user
// (box_rootless_test.cpp): the same list, so both grow together.
#pragma once

#include <string>
#include <vector>

namespace silk::compat::testing {

struct Attempt {
  const char* name;
  std::vector<std::string> args;  // probe arguments
};

// `host_pid`: a process outside the box (the test); `canary`: a host file outside the
// box's root.
inline std::vector<Attempt> EscapeAttempts(const std::string& host_pid, const std::string& canary) {
  return {
      {"mount tmpfs", {"mount"}},
      {"umount /proc", {"umount", "/proc"}},
      {"chroot escape", {"chroot"}},
      {"ptrace host pid", {"ptrace", host_pid}},
      {"ptrace init", {"ptrace", "1"}},
      {"kill host pid", {"kill", host_pid}},
      {"open host file outside root", {"open", canary}},
      {"open host /etc/shadow", {"open", "/etc/shadow"}},
      {"write /proc/sys", {"open", "/proc/sys/kernel/hostname", "w"}},
      {"write /proc/sys/vm", {"open", "/proc/sys/vm/drop_caches", "w"}},
      {"write /proc/sysrq-trigger", {"open", "/proc/sysrq-trigger", "w"}},
      {"setns host net ns", {"setns", "/proc/" + host_pid + "/ns/net"}},
      {"setns own ns via proc", {"setns", "/proc/1/ns/mnt"}},
      {"keyctl", {"keyctl"}},
      {"bpf", {"bpf"}},
      {"perf_event_open", {"perf"}},
      {"userfaultfd", {"userfaultfd"}},
      {"nested unshare, then write the root fs", {"unshare"}},
      {"mknod block device", {"mknod"}},
      {"reboot", {"reboot"}},
      {"kexec_load", {"kexec"}},
      {"init_module", {"init_module"}},
      {"open_by_handle_at", {"open_by_handle_at"}},
      {"TIOCSTI", {"tiocsti"}},
      {"clock_settime", {"clock_settime"}},
      {"swapon", {"swapon"}},
      {"raw socket without grant", {"socket-raw"}},
      {"packet socket without grant", {"socket-packet"}},
      {"i386 int 0x80", {"int80"}},
      {"x32 syscall", {"x32"}},
      {"overwrite /proc/self/exe", {"exe-overwrite"}},
      {"sethostname of the host", {"sethostname", "pwned"}},
      {"write the root fs", {"write", "/bin/probe", "x"}},
      {"write /dev", {"write", "/dev/evil", "x"}},
      {"read kernel memory", {"open", "/dev/mem"}},
      {"raw syscall: iopl", {"syscall", "172", "3"}},
  };
}

// True when an attempt's exit status says the probe never made it (usage 2, not
// executable 126, not found 127): a battery must not count those as "held".
inline bool ProbeNeverTried(int status) { return status == 2 || status == 126 || status == 127; }

}  // namespace silk::compat::testing
