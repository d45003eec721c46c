#include "compat/internal/userns.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

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

IdMaps MapsFor(const BoxSpec& spec, uid_t euid, gid_t egid, uint32_t first_id, uint32_t count) {
  IdMaps m;
  m.uid = spec.uid_map;
  m.gid = spec.gid_map;
  if (euid != 0) {
    if (m.uid.empty()) m.uid = {{spec.uid, euid, 1}};
    if (m.gid.empty()) m.gid = {{spec.gid, egid, 1}};
    m.deny_setgroups = true;
  } else {
    if (m.uid.empty()) m.uid = {{0, first_id, count}};
    if (m.gid.empty()) m.gid = {{0, first_id, count}};
  }
  return m;
}

uint32_t OwnerOf(const std::vector<IdMapping>& map) {
  const IdMapping* lowest = nullptr;
  for (const auto& m : map) {
    if (m.inside == 0) return m.outside;
    if (!lowest || m.inside < lowest->inside) lowest = &m;
  }
  return lowest ? lowest->outside : 0;
}

Result<void> CheckSearchable(const std::string& path, uid_t uid, gid_t gid, bool self_too,
                             const std::string& what) {
  char real[PATH_MAX];
  if (!realpath(path.c_str(), real)) return FailErrno("resolving " + what + " " + path);
  const std::string full = real;
  std::vector<std::string> chain = {"/"};  // "/", "/a", "/a/b" for /a/b
  for (size_t i = 1; i <= full.size(); ++i)
    if (i == full.size() || full[i] == '/') chain.push_back(full.substr(0, i));
  if (full == "/") chain.resize(1);
  for (size_t k = 0; k < chain.size(); ++k) {
    if (k + 1 == chain.size() && !self_too) break;
    const std::string& cur = chain[k];
    struct stat st {};
    if (stat(cur.c_str(), &st) != 0) return FailErrno("stat of " + cur);
    mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if (st.st_mode & bit) continue;
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Fail(ErrorCode::kInvalidInput,
                what + " " + path + ": " + cur + " (mode " + mode + ", owner uid " +
                    std::to_string(st.st_uid) + ") is not searchable by host uid " +
                    std::to_string(uid) +
                    ", the unprivileged id the box runs as in its user namespace; make it "
                    "searchable (chmod o+x " +
                    cur + ") or use --userns never (weaker: box root is host root)");
  }
  return {};
}

Result<void> WriteIdMaps(pid_t pid, const IdMaps& maps) {
  std::string base = "/proc/" + std::to_string(pid);
  SILK_TRY(WriteProcFile(base + "/uid_map", Format(maps.uid)));
  if (maps.deny_setgroups) SILK_TRY(WriteProcFile(base + "/setgroups", "deny"));
  SILK_TRY(WriteProcFile(base + "/gid_map", Format(maps.gid)));
  return {};
}

}  // namespace silk::compat::internal
