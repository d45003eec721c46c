// p1: built-in profiles (embedded at build time) and lineage directories.
#include <gtest/gtest.h>

#include <fstream>

#include "base/file.hpp"
#include "policy/algebra.hpp"
#include "policy/builtin.hpp"
#include "policy/effective.hpp"
#include "policy/lineage.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "profile_test_util.hpp"

namespace silk::policy {
namespace {

using testing::EffectiveText;
using testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomic(path, text)) << path;
}

std::string Meta(const std::string& name, const std::string& extends) {
  std::string m = "\"silk\": {\"name\": \"" + name + "\"";
  if (!extends.empty()) m += ", \"extends\": \"" + extends + "\"";
  return "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\"}], " +
         m + "}}";
}

TEST(Builtin, EveryBuiltinParsesAndIsNamedAfterItsFile) {
  auto names = BuiltinProfileNames();
  EXPECT_EQ(names, (std::vector<std::string>{"gen0-node", "gen0-sliver", "podman-default"}));
  for (const auto& name : names) {
    auto p = BuiltinProfile(name);
    ASSERT_TRUE(p) << p.error().ToString();
    EXPECT_EQ(p->meta.name, name);
    // The embedded text is the checked-in file, byte for byte, and canonical.
    auto file = ReadFile(std::string(SILK_SOURCE_DIR) + "/policy/profiles/" + name + ".json");
    ASSERT_TRUE(file);
    EXPECT_EQ(*BuiltinProfileText(name), *file);
    EXPECT_EQ(WriteProfile(*p), *file) << name << " is not in canonical form";
  }
  auto missing = BuiltinProfile("gen0-silver");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("gen0-sliver"), std::string::npos);
}

TEST(Builtin, PodmanDefaultIsDebiansProfile) {
  auto builtin = BuiltinProfile("podman-default");
  auto debian = ReadProfileFile("/usr/share/containers/seccomp.json");
  ASSERT_TRUE(builtin);
  ASSERT_TRUE(debian) << debian.error().ToString();
  Profile stripped = *builtin;
  stripped.meta = debian->meta;
  EXPECT_EQ(stripped, *debian);
  EXPECT_EQ(builtin->meta.clone3, Clone3Policy::kAllow);
}

TEST(Builtin, Gen0SliverIsPodmanWithoutCapabilitiesOnAmd64) {
  auto gen0 = BuiltinProfile("gen0-sliver");
  ASSERT_TRUE(gen0);
  EXPECT_EQ(gen0->meta.extends, "podman-default");
  EXPECT_EQ(gen0->meta.generation, 0);
  EXPECT_EQ(gen0->meta.clone3, Clone3Policy::kEnosys);
  EXPECT_EQ(gen0->meta.horizon, "6.1");
  EXPECT_FALSE(NeedsResolve(*gen0));
  EXPECT_EQ(gen0->architectures, std::vector<std::string>{"SCMP_ARCH_X86_64"});
  auto ep = MakeEffective(*gen0, "SCMP_ARCH_X86_64");
  ASSERT_TRUE(ep) << ep.error().ToString();
  uint64_t args[6] = {};
  auto nr = [](const char* name) { return *SyscallNumber(name, *ParseArch("amd64")); };
  EXPECT_EQ(ep->Evaluate(nr("read"), args).action, Action::kAllow);
  EXPECT_EQ(ep->Evaluate(nr("clone3"), args), (Verdict{Action::kErrno, 38}));
  EXPECT_EQ(ep->Evaluate(nr("bpf"), args), (Verdict{Action::kErrno, 1}));     // no CAP_SYS_ADMIN
  EXPECT_EQ(ep->Evaluate(nr("chroot"), args), (Verdict{Action::kErrno, 1}));  // no CAP_SYS_CHROOT
  // Same decisions as podman-default resolved with no capabilities, except clone3.
  auto podman = BuiltinProfile("podman-default");
  ASSERT_TRUE(podman);
  ResolveOptions o;
  o.arch = "amd64";
  o.caps = {};
  o.kernel = KernelVersion{6, 1};
  auto resolved = Resolve(*podman, o);
  ASSERT_TRUE(resolved);
  auto pep = MakeEffective(*resolved, "SCMP_ARCH_X86_64");
  ASSERT_TRUE(pep);
  for (const auto& [n, sp] : pep->syscalls) {
    if (sp.name == "clone3") continue;
    ASSERT_TRUE(ep->syscalls.count(n)) << sp.name;
    EXPECT_EQ(ep->syscalls.at(n).rules.size(), sp.rules.size()) << sp.name;
  }
}

// The lineage of the built-ins holds: gen0-sliver ⊆ podman-default, per architecture,
// for Docker's default capabilities and for none; and not the other way round.
TEST(Builtin, Gen0SliverIsASubsetOfPodmanDefault) {
  auto gen0 = BuiltinProfile("gen0-sliver");
  auto podman = BuiltinProfile("podman-default");
  ASSERT_TRUE(gen0 && podman);
  for (const auto& caps : {kDefaultCaps, std::vector<std::string>{}}) {
    ResolveOptions o;
    o.arch = "amd64";
    o.caps = caps;
    o.kernel = KernelVersion{6, 1};
    auto child = MakeEffectiveAll(*Resolve(*gen0, o));
    auto parent = MakeEffectiveAll(*Resolve(*podman, o));
    ASSERT_TRUE(child) << child.error().ToString();
    ASSERT_TRUE(parent) << parent.error().ToString();
    SubsetResult down = Subset(*child, *parent);
    EXPECT_TRUE(down.subset) << (down.violations.empty() ? "" : down.violations[0].text);
    SubsetResult up = Subset(*parent, *child);
    EXPECT_FALSE(up.subset);
  }
}

