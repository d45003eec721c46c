// Helpers for the box tests: a throwaway root fs holding the static probe and busybox,
// and RunBox with the box's stdout captured.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "compat/box.hpp"

namespace silk::compat::testing {

inline const char* kProbe = SILK_COMPAT_PROBE;

// A directory with bin/probe, bin/busybox and bin/sh; removed on destruction.
class TestRootfs {
 public:
  TestRootfs() {
    char tmpl[] = "/tmp/silk-compat-rootfs-XXXXXX";
    dir_ = mkdtemp(tmpl);
    chmod(dir_.c_str(), 0755);
    // A root fs brings its mount points (an unprivileged box cannot create them in a
    // directory it does not own).
    for (const char* d : {"bin", "tmp", "scratch", "dev", "proc", "sys"})
      std::filesystem::create_directories(dir_ + "/" + d);
    std::filesystem::copy_file(kProbe, dir_ + "/bin/probe");
    if (access("/bin/busybox", X_OK) == 0) {
      std::filesystem::copy_file("/bin/busybox", dir_ + "/bin/busybox");
      std::filesystem::create_symlink("busybox", dir_ + "/bin/sh");
    }
  }
  ~TestRootfs() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

struct Captured {
  Result<BoxOutcome> outcome = Fail(ErrorCode::kInternal, "not run");
  std::string out;
};

// Runs the box with its stdout going to a memfd, and returns what it wrote.
inline Captured RunCaptured(const BoxSpec& spec, RunOptions options = {}) {
  Captured c;
  fflush(stdout);
  int mem = memfd_create("box-out", MFD_CLOEXEC);
  int saved = dup(1);
  dup2(mem, 1);
  c.outcome = RunBox(spec, options);
  dup2(saved, 1);
  close(saved);
  lseek(mem, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(mem, buf, sizeof buf)) > 0) c.out.append(buf, static_cast<size_t>(n));
  close(mem);
  return c;
}

inline BoxSpec ProbeSpec(const TestRootfs& root, std::vector<std::string> args) {
  BoxSpec s;
  s.rootfs = root.path();
  s.command = "probe";
  s.args = std::move(args);
  return s;
}

}  // namespace silk::compat::testing
