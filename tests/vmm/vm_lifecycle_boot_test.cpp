// A named VM's whole life through the real binary, in one boot (TCG boots are slow): create
// with a disk, a second create of the name refused, execs into the guest's box and into the
// guest, an exec killed mid-command that does not wedge the agent, two execs at once (the
// second waits for the session and says so), state, list, stats, stop, exec of a stopped VM
// refused, delete, a second delete refused, and nothing left: no domain, no run directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/sleep.hpp"
#include "base/subprocess.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/vmm/thinix_image.hpp"
#include "vmm/connection.hpp"
#include "vmm/domain.hpp"
#include "vmm/run_dir.hpp"

namespace silk::vmm {
namespace {

using silk::testing::CliRun;
using silk::testing::RunSilk;
using Clock = std::chrono::steady_clock;

class VmLifecycleBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto img = testing::ThinixImageForTests();
    ASSERT_TRUE(img) << "no thinix image: " << img.error().ToString();
    image_ = *img;
    char tmpl[] = "/tmp/silk-vm-life-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(::chmod(root_.c_str(), 0711), 0);  // QEMU's user must get through
    name_ = "life-" + std::to_string(::getpid());
  }
  void TearDown() override {
    (void)Silk({"delete", name_, "--force"});
    (void)RemoveRunDir(root_);
  }
  CliRun Silk(std::vector<std::string> args) {
    std::vector<std::string> all = {"vm", args[0]};
    if (args[0] != "list") all.push_back(args[1]);
    all.insert(all.end(), {"--state-dir", root_});
    all.insert(all.end(), args.begin() + (args[0] == "list" ? 1 : 2), args.end());
    return RunSilk(all);
  }
  CliRun Exec(const std::vector<std::string>& extra, const std::vector<std::string>& cmd) {
    std::vector<std::string> args = {"exec", name_};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--");
    args.insert(args.end(), cmd.begin(), cmd.end());
    return Silk(args);
  }
  // `silk vm exec` started in the background (stdin /dev/null).
  Result<ChildProcess> Spawn(const std::vector<std::string>& cmd) {
    SpawnOptions o;
    o.argv = {std::string(SILK_BINARY_DIR) + "/cli/silk",
              "vm",
              "exec",
              name_,
              "--state-dir",
              root_,
              "--no-box",
              "--"};
    o.argv.insert(o.argv.end(), cmd.begin(), cmd.end());
    o.out = Stdio::Pipe();
    o.err = Stdio::Pipe();
    return ChildProcess::Spawn(o);
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }

  std::string image_, root_, name_;
};

