// The learn model: observations -> a profile that allows exactly what was seen, with
// argument conditions where the parent allows plainly, and the parent's own rules where
// it does not.
#include "tighten/learn_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace silk::tighten {
namespace {

constexpr const char* kX86_64 = "SCMP_ARCH_X86_64";

policy::Profile Parent() {
  policy::Profile p;
  p.default_action = policy::Action::kErrno;
  p.default_errno_ret = 38;
  p.architectures = {kX86_64};
  p.meta.name = "parent";
  p.meta.generation = 0;
  policy::SyscallRule allow;
  allow.names = {"read", "write", "clone", "socket", "ioctl", "prctl", "fcntl", "exit_group"};
  p.syscalls.push_back(allow);
  policy::SyscallRule pers;
  pers.names = {"personality"};
  pers.args = {policy::ArgCondition{0, 8, 0, policy::ArgOp::kEqualTo}};
  p.syscalls.push_back(pers);
  policy::SyscallRule deny;
  deny.names = {"kexec_load", "mount"};
  deny.action = policy::Action::kErrno;
  deny.errno_ret = 1;
  p.syscalls.push_back(deny);
  return p;
}

const policy::SyscallRule* RuleFor(const policy::Profile& p, const std::string& name,
                                   size_t nth = 0) {
  for (const auto& r : p.syscalls)
    if (std::find(r.names.begin(), r.names.end(), name) != r.names.end() && nth-- == 0) return &r;
  return nullptr;
}

TEST(LearnModel, KeyArguments) {
  EXPECT_EQ(KeyArgIndices("socket"), (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(KeyArgIndices("ioctl"), (std::vector<unsigned>{1}));
  EXPECT_TRUE(KeyArgIndices("read").empty());
}

TEST(LearnModel, AddsTheLibcFloorTheParentAllowsUnlessExact) {
  Observations obs;
  uint64_t none[6] = {};
  obs.AddAllowed(kX86_64, 0, "read", none);
  policy::Profile parent = Parent();
  parent.syscalls[0].names.push_back("madvise");  // floor, allowed; futex is denied
  auto with = ProposeProfile(obs, parent, {});
  ASSERT_TRUE(with) << with.error().ToString();
  EXPECT_EQ(with->floor_added, (std::vector<std::string>{"madvise", "exit_group"}));
  ASSERT_NE(RuleFor(with->profile, "madvise"), nullptr);
  EXPECT_EQ(RuleFor(with->profile, "futex"), nullptr);

  ProposeOptions exact;
  exact.libc_floor = false;
  auto without = ProposeProfile(obs, parent, exact);
  ASSERT_TRUE(without) << without.error().ToString();
  EXPECT_TRUE(without->floor_added.empty());
  EXPECT_EQ(RuleFor(without->profile, "madvise"), nullptr);
  EXPECT_EQ(RuleFor(without->profile, "exit_group"), nullptr);
  ASSERT_NE(RuleFor(without->profile, "read"), nullptr);
}

TEST(LearnModel, ProposesExactlyWhatWasSeenWithConditions) {
  Observations obs;
  uint64_t none[6] = {};
  obs.AddAllowed(kX86_64, 0, "read", none);
  obs.AddAllowed(kX86_64, 0, "read", none);
  uint64_t thread[6] = {0x3d0f00};  // pthread_create's clone flags: no namespaces
  obs.AddAllowed(kX86_64, 56, "clone", thread);
  uint64_t sock[6] = {2, 0x80001};  // AF_INET, SOCK_STREAM|SOCK_CLOEXEC
  obs.AddAllowed(kX86_64, 41, "socket", sock);
  uint64_t tcgets[6] = {1, 0x5401};
  obs.AddAllowed(kX86_64, 16, "ioctl", tcgets);
  uint64_t pers[6] = {8};
  obs.AddAllowed(kX86_64, 135, "personality", pers);
  uint64_t mnt[6] = {1, 2, 3};
  obs.AddDenied(kX86_64, 165, "mount", mnt, 42, policy::Verdict{policy::Action::kErrno, 1});
  obs.AddDenied(kX86_64, 165, "mount", mnt, 42, policy::Verdict{policy::Action::kErrno, 1});
  ASSERT_EQ(obs.denied.size(), 1u);
  EXPECT_EQ(obs.denied[0].count, 2u);
  EXPECT_EQ(obs.DistinctAllowed(), 5u);

  ProposeOptions opt;
  opt.name = "child";
  opt.notes = "learned";
  opt.runtime_syscalls = {"write", "kexec_load"};  // allowed by the parent / not
  auto r = ProposeProfile(obs, Parent(), opt);
  ASSERT_TRUE(r) << r.error().ToString();
  const policy::Profile& p = r->profile;
  EXPECT_EQ(p.meta.extends, "parent");
  EXPECT_EQ(p.meta.generation, 1);
  EXPECT_EQ(p.default_errno_ret, 38u);
  // Plain: read, and write (a runtime syscall). Not seen: prctl -> absent.
  ASSERT_NE(RuleFor(p, "read"), nullptr);
  EXPECT_TRUE(RuleFor(p, "read")->args.empty());
  ASSERT_NE(RuleFor(p, "write"), nullptr);
  EXPECT_EQ(RuleFor(p, "write")->action, policy::Action::kAllow);
  EXPECT_EQ(RuleFor(p, "kexec_load")->action, policy::Action::kErrno);  // the parent's denial
  EXPECT_EQ(RuleFor(p, "prctl"), nullptr);
  // clone: no namespace flags.
  const policy::SyscallRule* clone = RuleFor(p, "clone");
  ASSERT_NE(clone, nullptr);
  ASSERT_EQ(clone->args.size(), 1u);
  EXPECT_EQ(clone->args[0].op, policy::ArgOp::kMaskedEqual);
  EXPECT_EQ(clone->args[0].value, 0x7E020000u);
  EXPECT_EQ(clone->args[0].value_two, 0u);
  // socket: family EQ and type under the type mask.
  const policy::SyscallRule* s = RuleFor(p, "socket");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->args.size(), 2u);
  EXPECT_EQ(s->args[0], (policy::ArgCondition{0, 2, 0, policy::ArgOp::kEqualTo}));
  EXPECT_EQ(s->args[1], (policy::ArgCondition{1, 0xf, 1, policy::ArgOp::kMaskedEqual}));
  // ioctl: request on arg 1, low 32 bits.
  const policy::SyscallRule* io = RuleFor(p, "ioctl");
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->args[0],
            (policy::ArgCondition{1, 0xffffffff, 0x5401, policy::ArgOp::kMaskedEqual}));
  // personality: the parent's conditioned rule, copied.
  const policy::SyscallRule* pe = RuleFor(p, "personality");
  ASSERT_NE(pe, nullptr);
  EXPECT_EQ(pe->args, Parent().syscalls[1].args);
  // mount was denied: reported, not added; the parent's explicit EPERM stays.
  const policy::SyscallRule* m = RuleFor(p, "mount");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->action, policy::Action::kErrno);
  EXPECT_EQ(m->errno_ret, 1u);
  EXPECT_EQ(std::vector<std::string>(r->conditioned.begin(), r->conditioned.end()),
            (std::vector<std::string>{"clone", "ioctl", "socket"}));
}

