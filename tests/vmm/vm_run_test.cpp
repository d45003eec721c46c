// Real thinix VMs through qemu:///system (libvirtd + QEMU; TCG on these hosts): a command
// in a VM, several VMs at once on a bridge, and each bad input, always checking that no
// domain, tap or run directory is left behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "images/image.hpp"
#include "tests/vmm/thinix_image.hpp"
#include "vmm/accel.hpp"
#include "vmm/connection.hpp"
#include "vmm/domain.hpp"
#include "vmm/run_dir.hpp"
#include "vmm/vm_run.hpp"

namespace silk::vmm {
namespace {

using Clock = std::chrono::steady_clock;

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

class VmRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Without udev /dev/kvm stays root-only, and libvirt then re-probes QEMU on every
    // domain start (~50 s each): give it the mode udev would (see KvmDeviceProblem).
    if (!KvmDeviceProblem().empty()) {
      auto fixed = FixKvmDevice();
      if (!fixed) std::cerr << "vmm_libvirt_test: " << fixed.error().ToString() << "\n";
    }
    auto img = testing::ThinixImageForTests();
    if (!img) {
      setup_error_ = img.error().ToString();
      return;
    }
    image_ = *img;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << "no thinix image: " << setup_error_;
    char tmpl[] = "/tmp/silk-vmm-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    options_.image_dir = image_;
    options_.run_root = tmp_ + "/run";
    options_.accel_cache = tmp_ + "/accel.json";
    options_.accel = Accel::kTcg;  // the probe has its own test
    options_.boot_timeout = std::chrono::seconds(90);
    options_.command_timeout = std::chrono::seconds(60);
    options_.name_prefix = "silk-test";
    options_.box_profile = "";  // directly in the guest; BoxInTheGuest covers the box
  }
  void TearDown() override { Sh("rm -rf " + tmp_); }

  // Waits for libvirt to forget `name` (it reaps QEMU after the lifecycle event).
  static bool DomainGone(const std::string& name) {
    auto conn = Connection::Open();
    if (!conn) return false;
    for (int i = 0; i < 150; ++i) {
      auto exists = DomainExists(**conn, name);
      if (exists && !*exists) return true;
      usleep(100 * 1000);
    }
    return false;
  }
  bool RunDirEmpty() {
    std::string cmd = "test -z \"$(ls -A " + options_.run_root + " 2>/dev/null)\"";
    return Sh(cmd) == 0;
  }

  static inline std::string image_;
  static inline std::string setup_error_;
  std::string tmp_;
  VmRunOptions options_;
};

TEST_F(VmRunTest, RunsCommandStreamsOutputReturnsStatus) {
  AgentCommand cmd;
  cmd.argv = {"/bin/sh", "-c", "echo hello-from-thinix; echo oops >&2; cat /proc/1/comm; exit 3"};
  std::string out, err;
  auto r = RunInVm(
      options_, cmd, [&](std::string_view d) { out.append(d); },
      [&](std::string_view d) { err.append(d); });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_NE(out.find("hello-from-thinix\n"), std::string::npos) << out;
  EXPECT_EQ(err, "oops\n");
  EXPECT_LT(r->timings.created, r->timings.ready);
  EXPECT_LT(r->timings.ready, r->timings.command);
  EXPECT_LE(r->timings.command, r->timings.ended);
  EXPECT_GT(r->host_rss_kib, 0u);
  EXPECT_TRUE(RunDirEmpty()) << "control socket or console log left behind";
  EXPECT_TRUE(DomainGone(r->domain)) << r->domain << " still exists";
}

// The one silk binary runs inside thinix, whose initramfs carries no libvirt (silk loads
// it at first use): a vmm command there is a clear error, not a loader failure.
TEST_F(VmRunTest, SilkInTheGuestRunsWithoutLibvirtAndSaysSo) {
  AgentCommand cmd;
  cmd.argv = {"/bin/sh", "-c",
              "ls /lib/x86_64-linux-gnu | grep -c libvirt; /bin/silk vm list; echo status=$?"};
  std::string out, err;
  auto r = RunInVm(
      options_, cmd, [&](std::string_view d) { out.append(d); },
      [&](std::string_view d) { err.append(d); });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(out.rfind("0\n", 0), 0u) << "libvirt libraries in the guest: " << out;
  EXPECT_NE(out.find("status=1"), std::string::npos) << out << err;
  EXPECT_NE(err.find("libvirt is not installed in this image/host"), std::string::npos) << err;
  EXPECT_NE(err.find("apt-get install libvirt0"), std::string::npos) << err;
  EXPECT_TRUE(DomainGone(r->domain)) << r->domain << " still exists";
}

