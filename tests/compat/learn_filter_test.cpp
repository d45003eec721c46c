// The learning filter (compat/internal/learn_filter.hpp), run through silk's seccomp BPF
// emulator for every syscall number of every architecture a box can use: it allows
// exactly the counted native syscalls (and the kernel caches those as always allowed),
// and notifies everything else.
#include "compat/internal/learn_filter.hpp"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <set>

#include "tighten/learn.hpp"
#include "policy/internal/bpf_emulator.hpp"
#include "policy/syscalls.hpp"

namespace silk::compat::internal {
namespace {

constexpr uint32_t kX32Bit = 0x40000000u;

// Counts everything; the values of ioctl's request; needs personality's calls whole.
class KeyArgObserver : public SyscallObserver {
 public:
  void OnSyscall(const SyscallEvent&) override {}
  std::optional<std::vector<unsigned>> CountedArguments(int nr) const override {
    if (nr == 135) return std::nullopt;  // personality
    if (nr == 16) return std::vector<unsigned>{1};
    return std::vector<unsigned>{};
  }
};

uint32_t Run(const LearningFilter& f, uint32_t arch, uint32_t nr) {
  const uint64_t args[6] = {1, 2, 3, 4, 5, 6};
  auto r = policy::internal::RunSeccompBpf(f.program(), arch, static_cast<int>(nr), args);
  EXPECT_TRUE(r.has_value()) << "malformed program at nr " << nr;
  return r.value_or(0xdead);
}

void ExpectAllowsExactly(const LearningFilter& f) {
  const std::set<int> counted(f.counted().begin(), f.counted().end());
  for (uint32_t nr = 0; nr < 1024; ++nr) {
    const bool in = counted.count(static_cast<int>(nr)) > 0;
    EXPECT_EQ(Run(f, AUDIT_ARCH_X86_64, nr), in ? SECCOMP_RET_ALLOW : SECCOMP_RET_USER_NOTIF)
        << "x86_64 nr " << nr;
    if (in) {
      EXPECT_TRUE(policy::internal::KernelCachesAsAllow(f.program(), AUDIT_ARCH_X86_64, nr));
    }
    EXPECT_EQ(Run(f, AUDIT_ARCH_X86_64, nr | kX32Bit), SECCOMP_RET_USER_NOTIF) << "x32 nr " << nr;
    EXPECT_EQ(Run(f, AUDIT_ARCH_I386, nr), SECCOMP_RET_USER_NOTIF) << "i386 nr " << nr;
  }
}

TEST(LearningFilter, NothingCountedNotifiesEverything) {
  LearningFilter f;
  EXPECT_EQ(f.program().size(), 1u);
  EXPECT_TRUE(f.counted().empty());
  ExpectAllowsExactly(f);
}

TEST(LearningFilter, PodmanDefaultCountsWhatItAllowsWithoutConditions) {
  auto parent = tighten::LoadResolvedProfile("podman-default");
  ASSERT_TRUE(parent) << parent.error().ToString();
  auto native = policy::MakeEffective(*parent, "x86_64");
  ASSERT_TRUE(native) << native.error().ToString();
  KeyArgObserver observer;
  const std::vector<int> countable = CountableSyscalls(*native, observer);
  EXPECT_GT(countable.size(), 250u);
  auto has = [&](const char* name) {
    auto nr = policy::SyscallNumber(name, AUDIT_ARCH_X86_64);
    return nr && std::count(countable.begin(), countable.end(), *nr) > 0;
  };
  EXPECT_TRUE(has("read"));
  EXPECT_TRUE(has("getppid"));
  EXPECT_TRUE(has("set_robust_list"));
  EXPECT_FALSE(has("execve"));       // the box's own call
  EXPECT_TRUE(has("ioctl"));         // counted with its request values
  EXPECT_FALSE(has("socket"));       // the supervisor mediates raw and packet sockets
  EXPECT_TRUE(has("clone"));         // Podman allows every clone: counted (flags too)
  EXPECT_FALSE(has("personality"));  // the observer wants each call
  EXPECT_FALSE(has("init_module"));  // denied without CAP_SYS_MODULE
  EXPECT_FALSE(has("kexec_load"));   // denied without CAP_SYS_BOOT
  EXPECT_TRUE(has("mount"));         // Podman allows it (capabilities decide)

  LearningFilter f(countable);
  EXPECT_EQ(f.counted(), [&] {
    auto sorted = countable;
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }());
  ExpectAllowsExactly(f);
}

TEST(LearningFilter, ManyRangesStayWithinJumpReach) {
  std::vector<int> every_other;
  for (int nr = 0; nr < 500; nr += 2) every_other.push_back(nr);
  LearningFilter f(every_other);
  EXPECT_LT(f.counted().size(), every_other.size());  // the rest stays notified
  EXPECT_FALSE(f.counted().empty());
  ExpectAllowsExactly(f);
}

}  // namespace
}  // namespace silk::compat::internal
