// `silk box exec` (issue 11), through the real binary: the process enters the same box
// (mount, pid, uts, user namespaces; its cgroups), with no capabilities, no_new_privs,
// the box's seccomp filter (its denials counted by the box's supervisor), no descriptor
// but its stdio; stdin, exit status and signals pass through; exec into a box that does
// not run is a clear error; a killed CLI leaves no process behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/subprocess.hpp"
#include "compat/box_exec.hpp"
#include "compat/box_lifecycle.hpp"
#include "tests/common/silk_cli.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using silk::testing::CliRun;

class BoxExecTest : public testing::RootBoxTest {
 protected:
  std::vector<std::string> Argv(std::vector<std::string> args) {
    args.insert(args.begin() + 2, {"--state-dir", state_.path()});
    args.insert(args.begin(), std::string(SILK_BINARY_DIR) + "/cli/silk");
    return args;
  }
  CliRun Silk(std::vector<std::string> args) {
    args.insert(args.begin() + 2, {"--state-dir", state_.path()});
    return silk::testing::RunSilk(args, std::chrono::minutes(2));
  }
  // A running box whose command marks its /tmp and waits.
  void StartBox(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"box", "create", "--start", name, "--hostname", "inbox"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "/bin/sh", "-c", "echo marked > /tmp/mark; exec sleep 1000"});
    auto r = Silk(args);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void TearDown() override {
    for (const auto& n : names_) (void)Silk({"box", "delete", "--force", n});
    RootBoxTest::TearDown();
  }
  std::vector<std::string> names_;
};

