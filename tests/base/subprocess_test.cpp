// base/subprocess: against the real kernel. Exit status, death by signal, the shell's
// 126/127, timeouts that kill and reap, a destructor that leaves no zombie (checked in
// /proc), both output pipes beyond the pipe buffer at once, fd hygiene, the child's own
// environment and PATH, signal state, stdio kinds, and spawning from several threads.
#include "base/subprocess.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Result<CapturedOutput> Sh(const std::string& script, SpawnOptions o = {}) {
  o.argv = {"/bin/sh", "-c", script};
  return RunAndCapture(o, Clock::now() + std::chrono::seconds(60));
}

bool ProcessExists(pid_t pid) {
  return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0;
}

// The state letter of /proc/PID/stat ('Z' for a zombie), or 0 if there is no such process.
char ProcessState(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  size_t paren = stat->rfind(')');
  return paren + 2 < stat->size() ? (*stat)[paren + 2] : 0;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/silk-subprocess-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ChildProcess, ExitStatusPassesThrough) {
  auto r = Sh("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status.code, 3);
  EXPECT_EQ(r->status.signal, 0);
  EXPECT_EQ(r->status.ShellStatus(), 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->status.Describe(), "exit status 3");
}

TEST(ChildProcess, DeathBySignalIsTheSignal) {
  auto r = Sh("kill -TERM $$; sleep 5");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status.signal, SIGTERM);
  EXPECT_FALSE(r->status.exited());
  EXPECT_EQ(r->status.ShellStatus(), 128 + SIGTERM);
  EXPECT_NE(r->status.Describe().find("signal 15"), std::string::npos) << r->status.Describe();
}

TEST(ChildProcess, MissingProgramIsNotFound127) {
  SpawnOptions o;
  o.argv = {"silk-no-such-program-anywhere"};
  auto c = ChildProcess::Spawn(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound) << c.error().ToString();
  EXPECT_EQ(c.error().sys_errno(), ENOENT);
  EXPECT_NE(c.error().message().find("silk-no-such-program-anywhere"), std::string::npos);
  EXPECT_NE(c.error().message().find("PATH="), std::string::npos) << c.error().message();
  EXPECT_EQ(ShellStatusForSpawnError(c.error()), kShellNotFound);

  o.argv = {"/no/such/dir/tool"};
  c = ChildProcess::Spawn(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ShellStatusForSpawnError(c.error()), 127);
}

TEST(ChildProcess, FoundButNotExecutableIs126) {
  TempDir dir;
  std::string script = dir.path() + "/not-executable";
  ASSERT_TRUE(WriteFileAtomic(script, "#!/bin/sh\nexit 0\n", 0644));
  SpawnOptions o;
  o.argv = {script};
  auto c = ChildProcess::Spawn(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kDenied) << c.error().ToString();
  EXPECT_EQ(c.error().sys_errno(), EACCES);
  EXPECT_EQ(ShellStatusForSpawnError(c.error()), kShellCannotExecute);
  // Found in PATH but not executable: EACCES too, as execvp(3) reports it.
  o.argv = {"not-executable"};
  o.set_env = {{"PATH", dir.path()}};
  c = ChildProcess::Spawn(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().sys_errno(), EACCES) << c.error().ToString();
  EXPECT_EQ(ShellStatusForSpawnError(c.error()), 126);
}

TEST(ChildProcess, TimeoutKillsAndReaps) {
  SpawnOptions o;
  o.argv = {"/bin/sleep", "30"};
  o.out = Stdio::Pipe();
  o.err = Stdio::Pipe();
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c) << c.error().ToString();
  pid_t pid = c->pid();
  EXPECT_EQ(ProcessState(pid) == 0, false);
  auto r = c->Capture(Clock::now() + milliseconds(200));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout) << r.error().ToString();
  EXPECT_NE(r.error().message().find("/bin/sleep"), std::string::npos) << r.error().message();
  EXPECT_FALSE(ProcessExists(pid))
      << "timed-out child " << pid << " was left (state " << ProcessState(pid) << ")";
}

TEST(ChildProcess, WaitTimeoutLeavesItRunningUntilKill) {
  SpawnOptions o;
  o.argv = {"/bin/sleep", "30"};
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c) << c.error().ToString();
  auto w = c->Wait(Clock::now() + milliseconds(50));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(ProcessState(c->pid()), 'S');
  pid_t pid = c->pid();
  auto k = c->Kill();
  ASSERT_TRUE(k) << k.error().ToString();
  EXPECT_EQ(k->signal, SIGKILL);
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(ChildProcess, DestructorKillsAndReapsARunningChild) {
  pid_t pid;
  {
    SpawnOptions o;
    o.argv = {"/bin/sleep", "30"};
    auto c = ChildProcess::Spawn(o);
    ASSERT_TRUE(c) << c.error().ToString();
    pid = c->pid();
    ASSERT_TRUE(ProcessExists(pid));
  }
  EXPECT_FALSE(ProcessExists(pid))
      << "child " << pid << " outlived its ChildProcess (state " << ProcessState(pid) << ")";
}

