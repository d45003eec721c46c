// Named VMs without booting one: the record, the name rules, and the lifecycle's reading
// of records against libvirt's in-process test driver (test:///default, whose predefined
// domain "test" runs): running, lost, stopped, stats, and bad input that changes nothing.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.hpp"
#include "vmm/agent_client.hpp"
#include "vmm/channel.hpp"
#include "vmm/domain_xml.hpp"
#include "vmm/run_dir.hpp"
#include "vmm/vm_lifecycle.hpp"
#include "vmm/vm_record.hpp"

namespace silk::vmm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kTestUri[] = "test:///default";
// The test driver's predefined running domain.
constexpr char kTestDomain[] = "test";
constexpr char kTestDomainUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

class VmStateRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/silk-vm-life-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)RemoveRunDir(root_); }

  // A record as `silk vm create` would leave it, for the test driver's domain `domain`.
  VmRecord Record(const std::string& name, VmStatus status, const std::string& uuid) {
    VmRecord r;
    r.name = name;
    r.status = status;
    r.domain = kTestDomain;
    r.uuid = uuid;
    r.uri = kTestUri;
    r.created_at = VmTimestamp();
    r.memory_mib = 128;
    r.vcpus = 1;
    r.accel = "tcg";
    r.run_dir = root_ + "/" + name;
    r.control_socket = r.run_dir + "/control.sock";
    return r;
  }
  void Write(const VmRecord& r) {
    ASSERT_EQ(::mkdir(r.run_dir.c_str(), 0711), 0);
    ASSERT_TRUE(WriteFileAtomic(r.run_dir + "/vm.json", VmRecordToJson(r)));
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }

  std::string root_;
};

TEST(VmRecord, RoundTripsAndRefusesUnknownFields) {
  VmRecord r;
  r.name = "web-1";
  r.status = VmStatus::kRunning;
  r.domain = VmDomainName("web-1");
  r.uuid = *NewUuid();
  r.bridges = {"br0"};
  r.taps = {"skabc0"};
  r.disk_bytes = 64 << 20;
  auto back = ParseVmRecord(VmRecordToJson(r), "vm.json");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->name, "web-1");
  EXPECT_EQ(back->status, VmStatus::kRunning);
  EXPECT_EQ(back->domain, "silk-vm-web-1");
  EXPECT_EQ(back->uuid, r.uuid);
  EXPECT_EQ(back->taps, r.taps);
  EXPECT_EQ(back->disk_bytes, uint64_t{64} << 20);
  auto unknown =
      ParseVmRecord(R"({"name": "a", "status": "running", "domain": "d", "pid": 1})", "vm.json");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("pid"), std::string::npos);
  auto bad_status =
      ParseVmRecord(R"({"name": "a", "status": "sleeping", "domain": "d"})", "vm.json");
  ASSERT_FALSE(bad_status);
  EXPECT_NE(bad_status.error().message().find("sleeping"), std::string::npos);
}

TEST(VmRecord, NamesAndUuids) {
  EXPECT_TRUE(ValidateVmName("a"));
  EXPECT_TRUE(ValidateVmName("node-1.slice_a"));
  for (const char* bad : {"", "-a", ".a", "a/b", "a..b", "a b"})
    EXPECT_FALSE(ValidateVmName(bad)) << bad;
  EXPECT_FALSE(ValidateVmName(std::string(49, 'a')));
  auto u = NewUuid();
  ASSERT_TRUE(u);
  EXPECT_TRUE(IsUuid(*u)) << *u;
  EXPECT_EQ((*u)[14], '4') << "version 4";
  EXPECT_NE(*u, *NewUuid());
  VmSpec spec;
  spec.name = "silk-vm-a";
  spec.kernel_path = "/k";
  spec.uuid = *u;
  auto xml = DomainXml(spec);
  ASSERT_TRUE(xml) << xml.error().ToString();
  EXPECT_NE(xml->find("<uuid>" + *u + "</uuid>"), std::string::npos) << *xml;
  spec.uuid = "not-a-uuid";
  auto bad = DomainXml(spec);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("uuid"), std::string::npos);
}

