#include "images/internal/closure.hpp"

#include <unistd.h>

#include <deque>
#include <map>

#include "base/file.hpp"
#include "images/internal/elf.hpp"

namespace silk::images::internal {
namespace {

const std::vector<std::string> kDefaultDirs = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                               "/lib64", "/lib", "/usr/lib"};

std::string DirName(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

std::string BaseName(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

Result<LibraryClosure> ResolveLibraries(const std::string& binary_path,
                                        std::vector<std::string> search_dirs) {
  if (search_dirs.empty()) search_dirs = kDefaultDirs;
  LibraryClosure closure;
  std::map<std::string, std::string> found;  // soname -> host path
  // (file, who needs it) still to read.
  std::deque<std::pair<std::string, std::string>> queue = {{binary_path, ""}};
  bool first = true;
  while (!queue.empty()) {
    auto [path, _] = queue.front();
    queue.pop_front();
    std::string data = SILK_TRY(ReadFile(path));
    ElfDeps deps = SILK_TRY(ReadElfDeps(data, path));
    if (first) {
      closure.interp = deps.interp;
      if (!deps.interp.empty() && !found.count(BaseName(deps.interp))) {
        if (::access(deps.interp.c_str(), R_OK) != 0)
          return Fail(ErrorCode::kNotFound, binary_path + ": its interpreter " + deps.interp +
                                                " does not exist on this host");
        found[BaseName(deps.interp)] = deps.interp;
      }
      first = false;
    }
    for (const auto& soname : deps.needed) {
      if (found.count(soname)) continue;
      std::vector<std::string> dirs;
      for (auto dir : deps.runpath) {
        if (dir.rfind("$ORIGIN", 0) == 0) dir = DirName(path) + dir.substr(7);
        dirs.push_back(dir);
      }
      dirs.insert(dirs.end(), search_dirs.begin(), search_dirs.end());
      std::string hit;
      for (const auto& dir : dirs) {
        std::string candidate = dir + "/" + soname;
        if (::access(candidate.c_str(), R_OK) == 0) {
          hit = candidate;
          break;
        }
      }
      if (hit.empty())
        return Fail(ErrorCode::kNotFound,
                    path + " needs " + soname + ", which is not in any library directory");
      found[soname] = hit;
      queue.emplace_back(hit, path);
    }
  }
  for (const auto& [soname, host] : found) closure.libraries.push_back({soname, host});
  return closure;
}

}  // namespace silk::images::internal
