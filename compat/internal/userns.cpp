#include "compat/internal/userns.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

namespace silk::compat::internal {
namespace {

Result<void> WriteProcFile(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return FailErrno("opening " + path);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return FailErrno("writing '" + text.substr(0, text.find('\n')) + "' to " + path);
  return {};
}

std::string Format(const std::vector<IdMapping>& m) {
  std::string out;
  for (const auto& e : m)
    out += std::to_string(e.inside) + " " + std::to_string(e.outside) + " " +
           std::to_string(e.count) + "\n";
  return out;
}

}  // namespace

IdMaps MapsFor(const BoxSpec& spec, uid_t euid, gid_t egid) {
  IdMaps m;
  m.uid = spec.uid_map;
  m.gid = spec.gid_map;
  if (euid != 0) {
    if (m.uid.empty()) m.uid = {{spec.uid, euid, 1}};
    if (m.gid.empty()) m.gid = {{spec.gid, egid, 1}};
    m.deny_setgroups = true;
  } else {
    if (m.uid.empty()) m.uid = {{0, kRootRangeStart, 65536}};
    if (m.gid.empty()) m.gid = {{0, kRootRangeStart, 65536}};
  }
  return m;
}

Result<void> WriteIdMaps(pid_t pid, const IdMaps& maps) {
  std::string base = "/proc/" + std::to_string(pid);
  SILK_TRY(WriteProcFile(base + "/uid_map", Format(maps.uid)));
  if (maps.deny_setgroups) SILK_TRY(WriteProcFile(base + "/setgroups", "deny"));
  SILK_TRY(WriteProcFile(base + "/gid_map", Format(maps.gid)));
  return {};
}

}  // namespace silk::compat::internal
