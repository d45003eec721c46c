#include "vmm/run_dir.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::vmm {

Result<std::string> UniqueVmName(const std::string& prefix) {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
    return FailErrno("getrandom failed");
  char hex[13];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return prefix + "-" + hex;
}

std::string TapName(const std::string& vm_name, unsigned index) {
  std::string tail = vm_name.size() > 10 ? vm_name.substr(vm_name.size() - 10) : vm_name;
  for (char& c : tail)
    if (c == '-' || c == '.') c = '_';
  return "sk" + tail + std::to_string(index % 100);
}

Result<VmRunDir> VmRunDir::Create(const std::string& root, const std::string& name) {
  // Create each component of root; existing ones are left as they are.
  std::string partial;
  for (const std::string& part : Split(root, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    if (::mkdir(partial.c_str(), 0711) != 0 && errno != EEXIST)
      return FailErrno("cannot create the VM run directory " + partial);
  }
  std::string path = root + "/" + name;
  if (::mkdir(path.c_str(), 0711) != 0)
    return FailErrno("cannot create the VM run directory " + path);
  return VmRunDir(path);
}

VmRunDir::~VmRunDir() {
  if (path_.empty() || keep_) return;
  if (DIR* d = ::opendir(path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      ::unlink((path_ + "/" + n).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path_.c_str());
}

std::string ConsoleTail(const std::string& path, size_t lines) {
  auto text = ReadFile(path);
  if (!text) return "";
  std::string clean;
  clean.reserve(text->size());
  const std::string& t = *text;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '\x1b') {  // ESC [ ... final byte in @..~
      if (i + 1 < t.size() && t[i + 1] == '[') {
        i += 2;
        while (i < t.size() && !(t[i] >= '@' && t[i] <= '~')) ++i;
      }
      continue;
    }
    if (c == '\r') continue;
    clean.push_back(c);
  }
  while (!clean.empty() && clean.back() == '\n') clean.pop_back();
  size_t pos = clean.size();
  for (size_t n = 0; n < lines && pos != std::string::npos && pos > 0; ++n)
    pos = clean.rfind('\n', pos - 1);
  return pos == std::string::npos || pos == 0 ? clean : clean.substr(pos + 1);
}

}  // namespace silk::vmm
