// Real thinix VMs through qemu:///system (libvirtd + QEMU; TCG on these hosts): a command
// in a VM, several VMs at once on a bridge, and each bad input, always checking that no
// domain, tap or run directory is left behind.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "base/unique_fd.hpp"
#include "images/image.hpp"
#include "tests/vmm/thinix_image.hpp"
#include "vmm/accel.hpp"
#include "vmm/connection.hpp"
#include "vmm/domain.hpp"
#include "vmm/run_dir.hpp"
#include "vmm/vm_run.hpp"

namespace silk::vmm {
namespace {

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// The ports of one bridge, followed through the kernel's link notifications (rtnetlink,
// RTNLGRP_LINK; rtnetlink(7)): every tap that joins or leaves is seen, however briefly it
// stays, which a periodic look at /sys/class/net/BRIDGE/brif cannot promise.
class BridgePortWatcher {
 public:
  explicit BridgePortWatcher(const std::string& bridge)
      : bridge_index_(static_cast<int>(::if_nametoindex(bridge.c_str()))) {
    if (bridge_index_ == 0) {
      error_ = "no bridge " + bridge;
      return;
    }
    sock_ = UniqueFd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
    int rcvbuf = 1 << 20;
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (sock_.get() < 0 || stop_.get() < 0 ||
        ::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0 ||
        ::bind(sock_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      error_ = std::string("rtnetlink socket: ") + std::strerror(errno);
      return;
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~BridgePortWatcher() { Stop(); }

  // Stops watching; returns the most ports the bridge had at once.
  size_t Stop() {
    if (thread_.joinable()) {
      uint64_t one = 1;
      (void)!::write(stop_.get(), &one, sizeof one);
      thread_.join();
      if (error_.empty()) error_ = run_error_;
    }
    return max_ports_;
  }
  // Why the count cannot be trusted ("" if it can): no bridge, no socket, or (once
  // stopped) notifications lost.
  const std::string& error() const { return error_; }

 private:
  void Run() {
    for (;;) {
      pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        run_error_ = std::string("poll: ") + std::strerror(errno);
        return;
      }
      if (!Drain()) return;
      if (fds[1].revents & POLLIN) return;
    }
  }
  // Reads every queued notification. False when the socket failed (ENOBUFS: lost some).
  bool Drain() {
    alignas(nlmsghdr) char buf[1 << 16];
    for (;;) {
      ssize_t n = ::recv(sock_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) {
        run_error_ = std::string("rtnetlink: ") + (n < 0 ? std::strerror(errno) : "closed");
        return false;
      }
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
        if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) Note(h);
    }
  }
  void Note(nlmsghdr* h) {
    auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
    int master = 0;
    int alen = static_cast<int>(IFLA_PAYLOAD(h));
    for (auto* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
      if (a->rta_type == IFLA_MASTER) std::memcpy(&master, RTA_DATA(a), sizeof master);
    if (h->nlmsg_type == RTM_NEWLINK && master == bridge_index_)
      ports_.insert(ifi->ifi_index);
    else
      ports_.erase(ifi->ifi_index);
    max_ports_ = std::max(max_ports_, ports_.size());
  }

  int bridge_index_;
  UniqueFd sock_, stop_;
  std::thread thread_;
  std::set<int> ports_;
  size_t max_ports_ = 0;
  std::string error_;
  std::string run_error_;  // the watching thread's; read after it is joined
};

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
    // The run root is under it: QEMU, as its own user, must get through to the staged image.
    ASSERT_EQ(::chmod(tmp_.c_str(), 0711), 0);
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
  // Every tap that joins or leaves the bridge while the VMs run, as the kernel reports it.
  BridgePortWatcher ports(bridge);
  ASSERT_TRUE(ports.error().empty()) << ports.error();
  auto a = std::async(std::launch::async, one, 0);
  auto b = std::async(std::launch::async, one, 1);
  auto ra = a.get();
  auto rb = b.get();
  const size_t max_taps = ports.Stop();
  EXPECT_TRUE(ports.error().empty()) << ports.error();
  ASSERT_TRUE(ra.first) << ra.first.error().ToString();
  ASSERT_TRUE(rb.first) << rb.first.error().ToString();
  EXPECT_NE(ra.first->domain, rb.first->domain);
  EXPECT_EQ(ra.first->exit_status, 0);
  EXPECT_EQ(rb.first->exit_status, 0);
  EXPECT_EQ(ra.second.size(), 18u) << "a MAC address and a newline: " << ra.second;
  EXPECT_NE(ra.second, rb.second) << "two VMs got the same MAC";
  EXPECT_EQ(max_taps, 2u) << "both VMs' taps should have been on the bridge at once";
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
  auto first = ChooseAccel(**conn, bi, ao);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->from_cache);
  EXPECT_FALSE(first->reason.empty());
  // The probe does not waste time: where KVM cannot work it boots nothing and says why;
  // otherwise it boots once, and either the guest powered off or the probe gave up at
  // its timeout (ao.timeout) and says so.
  const std::string precheck = KvmPrecheck(**conn);
  if (!precheck.empty()) {
    EXPECT_EQ(first->reason, precheck);
    EXPECT_EQ(first->accel, Accel::kTcg);
  } else {
    const bool said = first->reason == "a KVM guest booted and powered off" ||
                      first->reason.find("a KVM guest did not finish booting within") == 0 ||
                      first->reason.find("a KVM guest printed nothing") == 0 ||
                      first->reason.find("could not start a KVM guest") != std::string::npos;
    EXPECT_TRUE(said) << first->reason;
  }
  if (precheck.empty()) {
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