TEST_F(VmRunTest, CommandRunsInACompatibilityBoxInTheGuest) {
  options_.box_profile = "gen0-sliver";
  AgentCommand cmd;
  cmd.argv = {"/bin/sh", "-c", "grep Seccomp: /proc/self/status; hostname; exit 5"};
  std::string out, err;
  auto r = RunInVm(
      options_, cmd, [&](std::string_view d) { out.append(d); },
      [&](std::string_view d) { err.append(d); });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 5) << out << err;
  EXPECT_NE(out.find("Seccomp:\t2\n"), std::string::npos)
      << "no seccomp filter in the box: " << out << err;
  EXPECT_NE(out.find("box\n"), std::string::npos) << "not in the box's UTS namespace: " << out;
  EXPECT_TRUE(DomainGone(r->domain));
}

TEST_F(VmRunTest, SeveralVmsAtOnceOnABridgeDoNotCollide) {
  std::string bridge = "skbr" + std::to_string(::getpid() % 100000);
  ASSERT_EQ(Sh("ip link add " + bridge + " type bridge && ip link set " + bridge + " up"), 0);
  struct BridgeGuard {
    std::string name;
    ~BridgeGuard() { Sh("ip link del " + name + " 2>/dev/null"); }
  } bridge_guard{bridge};
  options_.bridges = {bridge};
  auto one = [this](int i) {
    VmRunOptions o = options_;
    o.extra_cmdline = "silk.ip=10.77.0." + std::to_string(10 + i) + "/24";
    AgentCommand cmd;
    cmd.argv = {"/bin/sh", "-c", "cat /sys/class/net/eth0/address"};
    auto out = std::make_shared<std::string>();
    auto r = RunInVm(
        o, cmd, [out](std::string_view d) { out->append(d); }, nullptr);
    return std::make_pair(std::move(r), *out);
  };
  // Watch the taps while the VMs run.
  std::atomic<bool> done{false};
  std::atomic<int> max_taps{0};
  std::thread watcher([&] {
    while (!done) {
      std::string c = "ls /sys/class/net/" + bridge + "/brif 2>/dev/null | wc -l";
      FILE* p = ::popen(c.c_str(), "r");
      int n = 0;
      if (p) {
        if (std::fscanf(p, "%d", &n) != 1) n = 0;
        ::pclose(p);
      }
      max_taps = std::max(max_taps.load(), n);
      usleep(200 * 1000);
    }
  });
  auto a = std::async(std::launch::async, one, 0);
  auto b = std::async(std::launch::async, one, 1);
  auto ra = a.get();
  auto rb = b.get();
  done = true;
  watcher.join();
  ASSERT_TRUE(ra.first) << ra.first.error().ToString();
  ASSERT_TRUE(rb.first) << rb.first.error().ToString();
  EXPECT_NE(ra.first->domain, rb.first->domain);
  EXPECT_EQ(ra.first->exit_status, 0);
  EXPECT_EQ(rb.first->exit_status, 0);
  EXPECT_EQ(ra.second.size(), 18u) << "a MAC address and a newline: " << ra.second;
  EXPECT_NE(ra.second, rb.second) << "two VMs got the same MAC";
  EXPECT_EQ(max_taps.load(), 2) << "both VMs' taps should have been on the bridge at once";
  EXPECT_TRUE(DomainGone(ra.first->domain));
  EXPECT_TRUE(DomainGone(rb.first->domain));
  for (const auto& r : {ra.first, rb.first})
    EXPECT_NE(::access(("/sys/class/net/" + TapName(r->domain, 0)).c_str(), F_OK), 0)
        << "tap " << TapName(r->domain, 0) << " left behind";
  EXPECT_TRUE(RunDirEmpty());
}