TEST(Builtin, LoadProfileTakesFilesAndBuiltinNames) {
  TempDir dir;
  Write(dir.File("mine.json"), Meta("mine", ""));
  auto f = LoadProfile(dir.File("mine.json"));
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_EQ(f->meta.name, "mine");
  auto b = LoadProfile("gen0-sliver");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->meta.name, "gen0-sliver");
  auto prefixed = LoadProfile("builtin:podman-default");
  ASSERT_TRUE(prefixed);
  auto none = LoadProfile("no-such-profile");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find("gen0-sliver"), std::string::npos);
  auto bad_file = LoadProfile(dir.File("absent.json"));
  ASSERT_FALSE(bad_file);
  EXPECT_EQ(bad_file.error().code(), ErrorCode::kNotFound);
}

TEST(Lineage, TreeWithBuiltinParents) {
  TempDir dir;
  Write(dir.File("a.json"), Meta("gen1-a", "gen0-sliver"));
  Write(dir.File("b.json"), Meta("gen2-b", "gen1-a"));
  Write(dir.File("c.json"), Meta("gen2-c", "gen1-a"));
  Write(dir.File("README.txt"), "not a profile");
  auto l = LoadLineage(dir.path());
  ASSERT_TRUE(l) << l.error().ToString();
  EXPECT_EQ(l->roots, std::vector<std::string>{"podman-default"});
  EXPECT_EQ(l->nodes.at("gen0-sliver").file, "<builtin:gen0-sliver>");
  EXPECT_EQ(l->nodes.at("gen1-a").children, (std::vector<std::string>{"gen2-b", "gen2-c"}));
  auto edges = l->Edges();
  ASSERT_EQ(edges.size(), 4u);
  EXPECT_EQ(edges[0], (std::pair<std::string, std::string>{"gen0-sliver", "podman-default"}));
  EXPECT_EQ(edges[1], (std::pair<std::string, std::string>{"gen1-a", "gen0-sliver"}));
}

TEST(Lineage, NameDefaultsToFileName) {
  TempDir dir;
  Write(dir.File("plain.json"), "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}");
  auto l = LoadLineage(dir.path());
  ASSERT_TRUE(l) << l.error().ToString();
  EXPECT_EQ(l->roots, std::vector<std::string>{"plain"});
}

TEST(Lineage, MissingParentNamesFileAndNearestName) {
  TempDir dir;
  Write(dir.File("a.json"), Meta("gen1", "gen0-silver"));
  auto l = LoadLineage(dir.path());
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code(), ErrorCode::kInvalidInput);
  const std::string& m = l.error().message();
  EXPECT_NE(m.find(dir.File("a.json") + ": silk.extends names 'gen0-silver'"), std::string::npos)
      << m;
  EXPECT_NE(m.find("did you mean 'gen0-sliver'"), std::string::npos) << m;
}

TEST(Lineage, CycleNamesEveryFile) {
  TempDir dir;
  Write(dir.File("x.json"), Meta("x", "y"));
  Write(dir.File("y.json"), Meta("y", "z"));
  Write(dir.File("z.json"), Meta("z", "x"));
  Write(dir.File("w.json"), Meta("w", "x"));  // hangs off the cycle, not part of it
  auto l = LoadLineage(dir.path());
  ASSERT_FALSE(l);
  const std::string& m = l.error().message();
  EXPECT_NE(m.find("cycle in silk.extends"), std::string::npos) << m;
  for (const char* f : {"x.json", "y.json", "z.json"})
    EXPECT_NE(m.find(dir.File(f)), std::string::npos) << f << " in " << m;
  EXPECT_EQ(m.find(dir.File("w.json")), std::string::npos) << m;
  EXPECT_EQ(m.find("cycle", m.find("cycle") + 1), std::string::npos) << "one cycle, reported once";
}

TEST(Lineage, DuplicateNamesAndParseErrorsAreAllReported) {
  TempDir dir;
  Write(dir.File("one.json"), Meta("same", ""));
  Write(dir.File("two.json"), Meta("same", ""));
  Write(dir.File("bad.json"), "{\"defaultAction\": \"SCMP_ACT_ALOW\"}");
  auto l = LoadLineage(dir.path());
  ASSERT_FALSE(l);
  const std::string& m = l.error().message();
  EXPECT_NE(m.find(dir.File("two.json") + ": profile name 'same' is also used by " +
                   dir.File("one.json")),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(dir.File("bad.json") + ":1:19: defaultAction: unknown action"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("(2 errors"), std::string::npos) << m;
}

TEST(Lineage, MissingDirectory) {
  auto l = LoadLineage("/nonexistent/silk/profiles");
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace silk::policy
