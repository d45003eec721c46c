// The two cgroup backends on the real kernel (root): v1 (this host's cpu, memory, pids
// hierarchies) and v2 (a cgroup2 mount of our own).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "compat/internal/cgroup.hpp"

namespace silk::compat::internal {
namespace {

pid_t SpawnSleeper() {
  pid_t p = fork();
  if (p == 0) {
    pause();
    _exit(0);
  }
  return p;
}

bool Reaped(pid_t p) {
  int st;
  return waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

class BoxCgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = CgroupLayout::Detect();
    ASSERT_TRUE(l) << l.error().ToString();
    layout_ = *l;
  }
  std::string V1Parent(Controller c) {
    std::string own = layout_.v1_own.count(c) ? layout_.v1_own[c] : "/";
    return layout_.v1_mounts[c] + (own == "/" ? "" : own) + "/silk-test";
  }
  CgroupLayout layout_;
};

TEST_F(BoxCgroupV1Test, V1BackendAppliesLimitsKillsAndRemoves) {
  for (Controller c : {Controller::kCpu, Controller::kMemory, Controller::kPids})
    if (!layout_.v1_mounts.count(c))
      GTEST_SKIP() << "no cgroup v1 " << ControllerName(c) << " hierarchy on this host";
  CgroupLimits limits;
  limits.memory_max = 64 << 20;
  limits.pids_max = 17;
  limits.cpu_weight = 300;
  std::vector<std::unique_ptr<CgroupBackend>> parts;
  for (Controller c : {Controller::kCpu, Controller::kMemory, Controller::kPids}) {
    auto b = CreateCgroupV1(V1Parent(c), "t" + std::to_string(getpid()), {c});
    ASSERT_TRUE(b) << b.error().ToString();
    ASSERT_TRUE((*b)->Apply(limits));
    parts.push_back(std::move(*b));
  }
  EXPECT_EQ(Trim(*ReadFile(parts[0]->path() + "/cpu.shares")), "3072");
  EXPECT_EQ(Trim(*ReadFile(parts[1]->path() + "/memory.limit_in_bytes")), std::to_string(64 << 20));
  EXPECT_EQ(Trim(*ReadFile(parts[2]->path() + "/pids.max")), "17");
  pid_t p = SpawnSleeper();
  for (auto& b : parts) ASSERT_TRUE(b->AddProcess(p));
  auto procs = ReadCgroupProcs(parts[2]->path());
  ASSERT_TRUE(procs);
  EXPECT_EQ(*procs, std::vector<pid_t>{p});
  ASSERT_TRUE(parts[2]->KillAll());
  EXPECT_TRUE(Reaped(p));
  for (auto& b : parts) {
    ASSERT_TRUE(b->Remove()) << b->Describe();
    EXPECT_NE(access(b->path().c_str(), F_OK), 0);
  }
  for (Controller c : {Controller::kCpu, Controller::kMemory, Controller::kPids})
    rmdir(V1Parent(c).c_str());
}

// cgroup v2 on a cgroup2 mount of our own. On this host the v1 hierarchies hold cpu,
// memory, pids and blkio, so the unified hierarchy has none of them: the backend's
// placement, cgroup.kill and removal are tested for real; limits only where the
// controllers exist (inside thinix).
class BoxCgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount cgroup2";
    char tmpl[] = "/tmp/silk-cgroup2-XXXXXX";
    mnt_ = mkdtemp(tmpl);
    if (mount("none", mnt_.c_str(), "cgroup2", 0, nullptr) != 0) {
      rmdir(mnt_.c_str());
      mnt_.clear();
      GTEST_SKIP() << "cannot mount cgroup2: " << strerror(errno);
    }
    auto ctl = ReadFile(mnt_ + "/cgroup.controllers");
    if (ctl) controllers_ = Split(Trim(*ctl), ' ');
  }
  void TearDown() override {
    if (mnt_.empty()) return;
    rmdir((mnt_ + "/silk-test").c_str());
    umount2(mnt_.c_str(), MNT_DETACH);
    rmdir(mnt_.c_str());
  }
  bool Has(const char* c) {
    return std::find(controllers_.begin(), controllers_.end(), c) != controllers_.end();
  }
  std::string mnt_;
  std::vector<std::string> controllers_;
};

TEST_F(BoxCgroupV2Test, PlacesKillsAndRemoves) {
  auto b = CreateCgroupV2(mnt_, mnt_ + "/silk-test", "t" + std::to_string(getpid()), {});
  ASSERT_TRUE(b) << b.error().ToString();
  pid_t p1 = SpawnSleeper(), p2 = SpawnSleeper();
  ASSERT_TRUE((*b)->AddProcess(p1));
  ASSERT_TRUE((*b)->AddProcess(p2));
  auto procs = ReadCgroupProcs((*b)->path());
  ASSERT_TRUE(procs);
  EXPECT_EQ(procs->size(), 2u);
  auto self = ReadFile("/proc/" + std::to_string(p1) + "/cgroup");
  ASSERT_TRUE(self);
  EXPECT_NE(self->find("0::/silk-test/t"), std::string::npos) << *self;
  ASSERT_TRUE((*b)->KillAll());  // cgroup.kill
  EXPECT_TRUE(Reaped(p1));
  EXPECT_TRUE(Reaped(p2));
  ASSERT_TRUE((*b)->Remove());
  EXPECT_NE(access((*b)->path().c_str(), F_OK), 0);
}

TEST_F(BoxCgroupV2Test, LimitsWhereControllersExist) {
  if (!Has("memory") || !Has("pids"))
    GTEST_SKIP() << "the unified hierarchy here offers [" << Join(controllers_, " ")
                 << "]: memory and pids are bound to cgroup v1 on this host; v2 limits are "
                    "exercised where cgroup2 has them (thinix guests)";
  CgroupLimits l;
  l.memory_max = 64 << 20;
  l.pids_max = 9;
  auto b = CreateCgroupV2(mnt_, mnt_ + "/silk-test", "l" + std::to_string(getpid()),
                          {Controller::kMemory, Controller::kPids});
  ASSERT_TRUE(b) << b.error().ToString();
  ASSERT_TRUE((*b)->Apply(l));
  EXPECT_EQ(Trim(*ReadFile((*b)->path() + "/memory.max")), std::to_string(64 << 20));
  EXPECT_EQ(Trim(*ReadFile((*b)->path() + "/pids.max")), "9");
  ASSERT_TRUE((*b)->Remove());
}

TEST_F(BoxCgroupV2Test, MissingControllerIsAClearError) {
  // A layout with the unified hierarchy only and no v1: asking for a controller the
  // unified hierarchy lacks must name it.
  CgroupLayout l;
  l.v2_mount = mnt_;
  l.v2_own = "/";
  l.v2_controllers = controllers_;
  CgroupLimits limits;
  if (Has("pids")) GTEST_SKIP() << "pids is available in cgroup2 here";
  limits.pids_max = 5;
  auto b = BoxCgroup::Create(l, "missing", limits, false);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(b.error().ToString().find("'pids'"), std::string::npos) << b.error().ToString();
}

}  // namespace
}  // namespace silk::compat::internal