TEST(ChildProcess, DestructorReapsAnExitedChildNoZombie) {
  pid_t pid;
  {
    SpawnOptions o;
    o.argv = {"/bin/true"};
    auto c = ChildProcess::Spawn(o);
    ASSERT_TRUE(c) << c.error().ToString();
    pid = c->pid();
    // Wait for the exit without reaping: the pidfd polls readable once it has exited.
    pollfd pfd{c->pidfd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    EXPECT_EQ(ProcessState(pid), 'Z');
  }
  EXPECT_FALSE(ProcessExists(pid)) << "zombie " << pid << " left behind";
}

TEST(ChildProcess, MovedFromOwnsNothingMovedToOwnsTheChild) {
  SpawnOptions o;
  o.argv = {"/bin/sleep", "30"};
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c);
  pid_t pid = c->pid();
  ChildProcess moved = std::move(*c);
  c = Fail(ErrorCode::kInternal, "gone");  // destroys the moved-from object
  EXPECT_TRUE(ProcessExists(pid));
  EXPECT_EQ(moved.pid(), pid);
  moved = std::move(moved);
  auto k = moved.Kill();
  ASSERT_TRUE(k);
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(ChildProcess, LargeStdoutAndStderrTogetherDoNotDeadlock) {
  // 4 MiB on stderr first, then 4 MiB on stdout: both far beyond the 64 KiB pipe buffer;
  // a reader that waited on stdout first would deadlock with the child.
  auto r = Sh("head -c 4194304 /dev/zero | tr '\\0' e >&2; head -c 4194304 /dev/zero | tr '\\0' o");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->status.success());
  EXPECT_EQ(r->out.size(), 4194304u);
  EXPECT_EQ(r->err.size(), 4194304u);
  EXPECT_EQ(r->out.find_first_not_of('o'), std::string::npos);
  EXPECT_EQ(r->err.find_first_not_of('e'), std::string::npos);
  EXPECT_FALSE(r->truncated);
}

TEST(ChildProcess, CaptureKeepsAtMostMaxBytesAndDrainsTheRest) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "head -c 1000000 /dev/zero"};
  o.out = Stdio::Pipe();
  o.err = Stdio::Pipe();
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c);
  auto r = c->Capture(Clock::now() + std::chrono::seconds(60), 1000);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->status.success());
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_TRUE(r->truncated);
}

TEST(ChildProcess, FailingSinkKillsAndReapsTheChild) {
  SpawnOptions o;
  o.argv = {"/usr/bin/yes"};
  o.out = Stdio::Pipe();
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c);
  pid_t pid = c->pid();
  auto r = c->Stream(
      [](std::string_view) -> Result<void> { return Fail(ErrorCode::kSystem, "peer went away"); },
      nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "peer went away");
  EXPECT_FALSE(ProcessExists(pid)) << "the child kept running after its output had nowhere to go";
}