TEST(LearnModel, TooManyValuesMeansNoCondition) {
  Observations obs;
  for (uint64_t req = 0; req < 20; ++req) {
    uint64_t a[6] = {3, 0x5400 + req};
    obs.AddAllowed(kX86_64, 16, "ioctl", a);
  }
  ProposeOptions opt;
  opt.max_values = 16;
  auto r = ProposeProfile(obs, Parent(), opt);
  ASSERT_TRUE(r);
  const policy::SyscallRule* io = RuleFor(r->profile, "ioctl");
  ASSERT_NE(io, nullptr);
  EXPECT_TRUE(io->args.empty());
}

TEST(LearnModel, MergeUnitesRuns) {
  Observations a, b;
  uint64_t x[6] = {2, 1};
  uint64_t y[6] = {1, 2};
  a.AddAllowed(kX86_64, 41, "socket", x);
  b.AddAllowed(kX86_64, 41, "socket", y);
  b.AddAllowed(kX86_64, 0, "read", x);
  a.Merge(b);
  EXPECT_EQ(a.total, 3u);
  EXPECT_EQ(a.by_arch[kX86_64][41].key_args.size(), 2u);
  EXPECT_EQ(a.DistinctAllowed(), 2u);
  auto r = ProposeProfile(a, Parent());
  ASSERT_TRUE(r);
  EXPECT_NE(RuleFor(r->profile, "socket", 1), nullptr);  // one rule per (family, type)
}

}  // namespace
}  // namespace silk::tighten
