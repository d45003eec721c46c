// A directory that is removed, with everything in it, when its owner goes away.
#pragma once

#include <string>

#include "base/result.hpp"

namespace silk::images::internal {

// Removes `path` recursively (does not follow symlinks). Missing is not an error.
Result<void> RemoveTree(const std::string& path);

class TempDir {
 public:
  // Creates `prefix` + "XXXXXX" with mkdtemp. Errors: kSystem naming the prefix.
  static Result<TempDir> Create(const std::string& prefix);
  TempDir() = default;
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&& o) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Stops owning the directory (e.g. after renaming it into place).
  void Release() { path_.clear(); }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace silk::images::internal
