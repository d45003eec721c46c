// p1: profiles written by `silk policy export` are accepted by crun as they are, and
// crun enforces them: a container with CAP_SYS_CHROOT may chroot under podman-default
// resolved with that capability, and gets EPERM from the filter under gen0-sliver
// (resolved with no capabilities). Needs root (crun run) - label root.
//
// The host mounts cgroup v1 controllers next to an empty cgroup2 hierarchy ("hybrid"),
// which crun refuses; crun runs in a private mount namespace with a bare cgroup2 mount
// and --cgroup-manager=disabled, which is enough for a seccomp check.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "profile_test_util.hpp"

namespace silk::policy {
namespace {

using testing::TempDir;

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun Shell(const std::string& cmd) {
  CliRun r;
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Exports `profile` for amd64 with `caps`, runs busybox in crun with CAP_SYS_CHROOT
// under it and returns the exit status of `chroot / true` inside.
CliRun ChrootUnder(const std::string& profile, const std::string& caps) {
  TempDir bundle;
  namespace fs = std::filesystem;
  fs::create_directories(bundle.File("rootfs/bin"));
  fs::create_directories(bundle.File("rootfs/proc"));
  fs::create_directories(bundle.File("rootfs/dev"));
  fs::copy_file("/bin/busybox", bundle.File("rootfs/bin/busybox"));
  std::string exported = bundle.File("seccomp.json");
  CliRun e = Shell(std::string(SILK_BINARY_DIR) + "/cli/silk policy export " + profile +
                   " --arch amd64 --caps " + caps + " --out " + exported);
  if (e.exit_code != 0) return e;
  auto seccomp = nlohmann::json::parse(*ReadFile(exported));
  nlohmann::json caps_json = {"CAP_SYS_CHROOT"};
  nlohmann::json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args",
         {"/bin/busybox", "sh", "-c",
          "echo started; /bin/busybox chroot / /bin/busybox true; echo chroot=$?"}},
        {"env", {"PATH=/bin"}},
        {"cwd", "/"},
        {"noNewPrivileges", true},
        {"capabilities",
         {{"bounding", caps_json}, {"effective", caps_json}, {"permitted", caps_json}}}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "silk-policy-test"},
      {"mounts", {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}},
          {{"type", "mount"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "network"}}}},
        {"seccomp", seccomp}}}};
  EXPECT_TRUE(WriteFileAtomic(bundle.File("config.json"), config.dump(2)));
  std::string id = "silk-policy-test-" + std::to_string(::getpid());
  return Shell(
      "unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs none /sys/fs/cgroup "
      "&& mount -t cgroup2 none /sys/fs/cgroup && crun --cgroup-manager=disabled run "
      "--bundle " +
      bundle.path() + " " + id + "' 2>&1; crun delete -f " + id + " >/dev/null 2>&1");
}

class ExportCrun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "crun run needs root";
    if (::access("/usr/bin/crun", X_OK) != 0 || ::access("/bin/busybox", X_OK) != 0)
      GTEST_SKIP() << "crun or busybox-static missing (ci/setup installs both)";
  }
};

TEST_F(ExportCrun, PodmanDefaultWithChrootCapabilityAllowsChroot) {
  CliRun r = ChrootUnder("podman-default", "CAP_SYS_CHROOT");
  EXPECT_NE(r.output.find("started"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("chroot=0"), std::string::npos) << r.output;
}

TEST_F(ExportCrun, Gen0SliverDeniesChrootEvenWithTheCapability) {
  CliRun r = ChrootUnder("gen0-sliver", "none");
  EXPECT_NE(r.output.find("started"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("chroot=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace silk::policy
