#include "base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

namespace silk {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kNotice};
}

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

void Log(LogLevel level, std::string_view msg) {
  if (level < g_level.load()) return;
  std::string line = "silk: ";
  if (level == LogLevel::kWarning) line += "warning: ";
  line.append(msg);
  line += '\n';
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace silk