TEST_F(BoxExecTest, EntersTheSameBoxWithNothingMore) {
  names_ = {"web"};
  StartBox("web");
  auto r = Silk({"box", "exec", "web", "--", "/bin/sh", "-c",
                 "cat /tmp/mark; hostname; echo ppid=$PPID; "
                 "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
                 "cat /proc/self/uid_map; ls /proc/self/fd; echo CG; cat /proc/self/cgroup"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("marked\n"), std::string::npos) << "the box's own /tmp: " << r.out;
  EXPECT_NE(r.out.find("inbox\n"), std::string::npos) << "the box's hostname: " << r.out;
  // Born in the box's pid namespace: its parent (the supervisor) is outside it.
  EXPECT_NE(r.out.find("ppid=0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapPrm:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapBnd:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  // The box's user namespace (the init's map), not the host's identity map.
  auto init_map = ReadFile(
      "/proc/" +
      std::to_string(
          nlohmann::json::parse(Silk({"box", "state", "web", "--json"}).out).value("init_pid", 0)) +
      "/uid_map");
  ASSERT_TRUE(init_map);
  EXPECT_NE(r.out.find(*init_map), std::string::npos) << r.out << " vs " << *init_map;
  EXPECT_EQ(r.out.find("         0          0 4294967295"), std::string::npos) << r.out;
  // Only stdin, stdout, stderr (and ls's own directory fd): nothing of the supervisor.
  EXPECT_NE(r.out.find("0\n1\n2\n3\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("0\n1\n2\n3\n4\n"), std::string::npos) << r.out;
  // In the box's cgroup namespace and cgroups: every hierarchy says "/".
  const auto cg = r.out.find("CG\n");
  ASSERT_NE(cg, std::string::npos) << r.out;
  int hierarchies = 0;
  for (const auto& line : Split(r.out.substr(cg + 3), '\n')) {
    if (line.empty()) continue;
    ++hierarchies;
    EXPECT_EQ(line.substr(line.rfind(':')), ":/") << line;
  }
  EXPECT_GT(hierarchies, 0);
}

TEST_F(BoxExecTest, StdinExitStatusAndExecFailuresPassThrough) {
  names_ = {"io"};
  StartBox("io");
  SpawnOptions o;
  o.argv = Argv({"box", "exec", "io", "--", "/bin/sh", "-c", "tr a-z A-Z; exit 7"});
  o.in = Stdio::Pipe();
  o.out = Stdio::Pipe();
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child) << child.error().ToString();
  const std::string input = "hello exec\n";
  ASSERT_EQ(write(child->stdin_pipe().get(), input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  child->stdin_pipe().Reset();
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(child->stdout_pipe().get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  auto st = child->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->ShellStatus(), 7);
  EXPECT_EQ(out, "HELLO EXEC\n");

  auto missing = Silk({"box", "exec", "io", "--", "no-such-command"});
  EXPECT_EQ(missing.status, 127) << missing.err;
  EXPECT_NE(missing.err.find("command not found in the box"), std::string::npos) << missing.err;
  auto env = Silk({"box", "exec", "io", "--env", "GREETING=hi", "--cwd", "/tmp", "--", "/bin/sh",
                   "-c", "echo $GREETING; pwd"});
  EXPECT_EQ(env.status, 0) << env.err;
  EXPECT_EQ(env.out, "hi\n/tmp\n");
  auto killed = Silk({"box", "exec", "io", "--", "/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.status, 128 + SIGTERM) << killed.err;
}

TEST_F(BoxExecTest, DashTGivesTheCommandATerminal) {
  names_ = {"tty"};
  StartBox("tty");
  auto on = Silk({"box", "exec", "-t", "tty", "--", "/bin/sh", "-c",
                  "test -t 0 && test -t 1 && test -t 2 && echo on-a-tty"});
  EXPECT_EQ(on.status, 0) << on.err;
  EXPECT_EQ(on.out, "on-a-tty\r\n") << "one terminal for the three, with its line discipline";

  // An interactive shell reads its commands from the terminal.
  SpawnOptions o;
  o.argv = Argv({"box", "exec", "-t", "tty", "--", "/bin/sh"});
  o.in = Stdio::Pipe();
  o.out = Stdio::Pipe();
  auto sh = ChildProcess::Spawn(o);
  ASSERT_TRUE(sh) << sh.error().ToString();
  const std::string input = "echo hi from the box\nexit 3\n";
  ASSERT_EQ(write(sh->stdin_pipe().get(), input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(sh->stdout_pipe().get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  auto st = sh->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->ShellStatus(), 3) << out;
  EXPECT_NE(out.find("hi from the box\r\n"), std::string::npos) << out;

  // The size the caller gives is the terminal's.
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int mem = memfd_create("tty-out", MFD_CLOEXEC);
  ExecRequest req;
  req.argv = {"stty", "size"};
  req.tty = true;
  req.rows = 33;
  req.cols = 101;
  const int stdio[3] = {null, mem, mem};
  auto size = ExecInBox(state_.path(), "tty", req, stdio);
  ASSERT_TRUE(size) << size.error().ToString();
  EXPECT_EQ(size->exit_status, 0);
  std::string got(64, '\0');
  got.resize(static_cast<size_t>(std::max<ssize_t>(0, pread(mem, got.data(), got.size(), 0))));
  EXPECT_EQ(got, "33 101\r\n");
  close(null);
  close(mem);
}

TEST_F(BoxExecTest, TheBoxFilterHoldsAndItsSupervisorCountsTheDenials) {
  names_ = {"deny"};
  StartBox("deny", {"--report-denials"});
  auto before = QuerySupervisor(state_.path(), "deny");
  ASSERT_TRUE(before) << before.error().ToString();
  // bpf() is not in a box's profile: EPERM, reported to the box's supervisor.
  auto r = Silk({"box", "exec", "deny", "--", "python3", "-c",
                 "import ctypes, platform\n"
                 "nr = {'x86_64': 321, 'aarch64': 280}[platform.machine()]\n"
                 "r = ctypes.CDLL(None, use_errno=True).syscall(nr, 0, 0, 0)\n"
                 "print(r, ctypes.get_errno())"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "-1 1\n") << "bpf() answered EPERM by the box's filter";
  auto after = QuerySupervisor(state_.path(), "deny");
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_GT(after->denied_syscalls, before->denied_syscalls)
      << "the exec's denial reached the box's supervisor";
  EXPECT_EQ(after->execs, 0u);
}

TEST_F(BoxExecTest, ExecIntoABoxThatDoesNotRunIsAClearError) {
  names_ = {"made", "ended"};
  ASSERT_EQ(Silk({"box", "create", "made", "--", "/bin/true"}).status, 0);
  auto created = Silk({"box", "exec", "made", "--", "/bin/true"});
  EXPECT_EQ(created.status, 1);
  EXPECT_NE(created.err.find("box made is created"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("silk box start made"), std::string::npos) << created.err;

  ASSERT_EQ(Silk({"box", "create", "--start", "ended", "--", "/bin/true"}).status, 0);
  ASSERT_TRUE(WaitForBox(
      state_.path(), "ended", [](const BoxRecord& b) { return b.status == BoxStatus::kExited; },
      std::chrono::seconds(30)));
  auto ended = Silk({"box", "exec", "ended", "--", "/bin/true"});
  EXPECT_EQ(ended.status, 1);
  EXPECT_NE(ended.err.find("box ended is exited"), std::string::npos) << ended.err;

  auto unknown = Silk({"box", "exec", "nobody", "--", "/bin/true"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no box named 'nobody'"), std::string::npos) << unknown.err;
  auto nocmd = Silk({"box", "exec", "made"});
  EXPECT_EQ(nocmd.status, 2);
  EXPECT_NE(nocmd.err.find("after '--'"), std::string::npos) << nocmd.err;
}

TEST_F(BoxExecTest, SignalsPassOnAndAKilledClientLeavesNothing) {
  names_ = {"sig"};
  StartBox("sig");
  SpawnOptions o;
  o.argv = Argv({"box", "exec", "sig", "--", "/bin/sh", "-c",
                 "trap 'exit 9' TERM; echo ready; while :; do sleep 0.05; done"});
  o.out = Stdio::Pipe();
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child) << child.error().ToString();
  char buf[16] = {};
  ASSERT_GT(read(child->stdout_pipe().get(), buf, sizeof buf), 0) << "the command runs";
  ASSERT_TRUE(child->Signal(SIGTERM));
  auto st = child->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->ShellStatus(), 9) << "SIGTERM reached the command's trap";

  // SIGKILL of the client: the supervisor ends what it started.
  o.argv = Argv({"box", "exec", "sig", "--", "/bin/sh", "-c", "echo ready; exec sleep 1000"});
  auto victim = ChildProcess::Spawn(o);
  ASSERT_TRUE(victim) << victim.error().ToString();
  ASSERT_GT(read(victim->stdout_pipe().get(), buf, sizeof buf), 0);
  ASSERT_TRUE(victim->Signal(SIGKILL));
  (void)victim->Wait();
  std::string left;
  for (int i = 0; i < 100; ++i) {
    auto ps = Silk({"box", "exec", "sig", "--", "/bin/sh", "-c",
                    "for p in /proc/[0-9]*; do cat $p/comm; done"});
    left = ps.out;
    // init, the box's sleep, and the sh listing (its cats come after the glob).
    if (std::count(left.begin(), left.end(), '\n') <= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left.find("sleep\nsleep"), std::string::npos) << left;
  EXPECT_EQ(std::count(left.begin(), left.end(), '\n'), 3) << left;
}

// `silk box stats` counts what the box's supervisor denied, its execs included, and the
// use of the box's --disk volume.
TEST_F(BoxExecTest, StatsCountTheSupervisorsDenialsAndTheVolume) {
  names_ = {"counted"};
  testing::TempStateRoot volumes;
  StartBox("counted", {"--report-denials", "--disk", "32M", "--volume-dir", volumes.path()});
  auto exec = Silk({"box", "exec", "counted", "--", "/bin/sh", "-c",
                    "dd if=/dev/zero of=/data/f bs=1M count=8 2>/dev/null; sync; "
                    "python3 -c \"import ctypes, platform; ctypes.CDLL(None).syscall("
                    "{'x86_64': 321, 'aarch64': 280}[platform.machine()], 0, 0, 0)\""});
  ASSERT_EQ(exec.status, 0) << exec.err;
  auto stats = Silk({"box", "stats", "counted", "--json"});
  ASSERT_EQ(stats.status, 0) << stats.err;
  auto j = nlohmann::json::parse(stats.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << stats.out;
  EXPECT_GE(j.value("denied_syscalls", 0), 1) << stats.out;
  EXPECT_EQ(j["disk"].value("max", uint64_t{0}), uint64_t{32} << 20) << stats.out;
  EXPECT_GE(j["disk"].value("used", uint64_t{0}), uint64_t{8} << 20) << stats.out;
  EXPECT_LE(j["disk"].value("used", uint64_t{0}), uint64_t{32} << 20) << stats.out;
  ASSERT_EQ(Silk({"box", "delete", "--force", "counted"}).status, 0);
  names_.clear();
}

// Whether `pid` is a process that has not exited (a zombie has).
bool Alive(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  const size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

// SIGKILL of the supervisor at random points of an exec, 20 times: the exec's client
// ends with an error, `list` says lost, and `delete` leaves no process and no cgroup.
TEST_F(BoxExecTest, SupervisorKilledDuringExecLeavesALostBoxThatDeleteReclaims) {
  std::mt19937 rng(20261206);
  for (int i = 0; i < 20; ++i) {
    const std::string name = "fault" + std::to_string(i);
    names_ = {name};
    StartBox(name);
    auto state = nlohmann::json::parse(Silk({"box", "state", name, "--json"}).out);
    const pid_t supervisor = state.value("supervisor_pid", 0);
    ASSERT_GT(supervisor, 0);
    std::vector<std::string> cgroups;
    for (const auto& c : state.value("cgroups", nlohmann::json::array())) cgroups.push_back(c);
    SpawnOptions o;
    o.argv = Argv({"box", "exec", name, "--", "/bin/sh", "-c", "exec sleep 1000"});
    auto client = ChildProcess::Spawn(o);
    ASSERT_TRUE(client) << client.error().ToString();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    // Every process of the box now (the exec's, if it has started).
    std::vector<pid_t> pids;
    for (const auto& c : cgroups)
      for (const auto& p : Split(ReadFile(c + "/cgroup.procs").value_or(""), '\n'))
        if (!p.empty()) pids.push_back(std::stoi(p));
    ASSERT_EQ(kill(supervisor, SIGKILL), 0);
    auto st = client->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(30));
    ASSERT_TRUE(st) << "the client must not hang on a dead supervisor";
    EXPECT_NE(st->ShellStatus(), 0) << "iteration " << i;
    auto lost = WaitForBox(
        state_.path(), name, [](const BoxRecord& b) { return b.status == BoxStatus::kLost; },
        std::chrono::seconds(10));
    ASSERT_TRUE(lost) << lost.error().ToString();
    auto deleted = Silk({"box", "delete", name});
    ASSERT_EQ(deleted.status, 0) << deleted.err;
    for (const auto& c : cgroups) EXPECT_NE(access(c.c_str(), F_OK), 0) << c << " left";
    // Killed with the box: gone, or a zombie whose parent (the dead supervisor) left it
    // to the host's init to reap, which holds nothing but its pid.
    for (pid_t p : pids) {
      for (int k = 0; k < 200 && Alive(p); ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_FALSE(Alive(p)) << "process " << p << " of box " << name << " left";
    }
    names_.clear();
  }
}

}  // namespace
}  // namespace silk::compat
