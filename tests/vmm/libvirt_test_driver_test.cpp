// Connection, transient domains, lifecycle events and listing against libvirt's
// in-process test driver (test:///default): real libvirt client code, no daemon, no QEMU.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include "vmm/connection.hpp"
#include "vmm/domain.hpp"
#include "vmm/run_dir.hpp"

namespace silk::vmm {
namespace {

using Clock = std::chrono::steady_clock;
// The test driver does not implement VIR_DOMAIN_START_AUTODESTROY.
constexpr bool kNoAutodestroy = false;

VmSpec TestSpec() {
  VmSpec s;
  s.name = *UniqueVmName("silk-unit");
  s.kernel_path = "/nonexistent/vmlinuz";  // the test driver boots nothing
  s.memory_mib = 128;
  return s;
}

TEST(TestDriver, CreateInfoListDestroyWithEvents) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn) << conn.error().ToString();
  VmSpec spec = TestSpec();
  {
    auto dom = TransientDomain::Create(**conn, spec, kNoAutodestroy);
    ASSERT_TRUE(dom) << dom.error().ToString();
    EXPECT_EQ(dom->name(), spec.name);
    auto started = (*conn)->WaitForEvent(
        spec.name, [](const LifecycleEvent& e) { return e.event == VIR_DOMAIN_EVENT_STARTED; },
        Clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(started) << "no 'started' lifecycle event";
    auto info = dom->Info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->state, "running");
    EXPECT_EQ(info->memory_kib, 128u * 1024);
    EXPECT_EQ(info->vcpus, 1u);
    EXPECT_FALSE(info->persistent);

    auto all = ListDomains(**conn);
    ASSERT_TRUE(all);
    bool listed = false;
    for (const auto& d : *all) listed |= d.name == spec.name;
    EXPECT_TRUE(listed);
    EXPECT_EQ(DomainExists(**conn, spec.name).value_or(false), true);

    ASSERT_TRUE(dom->Destroy());
    EXPECT_TRUE(dom->ended());
    EXPECT_TRUE(dom->WaitEnded(Clock::now() + std::chrono::seconds(5)));
  }
  EXPECT_EQ(DomainExists(**conn, spec.name).value_or(true), false)
      << "a transient domain outlived its guard";
}

TEST(TestDriver, GuardDestroysOnScopeExit) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  VmSpec spec = TestSpec();
  {
    auto dom = TransientDomain::Create(**conn, spec, kNoAutodestroy);
    ASSERT_TRUE(dom);
    EXPECT_EQ(DomainExists(**conn, spec.name).value_or(false), true);
  }
  EXPECT_EQ(DomainExists(**conn, spec.name).value_or(true), false);
}

TEST(TestDriver, GracefulShutdownActsOnTheEvent) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  VmSpec spec = TestSpec();
  auto dom = TransientDomain::Create(**conn, spec, kNoAutodestroy);
  ASSERT_TRUE(dom);
  auto graceful = dom->Shutdown(std::chrono::seconds(5));
  ASSERT_TRUE(graceful) << graceful.error().ToString();
  EXPECT_TRUE(*graceful) << "the test driver's guest shuts down when asked";
  EXPECT_TRUE(dom->ended());
}

TEST(TestDriver, DuplicateNameIsRefusedWithLibvirtsMessage) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  VmSpec spec = TestSpec();
  auto first = TransientDomain::Create(**conn, spec, kNoAutodestroy);
  ASSERT_TRUE(first);
  auto second = TransientDomain::Create(**conn, spec, kNoAutodestroy);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find(spec.name), std::string::npos)
      << second.error().message();
}

TEST(TestDriver, InvalidSpecNeverReachesLibvirt) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  VmSpec spec = TestSpec();
  spec.vcpus = 0;
  auto dom = TransientDomain::Create(**conn, spec, kNoAutodestroy);
  ASSERT_FALSE(dom);
  EXPECT_EQ(dom.error().code(), ErrorCode::kInvalidInput);
}

TEST(TestDriver, WaitForEventTimesOut) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  auto start = Clock::now();
  auto ev = (*conn)->WaitForEvent(
      "no-such-domain", [](const LifecycleEvent&) { return true; },
      start + std::chrono::milliseconds(200));
  ASSERT_FALSE(ev);
  EXPECT_EQ(ev.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));
}

TEST(Connection, UnreachableDaemonSaysHowToStartIt) {
  auto conn = Connection::Open("qemu:///system?socket=/nonexistent/silk-test-libvirt-sock");
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(conn.error().message().find("virtlogd -d; libvirtd -d"), std::string::npos)
      << conn.error().message();
}

// Only libvirt's "no such domain" is absent (any other failure is an error, never false).
TEST(DomainExists, NoSuchDomainIsFalseNotAnError) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  auto missing = DomainExists(**conn, "silk-no-such-domain");
  ASSERT_TRUE(missing) << missing.error().ToString();
  EXPECT_FALSE(*missing);
  auto builtin = DomainExists(**conn, "test");  // the test driver's own domain
  ASSERT_TRUE(builtin) << builtin.error().ToString();
  EXPECT_TRUE(*builtin);
}

TEST(GetDomainInfo, MissingDomainIsNotFound) {
  auto conn = Connection::Open("test:///default");
  ASSERT_TRUE(conn);
  auto info = GetDomainInfo(**conn, "silk-no-such-domain");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace silk::vmm
