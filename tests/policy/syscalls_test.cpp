#include "policy/syscalls.hpp"

#include <gtest/gtest.h>
#include <seccomp.h>
#include <sys/syscall.h>

#include <algorithm>

namespace silk::policy {
namespace {

TEST(Syscalls, ParsesArchSpellings) {
  for (const char* s : {"amd64", "x86_64", "SCMP_ARCH_X86_64", "scmp_arch_x86_64"})
    EXPECT_EQ(ParseArch(s).value(), SCMP_ARCH_X86_64) << s;
  EXPECT_EQ(ParseArch("386").value(), SCMP_ARCH_X86);
  EXPECT_EQ(ParseArch("x32").value(), SCMP_ARCH_X32);
  EXPECT_EQ(ParseArch("arm64").value(), SCMP_ARCH_AARCH64);
  EXPECT_EQ(ParseArch("native").value(), NativeArch());
  auto bad = ParseArch("amd46");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("amd64"), std::string::npos) << bad.error().message();
  EXPECT_STREQ(ArchName(SCMP_ARCH_X32), "SCMP_ARCH_X32");
  EXPECT_STREQ(ArchShortName(SCMP_ARCH_X86_64), "amd64");
}

TEST(Syscalls, NameNumberRoundTrip) {
  EXPECT_EQ(SyscallNumber("getpid", SCMP_ARCH_X86_64), SYS_getpid);
  EXPECT_EQ(SyscallNumber("getpid", SCMP_ARCH_X86), 20);
  EXPECT_EQ(SyscallNumber("getpid", SCMP_ARCH_X32), 0x40000000 + 39);
  EXPECT_EQ(SyscallName(SYS_openat, SCMP_ARCH_X86_64), "openat");
  EXPECT_FALSE(SyscallNumber("socketcall", SCMP_ARCH_X86_64));
  EXPECT_EQ(SyscallNumber("socketcall", SCMP_ARCH_X86), 102);
  EXPECT_FALSE(SyscallNumber("no_such_call", SCMP_ARCH_X86_64));
  const auto& names = SyscallNames(SCMP_ARCH_X86_64);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_GT(names.size(), 300u);
  for (const auto& n : names)
    EXPECT_EQ(SyscallName(*SyscallNumber(n, SCMP_ARCH_X86_64), SCMP_ARCH_X86_64), n);
  const auto& all = AllSyscallNames();
  EXPECT_TRUE(std::binary_search(all.begin(), all.end(), "socketcall"));
}

TEST(Syscalls, HorizonCoversNewSyscallsOnEveryArch) {
  EXPECT_EQ(SyscallIntroduced("clone3"), (KernelVersion{5, 3}));
  EXPECT_EQ(SyscallIntroduced("close_range"), (KernelVersion{5, 9}));
  EXPECT_EQ(SyscallIntroduced("openat2"), (KernelVersion{5, 6}));
  EXPECT_FALSE(SyscallIntroduced("read"));
  // Syscalls newer than libseccomp's table still resolve, by the unified numbering.
  EXPECT_EQ(SyscallNumber("mseal", SCMP_ARCH_X86_64), 462);
  EXPECT_EQ(SyscallNumber("mseal", SCMP_ARCH_X32), 0x40000000 + 462);
  EXPECT_EQ(SyscallNumber("file_setattr", SCMP_ARCH_AARCH64), 469);
  for (const auto& e : HorizonTable()) {
    if (e.unified_nr < 0) continue;
    EXPECT_EQ(SyscallNumber(e.name, SCMP_ARCH_X86_64), e.unified_nr) << e.name;
    if (std::string_view(e.name) != "map_shadow_stack") {
      EXPECT_EQ(SyscallNumber(e.name, SCMP_ARCH_X86), e.unified_nr) << e.name;
    }
  }
  for (const auto& e : HorizonTable()) {
    if (e.introduced >= KernelVersion{3, 19} && e.introduced.major < 5) {
      EXPECT_TRUE(SyscallNumber(e.name, SCMP_ARCH_X86_64)) << e.name;
    }
  }
}

TEST(Syscalls, KernelVersions) {
  EXPECT_EQ(ParseKernelVersion("6.1").value(), (KernelVersion{6, 1}));
  EXPECT_EQ(ParseKernelVersion("5.10.0-23-amd64").value(), (KernelVersion{5, 10}));
  EXPECT_LT(ParseKernelVersion("5.9").value(), ParseKernelVersion("5.10").value());
  EXPECT_FALSE(ParseKernelVersion("six"));
  EXPECT_FALSE(ParseKernelVersion("6"));
  EXPECT_FALSE(ParseKernelVersion(".1"));
  EXPECT_EQ(KernelVersionToString({5, 15}), "5.15");
}

}  // namespace
}  // namespace silk::policy
