// Profile minimisation on a synthetic oracle that reads the candidate's effective policy
// (the reference semantics, policy/effective.hpp): ENOSYS tried before EPERM, lineage,
// 1-minimality, refusal when the oracle fails under the input profile.
#include "tighten/ddmin_profile.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "policy/effective.hpp"
#include "policy/syscalls.hpp"

namespace silk::tighten {
namespace {

constexpr const char* kArch = "SCMP_ARCH_X86_64";

policy::Profile Input() {
  policy::Profile p;
  p.default_action = policy::Action::kErrno;
  p.default_errno_ret = EPERM;
  p.architectures = {kArch};
  p.meta.name = "wide";
  p.meta.generation = 1;
  policy::SyscallRule allow;
  allow.names = {"read",  "write", "openat", "close", "clone",  "clone3", "getpid", "mkdir",
                 "rmdir", "uname", "brk",    "mmap",  "munmap", "pipe2",  "dup",    "dup2"};
  p.syscalls.push_back(allow);
  return p;
}

policy::Verdict Of(const policy::EffectivePolicy& e, const char* name) {
  uint64_t args[6] = {};
  return e.Evaluate(*policy::SyscallNumber(name, policy::NativeArch()), args);
}

// Needs read, write, openat and clone (fork); starts threads with clone3, falling back
// to clone only when clone3 says ENOSYS (glibc's behaviour: EPERM is fatal).
Result<bool> Workload(const policy::Profile& candidate) {
  auto e = SILK_TRY(policy::MakeEffective(candidate, kArch));
  for (const char* n : {"read", "write", "openat"})
    if (!policy::Allows(Of(e, n))) return false;
  if (!policy::Allows(Of(e, "clone"))) return false;
  policy::Verdict c3 = Of(e, "clone3");
  return policy::Allows(c3) || c3 == policy::Verdict{policy::Action::kErrno, ENOSYS};
}

TEST(MinimizeProfile, KeepsTheNeededSetAndPicksEnosysOnlyWhereNeeded) {
  MinimizeOptions opt;
  opt.ddmin.jobs = 2;
  opt.name = "min";
  auto r = MinimizeProfile(Input(), Workload, opt);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kept, (std::vector<std::string>{"clone", "openat", "read", "write"}));
  EXPECT_EQ(r->removed_enosys, (std::vector<std::string>{"clone3"}));
  EXPECT_EQ(r->removed_eperm.size(), 11u);
  EXPECT_TRUE(r->one_minimal);
  EXPECT_GT(r->oracle_runs, 0u);
  EXPECT_EQ(r->profile.meta.name, "min");
  EXPECT_EQ(r->profile.meta.extends, "wide");
  EXPECT_EQ(r->profile.meta.generation, 2);
  auto pass = Workload(r->profile);
  ASSERT_TRUE(pass);
  EXPECT_TRUE(*pass);
  // Every syscall the result allows, the input allows (reference semantics).
  auto child = policy::MakeEffective(r->profile, kArch);
  auto parent = policy::MakeEffective(Input(), kArch);
  ASSERT_TRUE(child && parent);
  for (const auto& [nr, sp] : child->syscalls) {
    uint64_t args[6] = {};
    if (policy::Allows(child->Evaluate(nr, args))) {
      EXPECT_TRUE(policy::Allows(parent->Evaluate(nr, args))) << sp.name;
    }
  }
}

// The final proof under the profile as written takes what it finds removable: here
// getpid seems needed while every removal answers ENOSYS (phase 1's candidates; as if a
// run had failed spuriously) but is not once the others answer EPERM. The proof used to
// report "not 1-minimal" and keep getpid; it now removes it and proves again.
TEST(MinimizeProfile, TheFinalProofTakesWhatItFindsRemovable) {
  auto oracle = [](const policy::Profile& candidate) -> Result<bool> {
    if (!SILK_TRY(Workload(candidate))) return false;
    auto e = SILK_TRY(policy::MakeEffective(candidate, kArch));
    bool some_eperm = false;  // phase 1 denies every removal with ENOSYS
    const policy::Profile input = Input();
    for (const auto& n : input.syscalls[0].names)
      some_eperm = some_eperm || Of(e, n.c_str()) == policy::Verdict{policy::Action::kErrno, EPERM};
    return policy::Allows(Of(e, "getpid")) || some_eperm;
  };
  MinimizeOptions opt;
  opt.ddmin.jobs = 2;
  auto r = MinimizeProfile(Input(), oracle, opt);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->one_minimal);
  EXPECT_EQ(r->removed_by_proof, (std::vector<std::string>{"getpid"}));
  EXPECT_EQ(r->kept, (std::vector<std::string>{"clone", "openat", "read", "write"}));
  auto pass = oracle(r->profile);
  ASSERT_TRUE(pass);
  EXPECT_TRUE(*pass);
}

TEST(MinimizeProfile, RefusesWhenTheOracleFailsUnderTheInput) {
  auto r = MinimizeProfile(Input(), [](const policy::Profile&) -> Result<bool> { return false; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("nothing to preserve"), std::string::npos);
}

TEST(MinimizeProfile, RestrictProfileNamesModes) {
  policy::Profile p = RestrictProfile(Input(), {"read"}, {"clone3"});
  EXPECT_EQ(AllowedNames(p), (std::vector<std::string>{"read"}));
  // Both modes explicit (an unnamed clone3 would get the clone3 policy instead).
  ASSERT_EQ(p.syscalls.size(), 3u);
  EXPECT_EQ(p.syscalls[1].names, (std::vector<std::string>{"clone3"}));
  EXPECT_EQ(p.syscalls[1].errno_ret, uint32_t{ENOSYS});
  EXPECT_EQ(p.syscalls[2].errno_ret, uint32_t{EPERM});
  EXPECT_EQ(p.syscalls[2].names.size(), 14u);
}

}  // namespace
}  // namespace silk::tighten
