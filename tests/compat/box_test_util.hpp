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

#include <gtest/gtest.h>

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

// A temporary state root (RunOptions::state_root), 0711: a box started by root runs as
// an unprivileged host uid in its user namespace, which must be able to search it.
class TempStateRoot {
 public:
  explicit TempStateRoot(const std::string& prefix = "silk-compat-state") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data())) {
      dir_ = tmpl;
      chmod(dir_.c_str(), 0711);
    }
  }
  TempStateRoot(const TempStateRoot&) = delete;
  TempStateRoot& operator=(const TempStateRoot&) = delete;
  ~TempStateRoot() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return dir_; }
  // Removes the root if nothing was left in it; false (and it stays) otherwise.
  bool RemoveIfEmpty() {
    if (dir_.empty() || rmdir(dir_.c_str()) != 0) return false;
    dir_.clear();
    return true;
  }

 private:
  std::string dir_;
};

// The fixture of the root-only box tests: a root fs with the probe, a state root, and
// the check that every box left nothing behind in it.
class RootBoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups, mounts)";
    opts_.state_root = state_.path();
  }
  void TearDown() override {
    if (geteuid() == 0) {
      EXPECT_TRUE(state_.RemoveIfEmpty()) << "state left in " << state_.path();
    }
  }
  TempStateRoot state_;
  RunOptions opts_;
  TestRootfs root_;
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