TEST_F(VmStateRoot, ARecordReadsRunningWhileItsDomainRunsAndLostWhenItIsGone) {
  Write(Record("alive", VmStatus::kRunning, kTestDomainUuid));
  Write(Record("gone", VmStatus::kRunning, *NewUuid()));
  Write(Record("done", VmStatus::kStopped, *NewUuid()));
  // Created, but no create holds its lock: the create died before the agent answered.
  Write(Record("orphan", VmStatus::kCreated, *NewUuid()));
  auto alive = ReadVm(root_, "alive");
  ASSERT_TRUE(alive) << alive.error().ToString();
  EXPECT_EQ(alive->status, VmStatus::kRunning);
  EXPECT_EQ(ReadVm(root_, "gone")->status, VmStatus::kLost);
  EXPECT_EQ(ReadVm(root_, "done")->status, VmStatus::kStopped);
  EXPECT_EQ(ReadVm(root_, "orphan")->status, VmStatus::kLost);
  auto all = ListVms(root_);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].name, "alive");
  EXPECT_EQ((*all)[0].status, VmStatus::kRunning);
  EXPECT_EQ((*all)[1].name, "done");
  EXPECT_EQ((*all)[2].status, VmStatus::kLost);
  auto none = ReadVm(root_, "nothing");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find("no VM named 'nothing'"), std::string::npos);
  EXPECT_EQ(ReadVm(root_, "../etc").error().code(), ErrorCode::kInvalidInput);
}

TEST_F(VmStateRoot, StatsComeFromLibvirt) {
  Write(Record("alive", VmStatus::kRunning, kTestDomainUuid));
  auto s = VmStatsOf(root_, "alive");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->state, "running");
  EXPECT_GT(s->numbers.size(), 0u);
  EXPECT_EQ(s->numbers.count("state.state"), 1u);
  Write(Record("done", VmStatus::kStopped, *NewUuid()));
  auto stopped = VmStatsOf(root_, "done");
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(stopped.error().message().find("stopped"), std::string::npos);
}

TEST_F(VmStateRoot, BadInputIsAClearErrorAndChangesNothing) {
  VmRecord alive = Record("alive", VmStatus::kRunning, kTestDomainUuid);
  Write(alive);
  const std::string before = *ReadFile(alive.run_dir + "/vm.json");
  // A name that exists: refused before anything is staged or booted.
  VmCreateOptions o;
  o.name = "alive";
  o.state_root = root_;
  o.uri = kTestUri;
  o.image_dir = "/nonexistent/image";
  auto again = CreateVm(o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(again.error().message().find("a VM named 'alive' exists"), std::string::npos)
      << again.error().ToString();
  EXPECT_EQ(*ReadFile(alive.run_dir + "/vm.json"), before);
  // A missing image: the name is not claimed.
  o.name = "fresh";
  auto no_image = CreateVm(o);
  ASSERT_FALSE(no_image);
  EXPECT_NE(no_image.error().ToString().find("/nonexistent/image"), std::string::npos);
  EXPECT_FALSE(Exists(root_ + "/fresh"));
  o.disk_bytes = 4096;
  auto tiny = CreateVm(o);
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.error().message().find("--disk"), std::string::npos);
  // Unknown names.
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto exec = ExecInVm(root_, "nothing", cmd, {}, nullptr, nullptr);
  ASSERT_FALSE(exec);
  EXPECT_EQ(exec.error().code(), ErrorCode::kNotFound);
  auto stop = StopVm(root_, "nothing", std::chrono::seconds(1));
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code(), ErrorCode::kNotFound);
  // Exec in a VM that does not run says what it is.
  Write(Record("done", VmStatus::kStopped, *NewUuid()));
  auto exec_stopped = ExecInVm(root_, "done", cmd, {}, nullptr, nullptr);
  ASSERT_FALSE(exec_stopped);
  EXPECT_EQ(exec_stopped.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(exec_stopped.error().message().find("is stopped"), std::string::npos);
  // Stopping a stopped VM is not an error.
  auto stop_stopped = StopVm(root_, "done", std::chrono::seconds(1));
  ASSERT_TRUE(stop_stopped) << stop_stopped.error().ToString();
  EXPECT_EQ(stop_stopped->status, VmStatus::kStopped);
  // A running VM is deleted only with force.
  auto del = DeleteVm(root_, "alive", false);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(del.error().message().find("--force"), std::string::npos);
  EXPECT_EQ(*ReadFile(alive.run_dir + "/vm.json"), before);
}

