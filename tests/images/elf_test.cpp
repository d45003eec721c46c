// ELF reading and the shared-library closure, on this host's own binaries.
#include "images/internal/elf.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/file.hpp"
#include "images/internal/closure.hpp"
#include "images/internal/kernel.hpp"
#include "tests/images/image_fixture.hpp"

namespace silk::images::internal {
namespace {

bool HasSoname(const LibraryClosure& c, const std::string& soname) {
  return std::any_of(c.libraries.begin(), c.libraries.end(),
                     [&](const auto& l) { return l.soname == soname; });
}

TEST(ImagesElf, DynamicBinaryHasInterpreterAndNeededLibraries) {
  auto data = ReadFile("/bin/true");
  ASSERT_TRUE(data);
  auto deps = ReadElfDeps(*data, "/bin/true");
  ASSERT_TRUE(deps) << deps.error().ToString();
  EXPECT_EQ(deps->interp, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_NE(std::find(deps->needed.begin(), deps->needed.end(), "libc.so.6"), deps->needed.end());
}

TEST(ImagesElf, StaticBusyboxHasNoDependencies) {
  auto data = ReadFile("/bin/busybox");
  if (!data) GTEST_SKIP() << "busybox-static is not installed (ci/setup installs it)";
  auto deps = ReadElfDeps(*data, "/bin/busybox");
  ASSERT_TRUE(deps);
  EXPECT_TRUE(deps->interp.empty());
  EXPECT_TRUE(deps->needed.empty());
}

TEST(ImagesElf, RejectsNonElfAndTruncatedFiles) {
  auto r = ReadElfDeps("#!/bin/sh\n", "script");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("script: not an ELF file"), std::string::npos);
  auto data = ReadFile("/bin/true");
  ASSERT_TRUE(data);
  EXPECT_FALSE(ReadElfDeps(data->substr(0, 200), "cut"));
  EXPECT_FALSE(ReadModinfo(*data, "/bin/true"));  // no .modinfo section
}

TEST(ImagesClosure, FollowsNeededRecursively) {
  // /proc/self/exe is this test: it links libstdc++, which needs libm and libgcc_s.
  auto c = ResolveLibraries("/proc/self/exe");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->interp, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_TRUE(HasSoname(*c, "libc.so.6"));
  EXPECT_TRUE(HasSoname(*c, "libstdc++.so.6"));
  EXPECT_TRUE(HasSoname(*c, "libm.so.6"));  // needed by libstdc++, not by the test
  EXPECT_TRUE(HasSoname(*c, "ld-linux-x86-64.so.2"));
  EXPECT_TRUE(std::is_sorted(c->libraries.begin(), c->libraries.end(),
                             [](const auto& a, const auto& b) { return a.soname < b.soname; }));
}

TEST(ImagesClosure, MissingLibraryIsNamed) {
  auto c = ResolveLibraries("/bin/true", {"/nonexistent"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(c.error().message().find("libc.so.6"), std::string::npos);
}

TEST(ImagesKernel, BzImageVersionFromSetupHeader) {
  auto dir = testing::MakeTempDir();
  testing::WriteFakeKernel(dir.path() + "/k", "6.1.0-42-cloud-amd64");
  auto v = BzImageVersion(testing::Slurp(dir.path() + "/k"), "k");
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(*v, "6.1.0-42-cloud-amd64");
  auto bad = BzImageVersion(std::string(4096, 'x'), "junk");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("junk: not a Linux bzImage"), std::string::npos);
}

}  // namespace
}  // namespace silk::images::internal
