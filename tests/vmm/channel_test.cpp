// The control-channel protocol, and the real agent serving a real host client over a
// socketpair (the transport differs from virtio-serial; the protocol and the command
// execution are the same code that runs in the guest).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/subprocess.hpp"
#include "vmm/agent.hpp"
#include "vmm/agent_client.hpp"
#include "vmm/channel.hpp"

namespace silk::vmm {
namespace {

using Clock = std::chrono::steady_clock;

TEST(Frames, RoundTripInPieces) {
  std::string bytes =
      *EncodeFrame(FrameType::kStdout, "hello") + *EncodeFrame(FrameType::kExit, "{}");
  FrameDecoder d;
  Frame f;
  for (size_t i = 0; i < bytes.size(); ++i) {
    d.Feed(&bytes[i], 1);
    if (i + 1 < 10) {
      EXPECT_FALSE(*d.Next(&f));
    }
  }
  ASSERT_TRUE(*d.Next(&f));
  EXPECT_EQ(f.type, FrameType::kStdout);
  EXPECT_EQ(f.payload, "hello");
  ASSERT_TRUE(*d.Next(&f));
  EXPECT_EQ(f.type, FrameType::kExit);
  EXPECT_EQ(f.payload, "{}");
  EXPECT_FALSE(*d.Next(&f));
}

TEST(Frames, BinaryPayloadSurvives) {
  std::string payload("\0\xff\n\x01", 4);
  FrameDecoder d;
  std::string bytes = *EncodeFrame(FrameType::kStderr, payload);
  d.Feed(bytes.data(), bytes.size());
  Frame f;
  ASSERT_TRUE(*d.Next(&f));
  EXPECT_EQ(f.payload, payload);
}

TEST(Frames, CorruptStreamsAreRefused) {
  FrameDecoder zero;
  zero.Feed("\0\0\0\0", 4);
  Frame f;
  EXPECT_FALSE(zero.Next(&f));
  FrameDecoder huge;
  huge.Feed("\x7f\0\0\0", 4);
  EXPECT_FALSE(huge.Next(&f));
  FrameDecoder unknown;
  unknown.Feed("\0\0\0\x01Z", 5);
  auto r = unknown.Next(&f);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown frame type"), std::string::npos);
  EXPECT_FALSE(EncodeFrame(FrameType::kStdout, std::string(kMaxFrame, 'x')));
}

TEST(FramedChannel, ReceiveTimesOutAndSeesHangup) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  FramedChannel a{UniqueFd(sv[0])};
  UniqueFd b(sv[1]);
  auto start = Clock::now();
  auto r = a.Receive(start + std::chrono::milliseconds(100));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));
  b.Reset();
  auto gone = a.Receive(Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().sys_errno(), ECONNRESET);
}

// An agent on one end of a socketpair, the host client on the other.
class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    host_fd_ = UniqueFd(sv[0]);
    agent_ = std::thread([fd = sv[1], this] {
      FramedChannel ch{UniqueFd(fd)};
      agent_result_ = ServeAgent(ch);
    });
  }
  void TearDown() override {
    client_.reset();  // closing the host side ends the agent
    host_fd_.Reset();
    if (agent_.joinable()) agent_.join();
  }
  Result<int> Run(std::vector<std::string> argv, std::string* out, std::string* err,
                  int stdin_fd = -1) {
    AgentClient& c = Client();
    AgentCommand cmd;
    cmd.argv = std::move(argv);
    cmd.stdin_fd = stdin_fd;
    return c.Run(
        cmd, [out](std::string_view d) { out->append(d); },
        [err](std::string_view d) { err->append(d); }, Clock::now() + std::chrono::seconds(20));
  }
  AgentClient& Client() {
    if (!client_) {
      FramedChannel ch{std::move(host_fd_)};
      auto hello = ch.Receive(Clock::now() + std::chrono::seconds(5));
      EXPECT_TRUE(hello && hello->type == FrameType::kHello);
      client_.emplace(std::move(ch));
    }
    return *client_;
  }

  UniqueFd host_fd_;
  std::thread agent_;
  Result<void> agent_result_;
  std::optional<AgentClient> client_;
};

