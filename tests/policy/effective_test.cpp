#include "policy/effective.hpp"

#include <gtest/gtest.h>
#include <seccomp.h>
#include <sys/syscall.h>

#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

const uint64_t kZero[6] = {0, 0, 0, 0, 0, 0};

SyscallRule Rule(std::vector<std::string> names, Action a, std::vector<ArgCondition> args = {},
                 std::optional<uint32_t> e = std::nullopt) {
  SyscallRule r;
  r.names = std::move(names);
  r.action = a;
  r.args = std::move(args);
  r.errno_ret = e;
  return r;
}

TEST(Effective, MostRestrictiveMatchingRuleWins) {
  Profile p;
  p.default_action = Action::kErrno;
  p.syscalls.push_back(Rule({"read"}, Action::kAllow, {{0, 3, 0, ArgOp::kLessThan}}));
  p.syscalls.push_back(Rule({"read"}, Action::kErrno, {{1, 0, 0, ArgOp::kEqualTo}}, EACCES));
  p.syscalls.push_back(Rule({"read"}, Action::kErrno, {{2, 7, 0, ArgOp::kEqualTo}}, EBADF));
  auto ep = MakeEffective(p, "x86_64");
  ASSERT_TRUE(ep) << ep.error().ToString();
  uint64_t a[6] = {1, 5, 0, 0, 0, 0};
  EXPECT_EQ(ep->Evaluate(SYS_read, a), (Verdict{Action::kAllow, 0}));
  a[1] = 0;
  EXPECT_EQ(ep->Evaluate(SYS_read, a), (Verdict{Action::kErrno, EACCES}));
  a[2] = 7;  // EBADF (9) vs EACCES (13): the smaller errno wins
  EXPECT_EQ(ep->Evaluate(SYS_read, a), (Verdict{Action::kErrno, EBADF}));
  a[0] = 9;
  a[1] = 4;
  a[2] = 0;
  EXPECT_EQ(ep->Evaluate(SYS_read, a), (Verdict{Action::kErrno, EPERM}));  // default
  EXPECT_EQ(ep->Evaluate(SYS_write, kZero), (Verdict{Action::kErrno, EPERM}));
  EXPECT_EQ(VerdictToString({Action::kErrno, ENOSYS}), "errno(ENOSYS)");
}

TEST(Effective, HorizonAndClone3) {
  Profile p;
  p.default_action = Action::kKillProcess;
  p.syscalls.push_back(Rule({"openat2"}, Action::kAllow));
  p.meta.horizon = "5.4";
  auto ep = MakeEffective(p, "SCMP_ARCH_X86_64");
  ASSERT_TRUE(ep) << ep.error().ToString();
  const Verdict enosys{Action::kErrno, ENOSYS};
  EXPECT_EQ(ep->Evaluate(SYS_clone3, kZero), enosys);
  EXPECT_EQ(ep->Evaluate(SYS_close_range, kZero), enosys);                             // 5.9 > 5.4
  EXPECT_EQ(ep->Evaluate(SYS_openat2, kZero), (Verdict{Action::kAllow, 0}));           // named
  EXPECT_EQ(ep->Evaluate(SYS_pidfd_open, kZero), (Verdict{Action::kKillProcess, 0}));  // 5.3
  EXPECT_EQ(ep->Evaluate(*SyscallNumber("mseal", SCMP_ARCH_X86_64), kZero), enosys);

  p.meta.clone3 = Clone3Policy::kAllow;
  ep = MakeEffective(p, "amd64");
  EXPECT_EQ(ep->Evaluate(SYS_clone3, kZero), (Verdict{Action::kAllow, 0}));
  p.meta.clone3 = Clone3Policy::kDeny;
  ep = MakeEffective(p, "amd64");
  EXPECT_EQ(ep->Evaluate(SYS_clone3, kZero), (Verdict{Action::kKillProcess, 0}));

  // A profile that names clone3 decides it itself.
  p.meta.clone3 = Clone3Policy::kEnosys;
  p.syscalls.push_back(Rule({"clone3"}, Action::kErrno, {}, EPERM));
  ep = MakeEffective(p, "amd64");
  EXPECT_EQ(ep->Evaluate(SYS_clone3, kZero), (Verdict{Action::kErrno, EPERM}));

  // A default that allows gets neither the horizon nor clone3 ENOSYS.
  Profile allow;
  allow.default_action = Action::kAllow;
  allow.meta.horizon = "4.0";
  ep = MakeEffective(allow, "amd64");
  EXPECT_TRUE(ep->syscalls.empty());
}

TEST(Effective, RejectsBadInputWithWhere) {
  Profile p;
  p.syscalls.push_back(Rule({"read"}, Action::kAllow));
  p.syscalls.push_back(Rule({"getpdi"}, Action::kAllow));
  auto ep = MakeEffective(p, "amd64");
  ASSERT_FALSE(ep);
  EXPECT_NE(ep.error().message().find("syscalls[1].names[0]"), std::string::npos);
  EXPECT_NE(ep.error().message().find("getpid"), std::string::npos) << ep.error().message();
  p.syscalls.pop_back();
  p.syscalls.push_back(Rule({"read"}, Action::kAllow, {{6, 0, 0, ArgOp::kEqualTo}}));
  EXPECT_FALSE(MakeEffective(p, "amd64"));
  p.syscalls.pop_back();
  p.meta.horizon = "latest";
  EXPECT_FALSE(MakeEffective(p, "amd64"));
  EXPECT_FALSE(MakeEffective(Profile{}, "vax"));
}

TEST(Effective, ArchSpecificNamesAndAllArches) {
  Profile p;
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  p.syscalls.push_back(Rule({"socketcall", "getpid"}, Action::kAllow));
  auto all = MakeEffectiveAll(p);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].arch, "SCMP_ARCH_X86_64");
  EXPECT_EQ((*all)[0].Evaluate(SYS_getpid, kZero).action, Action::kAllow);
  EXPECT_EQ((*all)[1].Evaluate(102, kZero).action, Action::kAllow);  // socketcall on i386
  EXPECT_EQ((*all)[1].Evaluate(20, kZero).action, Action::kAllow);   // getpid on i386
  EXPECT_EQ((*all)[2].Evaluate(0x40000000 + 39, kZero).action, Action::kAllow);
  EXPECT_EQ((*all)[0].syscalls.size(), 2u);  // getpid + clone3 (ENOSYS)
}

}  // namespace
}  // namespace silk::policy
