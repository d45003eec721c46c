// Minimal leveled logging to stderr. Libraries log progress and decisions (not
// errors: errors are returned). The CLI sets the level from --verbose/--quiet.
#pragma once

#include <string_view>

namespace silk {

enum class LogLevel { kDebug = 0, kInfo = 1, kNotice = 2, kWarning = 3, kQuiet = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Writes "silk: <msg>\n" to stderr in one write(2) if `level` is enabled.
void Log(LogLevel level, std::string_view msg);
inline void LogDebug(std::string_view msg) { Log(LogLevel::kDebug, msg); }
inline void LogInfo(std::string_view msg) { Log(LogLevel::kInfo, msg); }
inline void LogNotice(std::string_view msg) { Log(LogLevel::kNotice, msg); }
inline void LogWarning(std::string_view msg) { Log(LogLevel::kWarning, msg); }

}  // namespace silk
