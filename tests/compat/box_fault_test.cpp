// Faults (root): SIGKILL of the real `silk box run` at a fine-grained sweep of delays
// across its whole life (setup, run, teardown), then one `SweepStaleBoxes`: nothing of
// those boxes may be left - no state directory, no cgroup directory in any hierarchy
// (v1 controllers and unified), no host veth end. Write-ahead state makes that hold:
// every resource is recorded before it is made.
//
// SILK_FAULT_KILLS overrides the number of kills (default 200).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::TestRootfs;
using Clock = std::chrono::steady_clock;

// SILK overrides the binary (e.g. to run this test against an older build).
const std::string kSilk = getenv("SILK") ? getenv("SILK") : SILK_BINARY_DIR "/cli/silk";

pid_t Spawn(const std::vector<std::string>& argv) {
  pid_t p = fork();
  if (p == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return p;
}

int Wait(pid_t p) {
  int st = 0;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Every directory a cgroup of this process's boxes could be in: <mount><own cgroup>/silk
// for every cgroup and cgroup2 mount and every hierarchy line of /proc/self/cgroup
// (pairing every mount with every line over-approximates; missing paths cost nothing).
std::vector<std::string> SilkCgroupParents() {
  std::set<std::string> mounts, owns;
  for (const auto& line : Split(*ReadFile("/proc/self/mountinfo"), '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = Split(line.substr(0, dash), ' ');
    auto right = Split(line.substr(dash + 3), ' ');
    if (left.size() >= 5 && !right.empty() && (right[0] == "cgroup" || right[0] == "cgroup2"))
      mounts.insert(left[4]);
  }
  for (const auto& line : Split(*ReadFile("/proc/self/cgroup"), '\n')) {
    auto parts = Split(line, ':');
    if (parts.size() < 3) continue;
    owns.insert(line.substr(parts[0].size() + parts[1].size() + 2));
  }
  std::vector<std::string> out;
  for (const auto& m : mounts)
    for (const auto& o : owns) out.push_back(m + (o == "/" ? "" : o) + "/silk");
  return out;
}

struct Leftovers {
  std::vector<std::string> state, cgroups, veths;
  size_t count() const { return state.size() + cgroups.size() + veths.size(); }
  std::string Describe() const {
    std::string s;
    for (const auto& v : {state, cgroups, veths})
      for (const auto& x : v) s += "  " + x + "\n";
    return s;
  }
};

Leftovers Find(const std::string& state_root, const std::vector<std::string>& ids) {
  Leftovers l;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_root, ec))
    l.state.push_back(e.path().string());
  auto parents = SilkCgroupParents();
  for (const auto& id : ids) {
    for (const auto& p : parents)
      if (access((p + "/" + id).c_str(), F_OK) == 0) l.cgroups.push_back(p + "/" + id);
    std::string veth = "sv" + id;  // HostVethName: ids here are short enough
    if (access(("/sys/class/net/" + veth).c_str(), F_OK) == 0) l.veths.push_back(veth);
  }
  return l;
}

class BoxFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, cgroups, veth)";
    if (access(kSilk.c_str(), X_OK) != 0) GTEST_SKIP() << kSilk << " not built";
    char tmpl[] = "/tmp/silk-fault-state-XXXXXX";
    state_ = mkdtemp(tmpl);
    chmod(state_.c_str(), 0711);  // searchable by the boxes' unprivileged host uids
    bridge_ = "silkflt" + std::to_string(getpid() % 100000);
    std::system(("ip link del " + bridge_ + " 2>/dev/null").c_str());
    bridge_ok_ = std::system(("ip link add " + bridge_ + " type bridge && ip addr add " +
                              "10.233.0.1/24 dev " + bridge_ + " && ip link set " + bridge_ + " up")
                                 .c_str()) == 0;
  }
  void TearDown() override {
    if (!bridge_.empty()) std::system(("ip link del " + bridge_ + " 2>/dev/null").c_str());
    std::error_code ec;
    if (!state_.empty()) std::filesystem::remove_all(state_, ec);
  }
  std::vector<std::string> Argv(const std::string& id) {
    std::vector<std::string> a = {kSilk,      "box",    "run",         "--rootfs",     root_.path(),
                                  "--box-id", id,       "--state-dir", state_,         "--memory",
                                  "64M",      "--pids", "64",          "--cpu-weight", "200"};
    if (bridge_ok_) a.insert(a.end(), {"--net", "bridge=" + bridge_ + ",address=10.233.0.2/24"});
    a.insert(a.end(), {"--", "probe", "status"});
    return a;
  }
  TestRootfs root_;
  std::string state_, bridge_;
  bool bridge_ok_ = false;
};

TEST_F(BoxFaultTest, SigkillAtAnyMomentLeavesNothingAfterTheSweep) {
  const int kills = getenv("SILK_FAULT_KILLS") ? atoi(getenv("SILK_FAULT_KILLS")) : 200;
  const std::string tag = "fk" + std::to_string(getpid() % 100000) + "-";
  // How long a whole run takes here (median of 3): the kills spread over it.
  std::vector<double> runs;
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    int rc = Wait(Spawn(Argv(tag + "m" + std::to_string(i))));
    ASSERT_EQ(rc, 0) << "silk box run failed without a kill (bridge " << bridge_ok_ << ")";
    runs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(runs.begin(), runs.end());
  const double span = runs[1];
  std::vector<std::string> ids;
  int killed_running = 0;
  for (int i = 0; i < kills; ++i) {
    ids.push_back(tag + std::to_string(i));
    const double delay = span * i / kills;
    pid_t p = Spawn(Argv(ids.back()));
    timespec ts{static_cast<time_t>(delay), static_cast<long>((delay - (time_t)delay) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    kill(p, SIGKILL);
    if (Wait(p) == 128 + SIGKILL) ++killed_running;
  }
  Leftovers before = Find(state_, ids);
  auto swept = SweepStaleBoxes(state_);
  ASSERT_TRUE(swept) << swept.error().ToString();
  Leftovers after = Find(state_, ids);
  std::printf(
      "%d kills over %.0f ms (%d while silk ran; veth %s); before the sweep: %zu state "
      "dirs, %zu cgroups, %zu veths; the sweep reclaimed %zu; after: %zu left\n",
      kills, span * 1000, killed_running, bridge_ok_ ? "on" : "off (no bridge)",
      before.state.size(), before.cgroups.size(), before.veths.size(), swept->reclaimed.size(),
      after.count());
  EXPECT_GT(killed_running, kills / 2) << "most kills should land while silk runs";
  EXPECT_EQ(after.count(), 0u) << "left after the sweep:\n" << after.Describe();
  // Tidy up whatever was left so that later runs start clean.
  for (const auto& c : after.cgroups) rmdir(c.c_str());
  for (const auto& v : after.veths) std::system(("ip link del " + v + " 2>/dev/null").c_str());
}

}  // namespace
}  // namespace silk::compat
