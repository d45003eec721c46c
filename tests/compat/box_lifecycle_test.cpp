// Named boxes that live (issue 11), through the real binary: create/start/kill/stop/
// delete/list/state, a detached supervisor per box, a lost box reclaimed by delete, bad
// input that changes nothing, and SIGKILLs of the CLI and of the supervisor at random
// points of create after which `list` tells the truth and `delete` leaves nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "compat/box_lifecycle.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

// Field 22 of /proc/PID/stat, the start time the state records beside a pid.
std::string StartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return "";
  auto fields = Split(stat->substr(stat->rfind(')') + 2), ' ');
  return fields.size() > 19 ? fields[19] : "";
}

class BoxLifecycleTest : public testing::RootBoxTest {
 protected:
  CliRun Silk(std::vector<std::string> args) {
    args.insert(args.begin() + 2, {"--state-dir", state_.path()});
    return silk::testing::RunSilk(args, std::chrono::minutes(2));
  }
  nlohmann::json State(const std::string& name) {
    auto r = Silk({"box", "state", name, "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  Result<BoxRecord> WaitUntil(const std::string& name, BoxStatus status) {
    return WaitForBox(
        state_.path(), name, [status](const BoxRecord& r) { return r.status == status; },
        std::chrono::seconds(30));
  }
  // The box's recorded cgroups that still exist.
  std::vector<std::string> CgroupsLeft(const nlohmann::json& record) {
    std::vector<std::string> left;
    for (const auto& c : record.value("cgroups", nlohmann::json::array()))
      if (access(c.get<std::string>().c_str(), F_OK) == 0) left.push_back(c);
    return left;
  }
};

TEST_F(BoxLifecycleTest, CreateStartStopDelete) {
  auto created = Silk({"box", "create", "web", "--", "/bin/sh", "-c",
                       "echo hello; trap 'echo got-term; exit 3' TERM; "
                       "while :; do sleep 0.05; done"});
  ASSERT_EQ(created.status, 0) << created.err;
  EXPECT_EQ(created.out, "web\n");
  auto record = State("web");
  EXPECT_EQ(record.value("status", ""), "created") << record.dump();
  const std::string log = record.value("log", "");
  EXPECT_EQ(ReadFile(log).value_or("?"), "") << "nothing ran before start";
  EXPECT_GT(record.value("supervisor_pid", 0), 0);
  EXPECT_NE(record.value("supervisor_pid", 0), getpid());

  auto started = Silk({"box", "start", "web"});
  ASSERT_EQ(started.status, 0) << started.err;
  record = State("web");
  EXPECT_EQ(record.value("status", ""), "running") << record.dump();
  auto list = Silk({"box", "list", "--json"});
  auto boxes = nlohmann::json::parse(list.out, nullptr, false);
  ASSERT_TRUE(boxes.is_array()) << list.out;
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].value("name", ""), "web");

  auto stopped = Silk({"box", "stop", "web", "--timeout", "10", "--json"});
  ASSERT_EQ(stopped.status, 0) << stopped.err;
  auto end = nlohmann::json::parse(stopped.out, nullptr, false);
  EXPECT_EQ(end.value("status", ""), "exited") << stopped.out;
  EXPECT_EQ(end.value("exit_status", -1), 3) << "the command's TERM trap ran: " << stopped.out;
  EXPECT_EQ(ReadFile(log).value_or(""), "hello\ngot-term\n");
  EXPECT_TRUE(CgroupsLeft(end).empty()) << "an exited box holds no cgroup";
  auto again = Silk({"box", "stop", "web"});
  EXPECT_EQ(again.status, 0) << "stopping an ended box is not an error: " << again.err;