TEST_F(VmStateRoot, DeleteLeavesNothingAndASecondDeleteIsNotFound) {
  VmRecord lost = Record("lost", VmStatus::kRunning, *NewUuid());
  Write(lost);
  ASSERT_TRUE(WriteFileAtomic(lost.run_dir + "/console.log", "boot\n"));
  ASSERT_EQ(::mkdir((lost.run_dir + "/image").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(lost.run_dir + "/image/vmlinuz", "k"));
  ASSERT_EQ(::symlink("/etc/passwd", (lost.run_dir + "/link").c_str()), 0);
  auto del = DeleteVm(root_, "lost", false);
  ASSERT_TRUE(del) << del.error().ToString();
  EXPECT_FALSE(Exists(lost.run_dir));
  EXPECT_TRUE(Exists("/etc/passwd")) << "a link in the run directory was followed";
  auto second = DeleteVm(root_, "lost", false);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kNotFound);
  // --force takes a running one (the test driver's domain, in this process's driver).
  Write(Record("alive", VmStatus::kRunning, kTestDomainUuid));
  auto forced = DeleteVm(root_, "alive", true);
  ASSERT_TRUE(forced) << forced.error().ToString();
  EXPECT_FALSE(Exists(root_ + "/alive"));
}

// A new session on a channel that still holds the bytes of an earlier one (a killed
// exec's output, cut mid-frame): the host skips to the pong that echoes its nonce.
TEST(AgentSession, ConnectSkipsStaleBytesToItsOwnPong) {
  char tmpl[] = "/tmp/silk-vm-sock-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/control.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  std::thread guest([&] {
    UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    FramedChannel ch(std::move(fd));
    auto ping = ch.Receive(Clock::now() + std::chrono::seconds(5));
    if (!ping) return;
    auto j = nlohmann::json::parse(ping->payload);
    // The tail of a stdout frame, a whole stale exit frame, a stale pong, then ours.
    std::string stale = "put of a command that was killed";
    stale += *EncodeFrame(FrameType::kExit, R"({"signal":0,"status":0})");
    stale += *EncodeFrame(FrameType::kPong, R"({"nonce":"0000000000000000","stdin":true})");
    (void)!::write(ch.fd(), stale.data(), stale.size());
    (void)ch.Send(FrameType::kPong, nlohmann::json{{"nonce", j["nonce"]}, {"stdin", true}}.dump());
    (void)ch.Receive(Clock::now() + std::chrono::seconds(5));  // until the host closes
  });
  {
    auto agent = ConnectAgent(path, Clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(agent) << agent.error().ToString();
  }
  guest.join();
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

TEST(FrameDecoder, SkipToFindsAMarkedFrameAcrossReads) {
  FrameDecoder d;
  std::string frame = *EncodeFrame(FrameType::kPong, R"({"nonce":"ab"})");
  std::string stream = "garbage" + frame;
  d.Feed(stream.data(), 10);
  EXPECT_FALSE(d.SkipTo(R"(p{"nonce":"ab")"));
  d.Feed(stream.data() + 10, stream.size() - 10);
  EXPECT_TRUE(d.SkipTo(R"(p{"nonce":"ab")"));
  Frame f;
  auto next = d.Next(&f);
  ASSERT_TRUE(next && *next);
  EXPECT_EQ(f.type, FrameType::kPong);
  EXPECT_EQ(f.payload, R"({"nonce":"ab"})");
}

}  // namespace
}  // namespace silk::vmm
