// p1: resolving Docker/Podman extensions for an architecture, capability set and kernel,
// and making silk's clone3 policy and horizon explicit for plain OCI output.
#include <gtest/gtest.h>

#include <set>

#include "policy/effective.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "profile_test_util.hpp"

namespace silk::policy {
namespace {

using testing::EffectiveText;

Profile Parse(const char* text) {
  auto p = ParseProfile(text, "t.json");
  EXPECT_TRUE(p) << p.error().ToString();
  return p ? *p : Profile{};
}

std::set<std::string> Names(const Profile& p) {
  std::set<std::string> out;
  for (const auto& r : p.syscalls) out.insert(r.names.begin(), r.names.end());
  return out;
}

constexpr const char* kExtended = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
  ],
  "syscalls": [
    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
    {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
    {"names": ["modify_ldt"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
    {"names": ["openat2"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.6"}},
    {"names": ["open"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.6"}}
  ]
})";

TEST(Resolve, ArchitecturesFromArchMapAndArchFilters) {
  Profile p = Parse(kExtended);
  ResolveOptions o;
  o.arch = "amd64";
  o.caps = {};
  o.kernel = KernelVersion{6, 1};
  auto r = Resolve(p, o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_TRUE(r->arch_map.empty());
  EXPECT_FALSE(NeedsResolve(*r));
  EXPECT_EQ(Names(*r), (std::set<std::string>{"read", "arch_prctl", "mount", "openat2"}));
  for (const auto& rule : r->syscalls) {
    EXPECT_TRUE(rule.includes.empty());
    EXPECT_TRUE(rule.excludes.empty());
    if (rule.names[0] == "mount") {
      EXPECT_EQ(rule.action, Action::kErrno);
    }
  }

  o.arch = "SCMP_ARCH_AARCH64";
  r = Resolve(p, o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_EQ(Names(*r),
            (std::set<std::string>{"read", "set_tls", "modify_ldt", "mount", "openat2"}));

  // An architecture without an archMap entry keeps "architectures" (here: none).
  o.arch = "s390x";
  r = Resolve(p, o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->architectures.empty());
}

TEST(Resolve, CapabilitiesAllMustBePresentForIncludes) {
  Profile p = Parse(kExtended);
  ResolveOptions o;
  o.arch = "x86_64";
  o.kernel = KernelVersion{6, 1};
  o.caps = {"CAP_SYS_ADMIN"};
  auto r = Resolve(p, o);
  ASSERT_TRUE(r);
  int mounts = 0;
  for (const auto& rule : r->syscalls)
    if (rule.names[0] == "mount") {
      ++mounts;
      EXPECT_EQ(rule.action, Action::kAllow);
    }
  EXPECT_EQ(mounts, 1);
  EXPECT_FALSE(Names(*r).count("ptrace"));  // needs both caps
  o.caps = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"};
  r = Resolve(p, o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(Names(*r).count("ptrace"));
}

TEST(Resolve, MinKernel) {
  Profile p = Parse(kExtended);
  ResolveOptions o;
  o.arch = "amd64";
  o.kernel = KernelVersion{5, 4};
  auto r = Resolve(p, o);
  ASSERT_TRUE(r);
  EXPECT_FALSE(Names(*r).count("openat2"));
  EXPECT_TRUE(Names(*r).count("open"));
  o.kernel = KernelVersion{5, 6};
  r = Resolve(p, o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(Names(*r).count("openat2"));
  EXPECT_FALSE(Names(*r).count("open"));
}

TEST(Resolve, UnknownArchitectureIsAnErrorWithSuggestions) {
  Profile p = Parse(kExtended);
  ResolveOptions o;
  o.arch = "amd46";
  auto r = Resolve(p, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().ToString().find("amd46"), std::string::npos);
}

TEST(Resolve, CapList) {
  auto none = ParseCapList("none");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto def = ParseCapList("default");
  ASSERT_TRUE(def);
  EXPECT_EQ(*def, kDefaultCaps);
  EXPECT_EQ(kDefaultCaps.size(), 14u);
  auto some = ParseCapList("net_admin, CAP_SYS_ADMIN,net_admin");
  ASSERT_TRUE(some);
  EXPECT_EQ(*some, (std::vector<std::string>{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}));
  auto bad = ParseCapList("CAP_SYS_ADMN");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("CAP_SYS_ADMIN"), std::string::npos);
  auto all = ParseCapList("all");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 41u);
}

TEST(Resolve, MaterializedSilkRulesKeepTheEffectivePolicy) {
  for (Clone3Policy clone3 : {Clone3Policy::kEnosys, Clone3Policy::kAllow, Clone3Policy::kDeny}) {
    for (Action def : {Action::kErrno, Action::kAllow, Action::kKillProcess}) {
      Profile p = Parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "clone"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
      p.default_action = def;
      p.meta.horizon = "5.4";
      p.meta.clone3 = clone3;
      auto m = MaterializeSilkRules(p);
      ASSERT_TRUE(m) << m.error().ToString();
      EXPECT_TRUE(ValidateProfile(*m).empty()) << ValidateProfile(*m)[0].ToString();
      Profile plain = *m;
      // What a runtime that ignores "silk" sees: no horizon, and clone3 (when not named)
      // decided by the default action: the one clone3 policy that adds nothing.
      plain.meta = {};
      plain.meta.clone3 = def == Action::kAllow ? Clone3Policy::kEnosys : Clone3Policy::kDeny;
      auto a = MakeEffective(p, "SCMP_ARCH_X86_64");
      auto b = MakeEffective(plain, "SCMP_ARCH_X86_64");
      ASSERT_TRUE(a) << a.error().ToString();
      ASSERT_TRUE(b) << b.error().ToString();
      EXPECT_EQ(EffectiveText(*a), EffectiveText(*b))
          << "clone3 policy " << static_cast<int>(clone3) << " default " << ActionName(def);
    }
  }
}

}  // namespace
}  // namespace silk::policy