  auto deleted = Silk({"box", "delete", "web"});
  ASSERT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_EQ(access(record.value("state_dir", "").c_str(), F_OK), -1);
  auto gone = Silk({"box", "state", "web"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("no box named 'web'"), std::string::npos) << gone.err;
}

TEST_F(BoxLifecycleTest, SignalsReachTheCommandAndKillEndsTheBox) {
  ASSERT_EQ(Silk({"box", "create", "--start", "sig", "--", "/bin/sh", "-c",
                  "trap 'exit 5' HUP; while :; do sleep 0.05; done"})
                .status,
            0);
  auto hup = Silk({"box", "kill", "sig", "HUP"});
  ASSERT_EQ(hup.status, 0) << hup.err;
  auto ended = WaitUntil("sig", BoxStatus::kExited);
  ASSERT_TRUE(ended) << ended.error().ToString();
  EXPECT_EQ(ended->exit_status, 5);

  ASSERT_EQ(Silk({"box", "create", "--start", "k", "--", "/bin/sleep", "1000"}).status, 0);
  ASSERT_EQ(Silk({"box", "kill", "k", "KILL"}).status, 0);
  auto killed = WaitUntil("k", BoxStatus::kExited);
  ASSERT_TRUE(killed) << killed.error().ToString();
  EXPECT_EQ(killed->exit_status, 128 + SIGKILL);
  auto late = Silk({"box", "kill", "k"});
  EXPECT_EQ(late.status, 1);
  EXPECT_NE(late.err.find("exited"), std::string::npos) << late.err;
  for (const char* n : {"sig", "k"}) EXPECT_EQ(Silk({"box", "delete", n}).status, 0);
}

// A box cannot fill the host's RAM through its log (/run is a tmpfs): past the limit
// (16 MiB) the output is drained and dropped, and the log's last line says so.
TEST_F(BoxLifecycleTest, TheLogIsBounded) {
  ASSERT_EQ(Silk({"box", "create", "--start", "chatty", "--", "/bin/sh", "-c",
                  "head -c 40000000 /dev/zero; echo done >&2"})
                .status,
            0);
  auto ended = WaitUntil("chatty", BoxStatus::kExited);
  ASSERT_TRUE(ended) << ended.error().ToString();
  EXPECT_EQ(ended->exit_status, 0) << "the box was drained, not blocked";
  struct stat st;
  ASSERT_EQ(stat(ended->log.c_str(), &st), 0);
  EXPECT_LE(st.st_size, (16 << 20) + 200);
  auto log = ReadFile(ended->log);
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("[silk: the log reached its limit of 16 MiB"), std::string::npos)
      << log->substr(log->size() - std::min<size_t>(log->size(), 200));
  EXPECT_EQ(Silk({"box", "delete", "chatty"}).status, 0);
}

TEST_F(BoxLifecycleTest, ACommandThatCannotStartIsRecordedAsSuch) {
  ASSERT_EQ(Silk({"box", "create", "nf", "--", "/no/such/command"}).status, 0);
  ASSERT_EQ(Silk({"box", "start", "nf"}).status, 0);
  auto r = State("nf");
  EXPECT_EQ(r.value("status", ""), "exited");
  EXPECT_EQ(r.value("exit_status", 0), 127);
  EXPECT_NE(r.value("exec_failure", "").find("not found"), std::string::npos) << r.dump();
  EXPECT_EQ(Silk({"box", "delete", "nf"}).status, 0);
}

// A box whose supervisor was SIGKILLed is lost: list says so, kill and start refuse, the
// sweep of `box run` leaves it alone, and delete reclaims its cgroups and state.
TEST_F(BoxLifecycleTest, ALostBoxIsShownAndDeleteReclaimsIt) {
  ASSERT_EQ(
      Silk({"box", "create", "--start", "--memory", "32M", "lost", "--", "/bin/sleep", "1000"})
          .status,
      0);
  auto record = State("lost");
  const pid_t sup = record.value("supervisor_pid", 0);
  ASSERT_GT(sup, 0);
  ASSERT_EQ(kill(sup, SIGKILL), 0);
  auto lost = WaitUntil("lost", BoxStatus::kLost);
  ASSERT_TRUE(lost) << lost.error().ToString();
  for (auto verb : {std::vector<std::string>{"box", "kill", "lost"},
                    std::vector<std::string>{"box", "start", "lost"}}) {
    auto r = Silk(verb);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("is lost"), std::string::npos) << r.err;
  }
  auto sweep = Silk({"box", "sweep"});
  EXPECT_EQ(sweep.status, 0) << sweep.err;
  EXPECT_EQ(State("lost").value("status", ""), "lost") << "the sweep took a named box";
  EXPECT_FALSE(CgroupsLeft(record).empty()) << "its cgroups wait for delete";
  auto deleted = Silk({"box", "delete", "lost"});
  ASSERT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_TRUE(CgroupsLeft(record).empty());
  EXPECT_EQ(access(record.value("state_dir", "").c_str(), F_OK), -1);
}

