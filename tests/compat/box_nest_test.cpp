// Nest-ready boxes (issue 11, "Nest-ready boxes"), through the real binary: a box made
// with --nest runs silk, which makes boxes of its own (2 and 3 levels), each level under
// its own profile (gen0-node at the nest levels, gen0-sliver at the last: each ⊆ the one
// above), each level's denials reported by the supervisor of the level that denies them;
// a box without --nest cannot; a nest box cannot write the cgroups above its own, nor its
// own limits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.hpp"
#include "policy/algebra.hpp"
#include "policy/builtin.hpp"
#include "policy/effective.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

// sethostname(NULL, 0): gen0-node allows it (CAP_SYS_ADMIN, which a nest box holds in
// its own user namespace), gen0-sliver denies it (EPERM). Prints "<ret> <errno>".
const char* const kSethostname =
    "python3 -c 'import ctypes;print(ctypes.CDLL(None,use_errno=True).syscall(170,0,0),"
    "ctypes.get_errno())'";
// bpf(): denied by both profiles.
const char* const kBpf =
    "python3 -c 'import ctypes;print(ctypes.CDLL(None,use_errno=True).syscall(321,0,0,0),"
    "ctypes.get_errno())'";
// The silk of a nest box (BoxSpec::nest, kNestSilkPath).
const std::string kInnerSilk = "/run/silk/bin/silk";

class BoxNestTest : public testing::RootBoxTest {
 protected:
  void SetUp() override {
    testing::RootBoxTest::SetUp();
    if (IsSkipped()) return;
#if !defined(__x86_64__)
    GTEST_SKIP() << "the syscall numbers in the workloads are x86_64's";
#endif
    if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs python3 on the host";
  }
  // `silk box run ARGS... -- /bin/sh -c SCRIPT` as the host's root: level 1.
  CliRun Box(std::vector<std::string> args, const std::string& script) {
    args.insert(args.begin(), {"box", "run", "--state-dir", state_.path()});
    args.insert(args.end(), {"--", "/bin/sh", "-c", script});
    return silk::testing::RunSilk(args, std::chrono::minutes(3));
  }
};

TEST(NestProfile, Gen0NodeIsASubsetOfPodmanDefaultForEveryCapabilitySet) {
  using namespace policy;
  auto node = BuiltinProfile("gen0-node");
  auto podman = BuiltinProfile("podman-default");
  auto sliver = BuiltinProfile("gen0-sliver");
  ASSERT_TRUE(node && podman && sliver);
  EXPECT_EQ(node->meta.extends, "podman-default");
  const auto& all = KnownCapabilities();
  for (const auto& caps :
       {std::vector<std::string>{}, std::vector<std::string>(all.begin(), all.end())}) {
    ResolveOptions o;
    o.arch = "amd64";
    o.caps = caps;
    o.kernel = KernelVersion{6, 1};
    auto child = MakeEffectiveAll(*Resolve(*node, o));
    auto parent = MakeEffectiveAll(*Resolve(*podman, o));
    auto below = MakeEffectiveAll(*Resolve(*sliver, o));
    ASSERT_TRUE(child && parent && below);
    SubsetResult down = Subset(*child, *parent);
    EXPECT_TRUE(down.subset) << caps.size() << " caps: "
                             << (down.violations.empty() ? "" : down.violations[0].text);
    EXPECT_FALSE(Subset(*parent, *child).subset);
    // The sliver of the next level (a box the node manager makes) ⊆ gen0-node.
    SubsetResult sliver_down = Subset(*below, *child);
    EXPECT_TRUE(sliver_down.subset)
        << (sliver_down.violations.empty() ? "" : sliver_down.violations[0].text);
  }
  // And through the CLI, as the brief's proof: `silk policy subset gen0-node podman-default`.
  for (const char* caps : {"none", "all"}) {
    auto r =
        silk::testing::RunSilk({"policy", "subset", "gen0-node", "podman-default", "--caps", caps});
    EXPECT_EQ(r.status, 0) << caps << ": " << r.out << r.err;
  }
}