TEST_F(VmLifecycleBoot, CreateExecStatsStopDeleteLeavesNothing) {
  auto created = Silk({"create", name_, "--image", image_, "--accel", "tcg", "--disk", "64M",
                       "--boot-timeout", "180", "--json"});
  ASSERT_EQ(created.status, 0) << created.err;
  auto record = nlohmann::json::parse(created.out);
  EXPECT_EQ(record["status"], "running");
  const std::string run_dir = record["run_dir"], domain = record["domain"];
  EXPECT_EQ(domain, "silk-vm-" + name_);
  EXPECT_TRUE(Exists(run_dir + "/control.sock"));
  EXPECT_TRUE(Exists(run_dir + "/disk.raw"));

  auto again = Silk({"create", name_, "--image", image_, "--accel", "tcg"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("a VM named '" + name_ + "' exists (running)"), std::string::npos)
      << again.err;

  // Into the guest's compatibility box (the default), env and status passing through.
  auto boxed = Exec({"--env", "GREETING=hi"},
                    {"/bin/sh", "-c", "echo $GREETING; grep Seccomp: /proc/self/status; exit 3"});
  EXPECT_EQ(boxed.status, 3) << boxed.err;
  EXPECT_NE(boxed.out.find("hi\n"), std::string::npos) << boxed.out;
  EXPECT_NE(boxed.out.find("Seccomp:\t2"), std::string::npos) << "not in a box: " << boxed.out;
  // Directly in the guest: the disk is a 64 MiB virtio disk that takes writes.
  auto disk = Exec({"--no-box"}, {"/bin/sh", "-c",
                                  "cat /sys/block/vda/size && "
                                  "dd if=/dev/zero of=/dev/vda bs=1M count=4 2>/dev/null && sync"});
  EXPECT_EQ(disk.status, 0) << disk.err;
  EXPECT_EQ(disk.out, "131072\n") << "sectors of /dev/vda: " << disk.err;

  // An exec killed mid-command (Ctrl-C, SIGKILL): its command is killed in the guest and
  // the next exec is served.
  {
    auto sleeper = Spawn({"sleep", "1000"});
    ASSERT_TRUE(sleeper) << sleeper.error().ToString();
    SleepFor(std::chrono::seconds(4));
    ASSERT_TRUE(sleeper->Kill());
  }
  auto after =
      Exec({"--no-box", "--timeout", "60"}, {"/bin/sh", "-c", "ps | grep -c '[s]leep 1000'; true"});
  EXPECT_EQ(after.status, 0) << after.err;
  EXPECT_EQ(after.out, "0\n") << "the killed exec's command still runs in the guest";

  // Two execs at once: the second waits for the first's session, and says so.
  {
    auto first = Spawn({"/bin/sh", "-c", "sleep 3; echo first"});
    ASSERT_TRUE(first) << first.error().ToString();
    SleepFor(std::chrono::milliseconds(700));
    auto second = Exec({"--no-box"}, {"echo", "second"});
    auto one = first->Capture(Clock::now() + std::chrono::minutes(2));
    ASSERT_TRUE(one) << one.error().ToString();
    EXPECT_EQ(one->status.ShellStatus(), 0) << one->err;
    EXPECT_EQ(one->out, "first\n");
    EXPECT_EQ(second.status, 0) << second.err;
    EXPECT_EQ(second.out, "second\n");
    EXPECT_NE(second.err.find("waiting"), std::string::npos) << second.err;
  }

  auto state = Silk({"state", name_, "--json"});
  ASSERT_EQ(state.status, 0) << state.err;
  EXPECT_EQ(nlohmann::json::parse(state.out)["status"], "running");
  auto list = Silk({"list", "--json"});
  ASSERT_EQ(list.status, 0) << list.err;
  auto listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed.size(), 1u) << list.out;
  EXPECT_EQ(listed[0]["name"], name_);
  auto stats = Silk({"stats", name_, "--json"});
  ASSERT_EQ(stats.status, 0) << stats.err;
  auto s = nlohmann::json::parse(stats.out);
  EXPECT_EQ(s["state"], "running");
  EXPECT_GT(s["cpu_time_ns"].get<uint64_t>(), 0u);
  ASSERT_EQ(s["block"].size(), 1u) << stats.out;
  EXPECT_EQ(s["block"][0]["name"], "vda");
  EXPECT_EQ(s["block"][0]["capacity"].get<uint64_t>(), uint64_t{64} << 20);
  EXPECT_GE(s["block"][0]["wr_bytes"].get<uint64_t>(), uint64_t{4} << 20);

  auto stop = Silk({"stop", name_, "--timeout", "60", "--json"});
  ASSERT_EQ(stop.status, 0) << stop.err;
  auto stopped = nlohmann::json::parse(stop.out);
  EXPECT_EQ(stopped["status"], "stopped");
  EXPECT_EQ(stopped["error"], "") << "the guest did not power off through its agent";
  auto conn = Connection::Open();
  ASSERT_TRUE(conn) << conn.error().ToString();
  EXPECT_FALSE(*DomainExists(**conn, domain)) << domain << " still exists after stop";
  auto exec_stopped = Exec({"--no-box"}, {"/bin/true"});
  EXPECT_EQ(exec_stopped.status, 125);
  EXPECT_NE(exec_stopped.err.find("is stopped"), std::string::npos) << exec_stopped.err;

  auto del = Silk({"delete", name_});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_FALSE(Exists(run_dir)) << run_dir << " left behind";
  auto del2 = Silk({"delete", name_});
  EXPECT_EQ(del2.status, 1);
  EXPECT_NE(del2.err.find("no VM named '" + name_ + "'"), std::string::npos) << del2.err;
  EXPECT_FALSE(*DomainExists(**conn, domain));
}

}  // namespace
}  // namespace silk::vmm