TEST_F(BoxLifecycleTest, BadInputIsRefusedAndChangesNothing) {
  ASSERT_EQ(Silk({"box", "create", "--start", "one", "--", "/bin/sleep", "1000"}).status, 0);
  const auto before = State("one");
  auto dup = Silk({"box", "create", "--start", "one", "--", "/bin/true"});
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.err.find("a box named 'one' exists"), std::string::npos) << dup.err;
  auto live = Silk({"box", "delete", "one"});
  EXPECT_EQ(live.status, 1);
  EXPECT_NE(live.err.find("--force"), std::string::npos) << live.err;
  auto running = Silk({"box", "start", "one"});
  EXPECT_EQ(running.status, 1);
  auto bad_signal = Silk({"box", "kill", "one", "SIGBOGUS"});
  EXPECT_EQ(bad_signal.status, 2);
  EXPECT_NE(bad_signal.err.find("unknown signal"), std::string::npos) << bad_signal.err;
  auto bad_name = Silk({"box", "create", "../x", "--", "/bin/true"});
  EXPECT_EQ(bad_name.status, 2) << bad_name.err;
  auto unknown = Silk({"box", "kill", "nosuch"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no box named 'nosuch'"), std::string::npos) << unknown.err;
  auto after = State("one");
  EXPECT_EQ(after.value("status", ""), "running");
  EXPECT_EQ(after.value("init_pid", 0), before.value("init_pid", -1)) << "the box was not touched";

  ASSERT_EQ(Silk({"box", "delete", "--force", "one"}).status, 0);
  auto twice = Silk({"box", "delete", "one"});
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE(twice.err.find("no box named 'one'"), std::string::npos) << twice.err;
}

// SIGKILL of the CLI or of the supervisor at a random point of `create --start`, 20
// times each: `list` then shows each box created, running, exited or lost (a box whose
// CLI died may still appear: its supervisor was already on its way), and `delete
// --force` leaves no state and no cgroup.
TEST_F(BoxLifecycleTest, KillsDuringCreateLeaveATruthfulListAndNothingAfterDelete) {
  std::mt19937 rng(20261205);
  int supervisors_killed = 0;
  for (int i = 0; i < 40; ++i) {
    const bool kill_supervisor = i % 2 == 1;
    const std::string name = "f" + std::to_string(i);
    SpawnOptions o;
    o.argv = {std::string(SILK_BINARY_DIR) + "/cli/silk",
              "box",
              "create",
              "--state-dir",
              state_.path(),
              "--start",
              "--memory",
              "32M",
              name,
              "--",
              "/bin/sleep",
              "1000"};
    o.out = Stdio::Null();
    o.err = Stdio::Null();
    auto cli = ChildProcess::Spawn(o);
    ASSERT_TRUE(cli) << cli.error().ToString();
    if (!kill_supervisor) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
      (void)cli->Kill();
      continue;
    }
    // The supervisor's record is in its state directory from its first moment: kill it
    // somewhere in the setup that follows.
    const std::string record = state_.path() + "/" + name + "/supervisor";
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (access(record.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    if (auto s = ReadFile(record)) {
      auto f = Split(Trim(*s), ' ');
      pid_t pid = f.size() == 2 ? static_cast<pid_t>(std::strtol(f[0].c_str(), nullptr, 10)) : 0;
      if (pid > 0 && StartTime(pid) == f[1] && kill(pid, SIGKILL) == 0) ++supervisors_killed;
    }
    (void)cli->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  }
  EXPECT_GE(supervisors_killed, 15) << "the supervisor kills mostly missed their window";
  // Supervisors whose CLI died carry on: give them a moment to finish their setup.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto boxes = ListBoxes(state_.path());
  ASSERT_TRUE(boxes) << boxes.error().ToString();
  int counts[4] = {};
  for (const auto& b : *boxes) {
    ++counts[static_cast<int>(b.status)];
    auto deleted = Silk({"box", "delete", "--force", b.name});
    ASSERT_EQ(deleted.status, 0) << b.name << ": " << deleted.err;
    for (const auto& c : b.cgroups) EXPECT_NE(access(c.c_str(), F_OK), 0) << c << " left";
    EXPECT_NE(access(b.state_dir.c_str(), F_OK), 0) << b.state_dir << " left";
  }
  // A dead supervisor makes a lost box; a dead CLI never does (its supervisor goes on).
  EXPECT_EQ(counts[static_cast<int>(BoxStatus::kLost)], supervisors_killed);
  // What a death left half-made (a transient directory) goes with the sweep.
  ASSERT_EQ(Silk({"box", "sweep"}).status, 0);
  printf(
      "40 creates, 20 CLIs and %d supervisors SIGKILLed: %zu boxes (%d created, %d running, "
      "%d exited, %d lost), all deleted\n",
      supervisors_killed, boxes->size(), counts[0], counts[1], counts[2], counts[3]);
}

}  // namespace
}  // namespace silk::compat
