#include "tighten/executor.hpp"

#include <cstdio>

namespace silk::tighten {

std::string DenialToString(const Denial& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s(%#llx, %#llx, %#llx, ...) pid %d -> %s", d.syscall.c_str(),
                (unsigned long long)d.args[0], (unsigned long long)d.args[1],
                (unsigned long long)d.args[2], int(d.pid), d.verdict.c_str());
  return buf;
}

}  // namespace silk::tighten
