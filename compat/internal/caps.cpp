#include "compat/internal/caps.hpp"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace silk::compat::internal {

int LastCapability() {
  static const int last = [] {
    int v = 40;
    if (FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "re")) {
      int read = 0;
      if (fscanf(f, "%d", &read) == 1 && read > 0 && read < 64) v = read;
      fclose(f);
    }
    return v;
  }();
  return last;
}

int LockCapabilities(uint64_t keep, int last_cap) {
  for (int c = 0; c <= last_cap; ++c) {
    if (keep & (1ull << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return -1;
  }
  // uid 0 gains nothing at execve, setuid fixups are off, and neither can be undone.
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  return prctl(PR_SET_SECUREBITS, bits, 0, 0, 0);
}

int SetCapabilities(uint64_t keep, int last_cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    uint32_t word = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (syscall(SYS_capset, &header, data) != 0) return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;
  for (int c = 0; c <= last_cap; ++c)
    if ((keep & (1ull << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      return -1;
  return 0;
}

}  // namespace silk::compat::internal
