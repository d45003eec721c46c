#include "images/internal/temp_dir.hpp"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace silk::images::internal {
namespace {

int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  return std::remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

}  // namespace

Result<void> RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (::nftw(path.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS) != 0)
    return FailErrno("cannot remove " + path);
  return {};
}

Result<TempDir> TempDir::Create(const std::string& prefix) {
  std::string tmpl = prefix + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) return FailErrno("cannot create a temporary directory " + tmpl);
  return TempDir(tmpl);
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) (void)RemoveTree(path_);
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveTree(path_);
}

}  // namespace silk::images::internal