// Level 1 (--nest, no listener) runs silk, which makes level 2 (gen0-sliver): the level-2
// denial (sethostname, which gen0-node allows) is reported by the inner silk.
TEST_F(BoxNestTest, TwoLevelsTheInnerSilkReportsItsBoxsDenials) {
  auto r = Box({"--nest"}, "echo level1 $(id -u); " + kInnerSilk +
                               " box run --report-denials -- /bin/sh -c \"echo level2; " +
                               kSethostname + "\"; echo inner=$?");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("level1 0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("level2\n-1 1\n"), std::string::npos) << "sethostname EPERM at level 2\n"
                                                             << r.out << r.err;
  EXPECT_NE(r.out.find("inner=0"), std::string::npos) << r.out << r.err;
  // The inner silk's report (its stderr is the box's, relayed).
  EXPECT_NE(r.err.find("1 denied syscall"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sethostname("), std::string::npos) << r.err;
}

// Level 1 reports its own denials (--report-denials: its filter has the chain's listener):
// its bpf() is in its supervisor's report; level 2's filter then answers statically
// (EBUSY for a second listener), the inner silk says so, and level 2's denials (answered
// by level 2's own filter) are in no report of level 1.
TEST_F(BoxNestTest, ALevelOneDenialGoesToTheLevelOneSupervisor) {
  const std::string report = state_.path() + "-report.json";
  auto r =
      Box({"--nest", "--report-denials", report},
          std::string(kBpf) + "; " + kInnerSilk + " box run --report-denials -- /bin/sh -c \"" +
              kSethostname + "; " + kBpf + "\"; echo inner=$?");
  auto text = ReadFile(report);
  unlink(report.c_str());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "-1 1\n-1 1\n-1 1\ninner=0\n") << "every call EPERM at its level\n" << r.err;
  EXPECT_NE(r.err.find("denials not reported"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("EBUSY"), std::string::npos) << r.err;
  ASSERT_TRUE(text) << text.error().ToString();
  auto j = nlohmann::json::parse(*text);
  ASSERT_EQ(j["denials"].size(), 1u) << *text;
  EXPECT_EQ(j["denials"][0]["syscall"], "bpf") << *text;
  EXPECT_EQ(j["denials"][0]["count"], 1) << "level 2's bpf() is not level 1's\n" << *text;
}

// Boxes in a box in a box: level 1 and 2 nest-ready (gen0-node), level 3 gen0-sliver; the
// level-3 denial is reported by the level-3 supervisor (the silk of level 2).
TEST_F(BoxNestTest, ThreeLevels) {
  const std::string level3 = kInnerSilk +
                             " box run --report-denials -- /bin/sh -c \\\"echo level3 "
                             "\\$(cat /proc/self/uid_map | tr -s ' ' | cut -d' ' -f4); " +
                             std::string(kSethostname) + "\\\"; echo l3=\\$?";
  auto r =
      Box({"--nest"}, kInnerSilk + " box run --nest -- /bin/sh -c \"" + level3 + "\"; echo l2=$?");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("level3 65536\n-1 1\nl3=0\nl2=0\n"), std::string::npos)
      << "level 3 runs with a 65536-id range and gets EPERM\n"
      << r.out << r.err;
  EXPECT_NE(r.err.find("1 denied syscall"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sethostname("), std::string::npos) << r.err;
}

// Without --nest there is no silk in the box, no cgroup to delegate and no capability: the
// attempt fails clearly, and making namespaces with mounts is refused too.
TEST_F(BoxNestTest, ABoxWithoutNestCannot) {
  auto r = Box({}, kInnerSilk +
                       " box run -- /bin/true; echo inner=$?; ls /sys/fs/cgroup | wc -l; "
                       "grep CapEff /proc/self/status");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("inner=127\n0\n"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  // And --nest is refused where it cannot hold: without a user namespace, with a rootfs.
  auto never = Box({"--nest", "--userns", "never"}, "true");
  EXPECT_EQ(never.status, 125) << never.err;
  EXPECT_NE(never.err.find("nest"), std::string::npos) << never.err;
}

// The nest box's cgroups are its own: it makes cgroups below them, but cannot write its
// own limits, move itself to its cgroup's root, or reach anything above (the cgroup
// namespace and the fresh mounts start at its cgroup; the tmpfs holding them is
// read-only). And it makes tun devices.
TEST_F(BoxNestTest, ANestBoxCannotWriteCgroupsAboveItsOwn) {
  auto r = Box({"--nest"},
               "cd /sys/fs/cgroup; ls; grep -c . /proc/self/cgroup >/dev/null; "
               "mkdir pids/sub && echo made-sub; rmdir pids/sub; "
               "echo 100000 > pids/pids.max || echo limit-refused; "
               "echo 100000 > memory/memory.limit_in_bytes || echo memory-refused; "
               "echo $$ > pids/cgroup.procs || echo procs-refused; "
               "mkdir escape 2>&1 || true; "
               "echo silk-dirs=$(ls pids | grep -c silk); "
               "ip tuntap add dev t0 mode tun && echo tun-ok");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("made-sub"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("limit-refused"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("memory-refused"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("procs-refused"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_NE((r.out + r.err).find("Read-only file system"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("silk-dirs=0"), std::string::npos) << "no other box's cgroup visible\n"
                                                          << r.out;
  EXPECT_NE(r.out.find("tun-ok"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace silk::compat