TEST(ChildProcess, ChildSeesOnlyItsStdioAndTheFdsItWasGiven) {
  // A descriptor without O_CLOEXEC, as a library might leave one.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  // dash opens nothing of its own for -c: what it lists in /proc/$$/fd is what it got.
  auto r = Sh("ls /proc/$$/fd");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(Split(Trim(r->out), '\n'), (std::vector<std::string>{"0", "1", "2"})) << r->out;

  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  SpawnOptions o;
  o.extra_fds = {{p[1], 7}};
  auto r2 = Sh("ls /proc/$$/fd; echo via-fd-7 >&7", o);
  ::close(p[1]);
  ASSERT_TRUE(r2) << r2.error().ToString();
  EXPECT_EQ(Split(Trim(r2->out), '\n'), (std::vector<std::string>{"0", "1", "2", "7"})) << r2->out;
  char buf[64] = {};
  ASSERT_GT(::read(p[0], buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "via-fd-7\n");
  ::close(p[0]);
  ::close(leaky);
}

TEST(ChildProcess, EnvironmentAndPathAreTheChildsOnly) {
  TempDir dir;
  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/silk-only-here", "#!/bin/sh\necho found:$FOO\n", 0755));
  const char* parent_path = ::getenv("PATH");
  std::string before = parent_path ? parent_path : "";
  ASSERT_EQ(::setenv("SILK_PARENT_ONLY", "1", 1), 0);

  SpawnOptions o;
  o.argv = {"silk-only-here"};
  o.set_env = {{"PATH", dir.path() + ":/usr/bin:/bin"}, {"FOO", "bar"}};
  auto r = RunAndCapture(o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->out, "found:bar\n");
  // The parent's environment did not change.
  EXPECT_EQ(::getenv("FOO"), nullptr);
  EXPECT_EQ(std::string(::getenv("PATH") ? ::getenv("PATH") : ""), before);

  // unset and clear.
  auto r2 = Sh("echo ${SILK_PARENT_ONLY:-unset}", SpawnOptions{});
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->out, "1\n");
  SpawnOptions u;
  u.unset_env = {"SILK_PARENT_ONLY"};
  r2 = Sh("echo ${SILK_PARENT_ONLY:-unset}", u);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->out, "unset\n");
  SpawnOptions clear;
  clear.clear_env = true;
  clear.argv = {"/usr/bin/env"};
  auto r3 = RunAndCapture(clear);
  ASSERT_TRUE(r3) << r3.error().ToString();
  EXPECT_EQ(r3->out, "");
  // No PATH in the child's environment: the default search path, not the parent's.
  clear.argv = {"env"};
  r3 = RunAndCapture(clear);
  ASSERT_TRUE(r3) << r3.error().ToString();
  ::unsetenv("SILK_PARENT_ONLY");
}

TEST(ChildProcess, SignalStateStartsAtDefaults) {
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  SpawnOptions o;
  o.argv = {"/bin/cat", "/proc/self/status"};
  auto r = RunAndCapture(o);
  ::signal(SIGPIPE, old_pipe);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_NE(r->out.find("SigBlk:\t0000000000000000\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("SigIgn:\t0000000000000000\n"), std::string::npos) << r->out;
}

TEST(ChildProcess, StdioKindsAndWorkingDirectory) {
  TempDir dir;
  std::string file = dir.path() + "/out.txt";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "pwd; cat"};  // stdin is /dev/null by default: cat ends at once
  o.cwd = dir.path();
  o.out = Stdio::Fd(fd);
  auto c = ChildProcess::Spawn(o);
  ASSERT_TRUE(c) << c.error().ToString();
  auto st = c->Wait(Clock::now() + std::chrono::seconds(30));
  ::close(fd);
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_TRUE(st->success());
  EXPECT_EQ(ReadFile(file).value_or(""), dir.path() + "\n");

  // A stdin pipe: the parent writes, the child reads.
  SpawnOptions p;
  p.argv = {"/bin/cat"};
  p.in = Stdio::Pipe();
  p.out = Stdio::Pipe();
  auto cat = ChildProcess::Spawn(p);
  ASSERT_TRUE(cat);
  ASSERT_EQ(::write(cat->stdin_pipe().get(), "ping\n", 5), 5);
  cat->stdin_pipe().Reset();
  auto got = cat->Capture(Clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->out, "ping\n");

  o.cwd = dir.path() + "/no-such-dir";
  o.out = Stdio::Null();
  auto bad = ChildProcess::Spawn(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(bad.error().sys_errno(), ENOENT);
  EXPECT_NE(bad.error().message().find("no-such-dir"), std::string::npos);
  EXPECT_EQ(ShellStatusForSpawnError(bad.error()), std::nullopt);
}

TEST(ChildProcess, BadRequestsAreRefusedBeforeAnythingRuns) {
  SpawnOptions o;
  EXPECT_EQ(ChildProcess::Spawn(o).error().code(), ErrorCode::kInvalidInput);
  o.argv = {"/bin/true"};
  o.extra_fds = {{0, 1}};
  EXPECT_EQ(ChildProcess::Spawn(o).error().code(), ErrorCode::kInvalidInput);
  o.extra_fds = {{0, 5}, {1, 5}};
  EXPECT_EQ(ChildProcess::Spawn(o).error().code(), ErrorCode::kInvalidInput);
  o.extra_fds.clear();
  o.argv = {"/bin/echo", std::string("a\0b", 3)};
  EXPECT_EQ(ChildProcess::Spawn(o).error().code(), ErrorCode::kInvalidInput);
}

TEST(ChildProcess, SpawnsFromManyThreadsAtOnce) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&ok, t] {
      for (int i = 0; i < 25; ++i) {
        SpawnOptions o;
        o.argv = {"/bin/sh", "-c", "exit " + std::to_string((t * 25 + i) % 7)};
        auto r = RunAndCapture(o, Clock::now() + std::chrono::seconds(60));
        if (r && r->status.code == (t * 25 + i) % 7) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 100);
}

}  // namespace
}  // namespace silk
