// libvirt loaded at run time (vmm/internal/libvirt_api.hpp): the table resolves against
// the host's real libvirt.so.0, a missing or wrong library is a clear error, and
// libvirt's virtlogd failure gets its fix. Real dlopen, no stand-ins.
#include "vmm/internal/libvirt_api.hpp"

#include <gtest/gtest.h>

#include "vmm/connection.hpp"

namespace silk::vmm {
namespace {

TEST(LibvirtApi, LoadsTheHostsLibvirtAndResolvesEveryFunction) {
  auto api = internal::LoadLibvirt();
  ASSERT_TRUE(api) << api.error().ToString() << " (ci/setup installs libvirt0)";
#define SILK_EXPECT_RESOLVED(fn) EXPECT_NE((*api)->fn, nullptr) << #fn;
  SILK_LIBVIRT_FUNCTIONS(SILK_EXPECT_RESOLVED)
#undef SILK_EXPECT_RESOLVED
  // Loaded once: the same table every time.
  auto again = internal::LoadLibvirt();
  ASSERT_TRUE(again);
  EXPECT_EQ(*api, *again);
  EXPECT_EQ(&internal::Libvirt(), *api);
  // A real call through the table.
  EXPECT_EQ((*api)->virInitialize(), 0);
}

TEST(LibvirtApi, MissingLibraryIsAClearErrorThatSaysWhatToInstall) {
  auto api = internal::LoadLibvirtFrom("libsilk-test-no-such-libvirt.so.0");
  ASSERT_FALSE(api);
  EXPECT_EQ(api.error().code(), ErrorCode::kUnsupported);
  const std::string& m = api.error().message();
  EXPECT_NE(m.find("libvirt is not installed in this image/host"), std::string::npos) << m;
  EXPECT_NE(m.find("apt-get install libvirt0"), std::string::npos) << m;
  EXPECT_NE(m.find("libsilk-test-no-such-libvirt.so.0"), std::string::npos) << m;
}

TEST(LibvirtApi, ALibraryWithoutLibvirtsFunctionsNamesTheFirstMissingOne) {
  // zlib is a real shared library that every silk host has (silk_images links it).
  auto api = internal::LoadLibvirtFrom("libz.so.1");
  ASSERT_FALSE(api);
  EXPECT_EQ(api.error().code(), ErrorCode::kUnsupported);
  const std::string& m = api.error().message();
  EXPECT_NE(m.find("has no virConnectClose"), std::string::npos) << m;
  EXPECT_NE(m.find("/libz.so.1"), std::string::npos) << m;  // where it was found
  EXPECT_NE(m.find("apt-get install libvirt0"), std::string::npos) << m;
}

TEST(LibvirtFixHint, VirtlogdNotRunningSaysHowToStartIt) {
  // libvirt's message when QEMU's console log cannot reach virtlogd.
  Error in(ErrorCode::kSystem,
           "cannot start domain silk-vm-1: Failed to connect socket to "
           "'/run/libvirt/virtlogd-sock': Connection refused");
  Error out = WithFixHint(in);
  EXPECT_EQ(out.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(out.message().rfind(in.message(), 0), 0u) << "keeps libvirt's message first";
  EXPECT_NE(out.message().find("start it: virtlogd -d"), std::string::npos) << out.message();
}

TEST(LibvirtFixHint, OtherErrorsPassUnchanged) {
  Error in(ErrorCode::kSystem,
           "cannot start domain silk-vm-2: Cannot access storage file '/nope/vmlinuz': No such "
           "file or directory");
  Error out = WithFixHint(in);
  EXPECT_EQ(out.code(), ErrorCode::kSystem);
  EXPECT_EQ(out.message(), in.message());
  Error missing(ErrorCode::kNotFound, "domain silk-vm-3 not found");
  EXPECT_EQ(WithFixHint(missing).code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace silk::vmm