TEST_F(AgentTest, RunsCommandsAndStreamsBothOutputs) {
  std::string out, err;
  auto status = Run({"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 7"}, &out, &err);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 7);
  EXPECT_EQ(out, "to-out\n");
  EXPECT_EQ(err, "to-err\n");
  // The agent serves a second command on the same channel.
  out.clear();
  err.clear();
  status = Run({"echo", "again"}, &out, &err);  // found through PATH
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(out, "again\n");
  EXPECT_TRUE(Client().Ping(Clock::now() + std::chrono::seconds(5)));
  client_.reset();
  agent_.join();
  EXPECT_FALSE(agent_result_) << "the agent ends when the host side goes away";
}

TEST_F(AgentTest, LargeOutputArrivesWhole) {
  std::string out, err;
  auto status = Run({"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"}, &out, &err);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(out.size(), 300000u);
  EXPECT_EQ(out.find_first_not_of('x'), std::string::npos);
}

TEST_F(AgentTest, SignalledCommandIs128PlusSignal) {
  std::string out, err;
  auto status = Run({"/bin/sh", "-c", "kill -9 $$"}, &out, &err);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 128 + 9);
}

TEST_F(AgentTest, MissingCommandIsAnErrorNamingIt) {
  std::string out, err;
  auto status = Run({"/no/such/command-xyz"}, &out, &err);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message().find("/no/such/command-xyz"), std::string::npos)
      << status.error().message();
}

TEST_F(AgentTest, NotFoundAndNotExecutableCarryTheShellsClass) {
  std::string out, err;
  auto missing = Run({"silk-no-such-command-xyz"}, &out, &err);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().ToString();
  EXPECT_EQ(ShellStatusForSpawnError(missing.error()), 127);
  std::string plain = "/tmp/silk-agent-test-not-executable-" + std::to_string(::getpid());
  std::ofstream(plain) << "#!/bin/sh\n";
  ASSERT_EQ(::chmod(plain.c_str(), 0644), 0);
  auto not_exec = Run({plain}, &out, &err);
  ::unlink(plain.c_str());
  ASSERT_FALSE(not_exec);
  EXPECT_EQ(not_exec.error().code(), ErrorCode::kDenied) << not_exec.error().ToString();
  EXPECT_EQ(ShellStatusForSpawnError(not_exec.error()), 126);
  // The agent serves on.
  auto ok = Run({"/bin/true"}, &out, &err);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(*ok, 0);
}

// The host goes away while a command streams: the agent's send fails, and the command
// must not be left running (or unreaped) behind it.
TEST_F(AgentTest, HostGoingAwayMidStreamKillsAndReapsTheCommand) {
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);  // the agent's write to the closed socket
  pid_t pid = 0;
  {
    FramedChannel ch{std::move(host_fd_)};
    auto hello = ch.Receive(Clock::now() + std::chrono::seconds(5));
    ASSERT_TRUE(hello && hello->type == FrameType::kHello);
    ASSERT_TRUE(ch.Send(FrameType::kRun, R"({"argv": ["/bin/sh", "-c", "echo $$; exec yes"]})"));
    std::string out;
    while (out.find('\n') == std::string::npos) {
      auto f = ch.Receive(Clock::now() + std::chrono::seconds(10));
      ASSERT_TRUE(f) << f.error().ToString();
      if (f->type == FrameType::kStdout) out += f->payload;
    }
    pid = std::stoi(out.substr(0, out.find('\n')));
    ASSERT_EQ(::access(("/proc/" + std::to_string(pid)).c_str(), F_OK), 0);
  }  // the host side closes
  agent_.join();
  ::signal(SIGPIPE, old_pipe);
  EXPECT_FALSE(agent_result_) << "the agent ends when the host side goes away";
  EXPECT_NE(::access(("/proc/" + std::to_string(pid)).c_str(), F_OK), 0)
      << "the command " << pid << " outlived the failed send";
}

