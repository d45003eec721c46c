// A named box's usage and live updates (issue 11), on real cgroups and real boxes (root):
// `silk box stats` numbers from the box's cgroups and veth, `silk box update` of memory,
// pids, cpu weight and egress seen in the cgroup files, the HTB class and the box's
// state, and the updates that must change nothing (memory below use, an exited box, an
// unknown name). cgroup v2 is read from a cgroup2 mount of the test's own, as in
// box_cgroup_test; its limits only where the unified hierarchy has the controllers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "compat/box_lifecycle.hpp"
#include "compat/box_update.hpp"
#include "compat/box_usage.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

// Writes `text` to an existing or new file in place (cgroup files are never replaced).
bool WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// The value of a one-line cgroup file, or "" when missing.
std::string CgroupFile(const std::vector<std::string>& cgroups, const std::string& file) {
  for (const auto& dir : cgroups)
    if (auto t = ReadFile(dir + "/" + file)) return Trim(*t);
  return "";
}

class BoxUsageTest : public testing::RootBoxTest {
 protected:
  CliRun Silk(std::vector<std::string> args) {
    args.insert(args.begin() + 2, {"--state-dir", state_.path()});
    return silk::testing::RunSilk(args, std::chrono::minutes(2));
  }
  // Creates and starts a named box running `script` (sh -c), with `flags` before --.
  void Start(const std::string& name, const std::string& script,
             std::vector<std::string> flags = {}) {
    std::vector<std::string> a = {"box", "create", "--start", name};
    a.insert(a.end(), flags.begin(), flags.end());
    a.insert(a.end(), {"--", "/bin/sh", "-c", script});
    auto r = Silk(a);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // Waits until the box's log holds `word` (the command reached that point).
  void AwaitLog(const std::string& name, const std::string& word) {
    auto r = ReadBox(state_.path(), name);
    ASSERT_TRUE(r) << r.error().ToString();
    for (int i = 0; i < 600; ++i) {
      if (ReadFile(r->log).value_or("").find(word) != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "box " << name << " never logged '" << word << "': " << ReadFile(r->log).value_or("");
  }
  void Delete(const std::string& name) {
    auto r = Silk({"box", "delete", "--force", name});
    EXPECT_EQ(r.status, 0) << r.err;
  }
  void TearDown() override {
    // Whatever a failed test left running goes first, so the state root empties.
    if (geteuid() == 0)
      if (auto boxes = ListBoxes(state_.path()))
        for (const auto& b : *boxes) (void)DeleteBox(state_.path(), b.name, /*force=*/true);
    testing::RootBoxTest::TearDown();
  }
  BoxRecord Record(const std::string& name) {
    auto r = ReadBox(state_.path(), name);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : BoxRecord{};
  }
};

// 24 MiB in the box's /tmp (tmpfs pages are charged to the box's memory cgroup) and a
// busy loop: the numbers are there and plausible, by the library and by the CLI.
TEST_F(BoxUsageTest, StatsOfARunningBoxArePlausible) {
  Start("hog",
        "head -c 25165824 /dev/zero > /tmp/fill; i=0; while [ $i -lt 20000 ]; do "
        "i=$((i+1)); done; echo ready; exec sleep 1000");
  AwaitLog("hog", "ready");
  auto u = ReadBoxUsage(state_.path(), "hog");
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_EQ(u->status, BoxStatus::kRunning);
  ASSERT_TRUE(u->cpu_usec.has_value());
  EXPECT_GT(*u->cpu_usec, 1000u) << "a 20000-step shell loop takes more than 1 ms of CPU";
  EXPECT_LT(*u->cpu_usec, 600u * 1000 * 1000);
  ASSERT_TRUE(u->memory_current.has_value()) << "a named box always has a memory cgroup";
  EXPECT_GE(*u->memory_current, uint64_t{24} << 20);
  EXPECT_LT(*u->memory_current, uint64_t{1} << 30);
  ASSERT_TRUE(u->memory_peak.has_value());
  EXPECT_GE(*u->memory_peak, *u->memory_current);
  EXPECT_EQ(u->memory_max, std::optional<uint64_t>(0)) << "no --memory: no limit";
  ASSERT_TRUE(u->pids_current.has_value());
  EXPECT_GE(*u->pids_current, 2u) << "silk's init and sleep";
  EXPECT_LT(*u->pids_current, 20u);
  EXPECT_EQ(u->pids_max, std::optional<uint64_t>(1024));
  EXPECT_FALSE(u->network.has_value()) << "no --net: no veth";
  EXPECT_EQ(u->denied_syscalls, 0u);
  EXPECT_EQ(u->disk_used, 0u);

  auto cli = Silk({"box", "stats", "hog", "--json"});
  ASSERT_EQ(cli.status, 0) << cli.err;
  auto j = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << cli.out;
  EXPECT_EQ(j.value("name", ""), "hog");
  EXPECT_EQ(j.value("status", ""), "running");
  EXPECT_GT(j["cpu"].value("usage_usec", uint64_t{0}), 0u) << cli.out;
  EXPECT_GE(j["memory"].value("current", uint64_t{0}), uint64_t{24} << 20) << cli.out;
  EXPECT_GE(j["memory"].value("peak", uint64_t{0}), j["memory"].value("current", uint64_t{0}));
  EXPECT_EQ(j["pids"].value("max", uint64_t{0}), 1024u);
  EXPECT_TRUE(j["network"].is_null());
  EXPECT_TRUE(j.contains("denied_syscalls"));
  EXPECT_TRUE(j["disk"].is_object());
  auto text = Silk({"box", "stats", "hog"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("memory:"), std::string::npos) << text.out;
  Delete("hog");
}

// pids, memory (raised, then cut: on v1 with swap accounting the kernel refuses a
// memsw limit below the memory limit at each step, so the order of the two writes
// matters) and cpu weight, in the cgroup files, the report and `box state --json`.
TEST_F(BoxUsageTest, UpdateIsSeenInTheCgroupsAndInState) {
  Start("upd", "echo ready; exec sleep 1000", {"--memory", "64M"});
  AwaitLog("upd", "ready");
  BoxLimitsUpdate u;
  u.memory_max = uint64_t{128} << 20;
  u.pids_max = 77;
  u.cpu_weight = 300;
  auto report = UpdateBox(state_.path(), "upd", u);
  ASSERT_TRUE(report) << report.error().ToString();
  ASSERT_EQ(report->changes.size(), 3u);
  EXPECT_EQ(report->changes[0].limit, "memory_max");
  EXPECT_EQ(report->changes[0].old_value, uint64_t{64} << 20);
  EXPECT_EQ(report->changes[0].new_value, uint64_t{128} << 20);
  EXPECT_EQ(report->changes[1].limit, "pids_max");
  EXPECT_EQ(report->changes[1].old_value, 1024u);
  EXPECT_EQ(report->changes[1].new_value, 77u);
  EXPECT_EQ(report->changes[2].limit, "cpu_weight");
  EXPECT_EQ(report->changes[2].old_value, 100u);
  EXPECT_EQ(report->changes[2].new_value, 300u);

  const auto cgroups = Record("upd").cgroups;
  const std::string v1_memory = CgroupFile(cgroups, "memory.limit_in_bytes");
  const std::string memory = v1_memory.empty() ? CgroupFile(cgroups, "memory.max") : v1_memory;
  EXPECT_EQ(memory, std::to_string(128 << 20));
  const std::string memsw = CgroupFile(cgroups, "memory.memsw.limit_in_bytes");
  if (!memsw.empty()) {
    EXPECT_EQ(memsw, std::to_string(128 << 20));
  }
  EXPECT_EQ(CgroupFile(cgroups, "pids.max"), "77");
  const std::string shares = CgroupFile(cgroups, "cpu.shares");
  if (shares.empty()) {
    EXPECT_EQ(CgroupFile(cgroups, "cpu.weight"), "300");
  } else {
    EXPECT_EQ(shares, "3072");
  }

  auto state = Silk({"box", "state", "upd", "--json"});
  ASSERT_EQ(state.status, 0) << state.err;
  auto j = nlohmann::json::parse(state.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("limits")) << state.out;
  EXPECT_EQ(j["limits"].value("memory_max", uint64_t{0}), uint64_t{128} << 20);
  EXPECT_EQ(j["limits"].value("pids_max", uint64_t{0}), 77u);
  EXPECT_EQ(j["limits"].value("cpu_weight", 0u), 300u);

  // Cut, through the CLI.
  auto cut = Silk({"box", "update", "upd", "--memory", "96M", "--json"});
  ASSERT_EQ(cut.status, 0) << cut.err;
  auto cj = nlohmann::json::parse(cut.out, nullptr, false);
  ASSERT_TRUE(cj.is_object()) << cut.out;
  ASSERT_EQ(cj["changed"].size(), 1u) << cut.out;
  EXPECT_EQ(cj["changed"][0].value("old", uint64_t{0}), uint64_t{128} << 20);
  EXPECT_EQ(cj["changed"][0].value("new", uint64_t{0}), uint64_t{96} << 20);
  EXPECT_EQ(cj["limits"].value("pids_max", uint64_t{0}), 77u) << "the others stay";
  const std::string cut_v1 = CgroupFile(cgroups, "memory.limit_in_bytes");
  EXPECT_EQ(cut_v1.empty() ? CgroupFile(cgroups, "memory.max") : cut_v1, std::to_string(96 << 20));
  auto same = Silk({"box", "update", "upd", "--pids", "77"});
  ASSERT_EQ(same.status, 0) << same.err;
  EXPECT_EQ(same.out, "upd: unchanged (already so)\n");
  auto text = Silk({"box", "update", "upd", "--pids", "78"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out, "pids_max: 77 -> 78\n");
  Delete("upd");
}

// A limit below what the box uses is refused with both numbers, and nothing changes:
// not the cgroup, not the recorded limits, not the other limits of the same update.
TEST_F(BoxUsageTest, MemoryBelowUseIsRefusedAndChangesNothing) {
  Start("full", "head -c 16777216 /dev/zero > /tmp/fill; echo ready; exec sleep 1000");
  AwaitLog("full", "ready");
  const BoxRecord before = Record("full");
  const std::string limits_before = ReadFile(before.state_dir + "/limits").value_or("?");
  const std::string pids_before = CgroupFile(before.cgroups, "pids.max");
  BoxLimitsUpdate u;
  u.memory_max = uint64_t{4} << 20;
  u.pids_max = 50;
  auto r = UpdateBox(state_.path(), "full", u);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  const std::string msg = r.error().ToString();
  EXPECT_NE(msg.find("4 MiB"), std::string::npos) << msg;
  // "... current memory use of 17039360 bytes; give ..." (or "16 MiB"): at least 16 MiB.
  const size_t at = msg.find("current memory use of ");
  ASSERT_NE(at, std::string::npos) << msg;
  std::string named = msg.substr(at + 22, msg.find(';', at) - at - 22);
  if (named.size() > 6 && named.substr(named.size() - 6) == " bytes")
    named.resize(named.size() - 6);
  named.erase(std::remove(named.begin(), named.end(), ' '), named.end());
  auto use = ParseSize(named);
  ASSERT_TRUE(use) << msg;
  EXPECT_GE(*use, uint64_t{16} << 20) << msg;
  EXPECT_EQ(ReadFile(before.state_dir + "/limits").value_or("!"), limits_before);
  EXPECT_EQ(CgroupFile(before.cgroups, "pids.max"), pids_before) << "nothing changed";
  const std::string mem = CgroupFile(before.cgroups, "memory.limit_in_bytes");
  if (!mem.empty()) {
    EXPECT_GT(std::stoull(mem), uint64_t{1} << 40) << "still no limit";
  }

  auto cli = Silk({"box", "update", "full", "--memory", "4M", "--json"});
  EXPECT_EQ(cli.status, 1);
  auto j = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << cli.out;
  EXPECT_EQ(j["error"].value("code", ""), "invalid_input");
  EXPECT_NE(j["error"].value("message", "").find("4 MiB"), std::string::npos) << cli.out;
  Delete("full");
}

// Updates of a box that has exited and of a name that is not a box change nothing, and
// say why; bad values are usage errors naming the flag, as JSON under --json.
TEST_F(BoxUsageTest, UpdatesOfExitedUnknownAndBadInputAreRefused) {
  Start("done", "exit 0");
  auto ended = WaitForBox(
      state_.path(), "done", [](const BoxRecord& r) { return r.status == BoxStatus::kExited; },
      std::chrono::seconds(30));
  ASSERT_TRUE(ended) << ended.error().ToString();
  const std::string limits_before = ReadFile(ended->state_dir + "/limits").value_or("?");
  BoxLimitsUpdate u;
  u.pids_max = 10;
  auto r = UpdateBox(state_.path(), "done", u);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().ToString().find("exited"), std::string::npos) << r.error().ToString();
  EXPECT_EQ(ReadFile(ended->state_dir + "/limits").value_or("!"), limits_before);
  auto stats = ReadBoxUsage(state_.path(), "done");
  ASSERT_FALSE(stats);
  EXPECT_NE(stats.error().ToString().find("exited"), std::string::npos);

  auto unknown = UpdateBox(state_.path(), "nosuch", u);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(state_.path() + "/nosuch"));

  auto cli = Silk({"box", "update", "nosuch", "--pids", "5", "--json"});
  EXPECT_EQ(cli.status, 1);
  auto j = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << cli.out;
  EXPECT_EQ(j["error"].value("code", ""), "not_found");
  auto stats_cli = Silk({"box", "stats", "nosuch", "--json"});
  EXPECT_EQ(stats_cli.status, 1);
  EXPECT_TRUE(nlohmann::json::parse(stats_cli.out, nullptr, false).contains("error"))
      << stats_cli.out;
  auto exited = Silk({"box", "update", "done", "--cpu-weight", "200"});
  EXPECT_EQ(exited.status, 1);
  EXPECT_NE(exited.err.find("exited"), std::string::npos) << exited.err;
  auto zero = Silk({"box", "update", "done", "--pids", "0", "--json"});
  EXPECT_EQ(zero.status, 2);
  auto zj = nlohmann::json::parse(zero.out, nullptr, false);
  ASSERT_TRUE(zj.is_object() && zj.contains("error")) << zero.out;
  EXPECT_EQ(zj["error"].value("field", ""), "--pids");
  auto nothing = Silk({"box", "update", "done"});
  EXPECT_EQ(nothing.status, 2);
  auto big = Silk({"box", "update", "done", "--cpu-weight", "10001", "--json"});
  EXPECT_EQ(big.status, 2);
  EXPECT_EQ(nlohmann::json::parse(big.out, nullptr, false)["error"].value("field", ""),
            "--cpu-weight");
  EXPECT_EQ(ReadFile(ended->state_dir + "/limits").value_or("!"), limits_before);
  Delete("done");
}

BoxLimitsUpdate Egress(uint64_t bytes_per_sec) {
  BoxLimitsUpdate u;
  u.egress_rate = bytes_per_sec;
  return u;
}

// tc's rate as iproute2 prints it (tc_print_rate): bits per second in SI units, divided
// while it stays whole or above 1000 of the next unit.
std::string TcRate(uint64_t bytes_per_sec) {
  const char* units[] = {"bit", "Kbit", "Mbit", "Gbit", "Tbit"};
  uint64_t rate = bytes_per_sec * 8;
  size_t i = 0;
  for (; i < 4; ++i) {
    if (rate < 1000) break;
    if (rate % 1000 != 0 && rate < 1000 * 1000) break;
    rate /= 1000;
  }
  return std::to_string(rate) + units[i];
}

// The egress rate of a box on a bridge of the test's own: the HTB class on the box's
// eth0 (seen with tc inside the box's network namespace) changes in place; a box made
// without a cap gets one. The box's traffic (ARP for an address nobody has, on the
// test's bridge only) shows in its stats as sent.
class BoxEgressTest : public BoxUsageTest {
 protected:
  void SetUp() override {
    BoxUsageTest::SetUp();
    if (IsSkipped()) return;
    bridge_ = "silkusg" + std::to_string(getpid() % 100000);
    std::system(("ip link del " + bridge_ + " 2>/dev/null").c_str());
    ASSERT_EQ(std::system(("ip link add " + bridge_ + " type bridge && ip addr add " +
                           "10.236.0.1/24 dev " + bridge_ + " && ip link set " + bridge_ + " up")
                              .c_str()),
              0);
  }
  void TearDown() override {
    BoxUsageTest::TearDown();  // the boxes and their veths first
    if (!bridge_.empty()) std::system(("ip link del " + bridge_ + " 2>/dev/null").c_str());
  }
  std::string Classes(const std::string& name) {
    SpawnOptions o;
    o.argv = {"nsenter", "--net=/proc/" + std::to_string(Record(name).init_pid) + "/ns/net",
              "tc",      "class",
              "show",    "dev",
              "eth0"};
    auto r = RunAndCapture(o, std::chrono::steady_clock::now() + std::chrono::seconds(30));
    return r ? r->out : r.error().ToString();
  }
  std::string bridge_;
};

TEST_F(BoxEgressTest, EgressUpdateChangesTheHtbClass) {
  Start("net",
        "for i in 1 2 3; do echo x | busybox nc -u -w 1 10.236.0.77 9; done 2>/dev/null; "
        "echo ready; exec sleep 1000",
        {"--net", "bridge=" + bridge_ + ",address=10.236.0.2/24,egress=1M"});
  Start("bare", "echo ready; exec sleep 1000",
        {"--net", "bridge=" + bridge_ + ",address=10.236.0.3/24"});
  AwaitLog("net", "ready");
  AwaitLog("bare", "ready");
  EXPECT_NE(Classes("net").find("rate " + TcRate(1 << 20)), std::string::npos) << Classes("net");

  auto up = Silk({"box", "update", "net", "--egress", "2M"});
  ASSERT_EQ(up.status, 0) << up.err;
  EXPECT_EQ(up.out, "egress_rate: 1 MiB/s -> 2 MiB/s\n");
  const std::string after = Classes("net");
  EXPECT_NE(after.find("rate " + TcRate(2 << 20)), std::string::npos) << after;
  EXPECT_EQ(after.find("rate " + TcRate(1 << 20)), std::string::npos) << after;
  auto again = UpdateBox(state_.path(), "net", Egress(512 << 10));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_NE(Classes("net").find("rate " + TcRate(512 << 10)), std::string::npos);
  EXPECT_EQ(Record("net").limits.value_or(BoxLimits{}).egress_rate, 512u << 10);

  EXPECT_EQ(Classes("bare").find("htb"), std::string::npos) << "no cap at create";
  auto capped = UpdateBox(state_.path(), "bare", Egress(3 << 20));
  ASSERT_TRUE(capped) << capped.error().ToString();
  EXPECT_NE(Classes("bare").find("rate " + TcRate(3 << 20)), std::string::npos) << Classes("bare");

  auto u = ReadBoxUsage(state_.path(), "net");
  ASSERT_TRUE(u) << u.error().ToString();
  ASSERT_TRUE(u->network.has_value());
  EXPECT_EQ(u->network->host_interface,
            Trim(ReadFile(Record("net").state_dir + "/veth").value_or("")));
  EXPECT_GT(u->network->tx_packets, 0u) << "the box's ARP requests, as it sent them";
  EXPECT_GT(u->network->tx_bytes, 0u);
  auto cli = Silk({"box", "stats", "net", "--json"});
  ASSERT_EQ(cli.status, 0) << cli.err;
  auto j = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j["network"].is_object()) << cli.out;
  EXPECT_EQ(j["network"].value("point_of_view", ""), "box");

  // A box without a veth has no egress to set: refused, nothing changed.
  Start("lonely", "echo ready; exec sleep 1000");
  AwaitLog("lonely", "ready");
  auto none = UpdateBox(state_.path(), "lonely", Egress(1 << 20));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kUnsupported);
  for (const char* n : {"net", "bare", "lonely"}) Delete(n);
}

// cgroup v2, read from a cgroup2 mount of our own: a record (written here, this process
// holding the state lock as a supervisor would) whose cgroup is a v2 directory holding a
// sleeper. cpu.stat's usage_usec is there without any controller; memory and pids only
// where the unified hierarchy offers them (inside thinix), and an update of a
// controller the box's cgroups lack is refused, changing nothing.
TEST_F(BoxUsageTest, ReadsAndUpdatesCgroupV2) {
  char tmpl[] = "/tmp/silk-usage-cgroup2-XXXXXX";
  const std::string mnt = mkdtemp(tmpl);
  if (mount("none", mnt.c_str(), "cgroup2", 0, nullptr) != 0) {
    rmdir(mnt.c_str());
    GTEST_SKIP() << "cannot mount cgroup2: " << strerror(errno);
  }
  const std::string ctl = Trim(ReadFile(mnt + "/cgroup.controllers").value_or(""));
  const bool v2_memory = ctl.find("memory") != std::string::npos;
  const bool v2_pids = ctl.find("pids") != std::string::npos;
  std::string enable;
  if (v2_memory) enable += " +memory";
  if (v2_pids) enable += " +pids";
  if (!enable.empty()) (void)WriteFile(mnt + "/cgroup.subtree_control", Trim(enable));
  const std::string cg = mnt + "/silk-usage-test-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << strerror(errno);
  pid_t sleeper = fork();
  if (sleeper == 0) {
    volatile unsigned spin = 0;
    for (unsigned i = 0; i < 50000000u; ++i) spin = spin + i;
    pause();
    _exit(0);
  }
  ASSERT_TRUE(WriteFile(cg + "/cgroup.procs", std::to_string(sleeper)));

  const std::string dir = state_.path() + "/v2box";
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(WriteFile(dir + "/persistent", ""));
  int lock = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_EQ(flock(lock, LOCK_EX), 0);
  BoxRecord rec;
  rec.name = "v2box";
  rec.status = BoxStatus::kRunning;
  rec.supervisor_pid = getpid();
  rec.init_pid = sleeper;
  rec.cgroups = {cg};
  ASSERT_TRUE(WriteFile(dir + "/status", BoxRecordToJson(rec)));
  ASSERT_TRUE(RecordBoxLimits(dir, BoxLimits{}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto u = ReadBoxUsage(state_.path(), "v2box");
  BoxLimitsUpdate pids;
  pids.pids_max = 33;
  auto updated = UpdateBox(state_.path(), "v2box", pids);
  const std::string limits_after = ReadFile(dir + "/limits").value_or("");
  const std::string pids_file = ReadFile(cg + "/pids.max").value_or("");

  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  rmdir(cg.c_str());
  close(lock);
  std::filesystem::remove_all(dir);
  umount2(mnt.c_str(), MNT_DETACH);
  rmdir(mnt.c_str());

  ASSERT_TRUE(u) << u.error().ToString();
  ASSERT_TRUE(u->cpu_usec.has_value()) << "cpu.stat is a core cgroup2 file";
  EXPECT_GT(*u->cpu_usec, 1000u) << "the sleeper's busy loop before pause()";
  EXPECT_EQ(u->memory_current.has_value(), v2_memory);
  EXPECT_EQ(u->pids_current, v2_pids ? std::optional<uint64_t>(1) : std::nullopt);
  if (v2_memory && u->memory_peak) {
    EXPECT_GE(*u->memory_peak, *u->memory_current);
  }
  if (v2_pids) {
    ASSERT_TRUE(updated) << updated.error().ToString();
    EXPECT_EQ(Trim(pids_file), "33");
    EXPECT_NE(limits_after.find("\"pids_max\": 33"), std::string::npos) << limits_after;
  } else {
    ASSERT_FALSE(updated);
    EXPECT_EQ(updated.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(updated.error().ToString().find("no pids cgroup"), std::string::npos)
        << updated.error().ToString();
    EXPECT_EQ(limits_after, BoxLimitsToJson(BoxLimits{})) << "nothing changed";
  }
}

}  // namespace
}  // namespace silk::compat