// Not found (127) and not executable (126) in the guest are the command's outcome, as a
// shell gives them, not a failure of silk (which `silk vm run` reports as 125).
TEST_F(VmRunTest, CommandMissingInTheGuestIs127AndNotExecutableIs126) {
  AgentCommand cmd;
  cmd.argv = {"/no/such/tool"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 127);
  EXPECT_NE(r->exec_failure.find("/no/such/tool"), std::string::npos) << r->exec_failure;
  EXPECT_TRUE(RunDirEmpty());
  EXPECT_TRUE(DomainGone(r->domain)) << r->domain << " still exists";

  cmd.argv = {"/proc/version"};  // a file without execute permission
  r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 126) << r->exec_failure;
  EXPECT_NE(r->exec_failure.find("/proc/version"), std::string::npos) << r->exec_failure;
  EXPECT_TRUE(DomainGone(r->domain)) << r->domain << " still exists";
}

TEST_F(VmRunTest, GuestNotUpInTimeShowsItsConsole) {
  options_.boot_timeout = std::chrono::milliseconds(2500);
  options_.keep_console = false;
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.error().message().find("did not come up within 2 s"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("guest console"), std::string::npos) << r.error().message();
  EXPECT_TRUE(RunDirEmpty());
  auto conn = Connection::Open();
  ASSERT_TRUE(conn);
  auto doms = ListDomains(**conn);
  ASSERT_TRUE(doms);
  for (const auto& d : *doms) {
    if (d.name.rfind("silk-test-", 0) == 0) {
      EXPECT_EQ(d.state, "shutoff") << d.name << " still running";
    }
  }
}

class BadImageTest : public VmRunTest {
 protected:
  void SetUp() override {
    VmRunTest::SetUp();
    if (HasFatalFailure()) return;
    copy_ = tmp_ + "/image";
    ASSERT_EQ(Sh("cp -r " + image_ + " " + copy_), 0);
    options_.image_dir = copy_;
  }
  std::string copy_;
};

TEST_F(BadImageTest, TamperedInitramfsIsRefusedBeforeBoot) {
  std::fstream f(copy_ + "/initramfs.img", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(1000);
  f.put('\x42');
  f.close();
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDenied) << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("refusing to boot"), std::string::npos)
      << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("initramfs"), std::string::npos) << r.error().ToString();
}

TEST_F(BadImageTest, MissingKernelIsNamed) {
  ASSERT_EQ(::unlink((copy_ + "/vmlinuz").c_str()), 0);
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().ToString().find("vmlinuz"), std::string::npos) << r.error().ToString();
}

TEST_F(VmRunTest, NotEnoughMemorySaysWhatToDo) {
  options_.memory_mib = 1024 * 1024;  // 1 TiB
  AgentCommand cmd;
  cmd.argv = {"/bin/true"};
  auto r = RunInVm(options_, cmd, nullptr, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("--mem"), std::string::npos) << r.error().message();
}

TEST_F(VmRunTest, AccelProbeIsQuickAndCached) {
  auto info = images::VerifyImage(image_);
  ASSERT_TRUE(info);
  auto conn = Connection::Open();
  ASSERT_TRUE(conn);
  AccelOptions ao;
  ao.cache_path = tmp_ + "/accel.json";
  ao.run_root = tmp_ + "/run";
  BootImage bi{info->kernel_path, info->initramfs_path, info->cmdline, info->kernel_sha256};
  auto start = Clock::now();
  auto first = ChooseAccel(**conn, bi, ao);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(15)) << "the probe must not waste time";
  EXPECT_FALSE(first->from_cache);
  EXPECT_FALSE(first->reason.empty());
  if (KvmPrecheck(**conn).empty()) {
    // The probe booted a guest: its verdict is cached and reused.
    auto second = ChooseAccel(**conn, bi, ao);
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->from_cache);
    EXPECT_EQ(second->accel, first->accel);
  }
  EXPECT_TRUE(RunDirEmpty());
}

}  // namespace
}  // namespace silk::vmm