// stdin: the host's bytes reach the command, end of file closes its stdin.
TEST_F(AgentTest, StdinIsForwardedAndEndOfFileClosesIt) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd read_end(p[0]), write_end(p[1]);
  ASSERT_EQ(::write(write_end.get(), "x\ny\n", 4), 4);
  write_end.Reset();
  std::string out, err;
  auto status = Run({"cat"}, &out, &err, read_end.get());
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(out, "x\ny\n");
  // Without a stdin fd the command reads /dev/null, as before.
  out.clear();
  status = Run({"cat"}, &out, &err);
  ASSERT_TRUE(status);
  EXPECT_EQ(out, "");
}

// 8 MiB in while cat writes the same 8 MiB out: neither side waits for the other.
TEST_F(AgentTest, LargeInputWhileTheCommandWritesDoesNotDeadlock) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd read_end(p[0]), write_end(p[1]);
  constexpr size_t kSize = 8u << 20;
  std::thread writer([fd = std::move(write_end)]() mutable {
    std::string block(65536, 'z');
    for (size_t sent = 0; sent < kSize; sent += block.size())
      if (::write(fd.get(), block.data(), block.size()) != static_cast<ssize_t>(block.size()))
        return;
  });
  std::string out, err;
  auto status = Run({"/bin/sh", "-c", "cat; echo done >&2"}, &out, &err, read_end.get());
  writer.join();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(out.size(), kSize);
  EXPECT_EQ(out.find_first_not_of('z'), std::string::npos);
  EXPECT_EQ(err, "done\n");
}

// A command that does not read stdin ends the run although stdin never ends; one that
// closes it early (head) gets EPIPE at the agent, not a dead agent.
TEST_F(AgentTest, ACommandThatIgnoresStdinIsNotHeldByIt) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd read_end(p[0]), write_end(p[1]);  // write_end stays open: no end of file
  ASSERT_EQ(::write(write_end.get(), "ignored\n", 8), 8);
  std::string out, err;
  auto start = Clock::now();
  auto status = Run({"/bin/true"}, &out, &err, read_end.get());
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  std::thread writer([fd = write_end.get()] {
    std::string block(65536, 'y');
    for (int i = 0; i < 64; ++i)
      if (::write(fd, block.data(), block.size()) < 0) return;
  });
  out.clear();
  status = Run({"head", "-c", "10"}, &out, &err, read_end.get());
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(out.size(), 10u) << out;  // "ignored\n" may still lead, unread by true
  read_end.Reset();  // the writer sees EPIPE (ignored here) instead of blocking forever
  writer.join();
  // The agent serves on.
  out.clear();
  status = Run({"echo", "still"}, &out, &err);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(out, "still\n");
}

TEST_F(AgentTest, PowerOffEndsTheAgent) {
  ASSERT_TRUE(Client().PowerOff());
  agent_.join();
  EXPECT_TRUE(agent_result_) << agent_result_.error().ToString();
}

TEST(ResolveVirtioPort, FindsThePortByNameWithoutUdev) {
  char tmpl[] = "/tmp/silk-vmm-sysfs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(::mkdir((root + "/sys").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/sys/class").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/sys/class/virtio-ports").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/sys/class/virtio-ports/vport1p1").c_str(), 0755), 0);
  std::ofstream(root + "/sys/class/virtio-ports/vport1p1/name") << "silk.control\n";
  ASSERT_EQ(::mkdir((root + "/dev").c_str(), 0755), 0);
  std::ofstream(root + "/dev/vport1p1") << "";
  auto dev = ResolveVirtioPort("/dev/virtio-ports/silk.control", 0, root + "/sys", root + "/dev");
  ASSERT_TRUE(dev) << dev.error().ToString();
  EXPECT_EQ(*dev, root + "/dev/vport1p1");
  auto missing = ResolveVirtioPort("/dev/virtio-ports/other", 100, root + "/sys", root + "/dev");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/dev/virtio-ports/other"), std::string::npos);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace silk::vmm
