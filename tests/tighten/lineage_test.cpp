// The lineage podman-default -> learned for a real workload -> minimised, each step
// checked ⊆ by the algebra, run in real boxes; minimisation bad input; the regression
// matrix with a failing generation and its first denial. Root: boxes need namespaces.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "compat/box.hpp"
#include "policy/profile_json.hpp"
#include "tighten/learn.hpp"
#include "tighten/local_box_executor.hpp"
#include "tighten/minimize.hpp"
#include "tighten/regress.hpp"

namespace silk::tighten {
namespace {

namespace fs = std::filesystem;

// Directories named after this process's boxes ("learn<pid>-N", tighten/local_box_executor.cpp)
// under the box state root and in every mounted cgroup hierarchy (v1 and v2).
std::vector<std::string> BoxLeftovers() {
  const std::string prefix = "learn" + std::to_string(getpid()) + "-";
  std::vector<std::string> roots = {compat::DefaultStateRoot()};
  auto mounts = ReadFile("/proc/self/mounts");
  EXPECT_TRUE(mounts);
  for (const auto& line : Split(mounts ? *mounts : "", '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 2 && (f[2] == "cgroup" || f[2] == "cgroup2")) roots.push_back(f[1]);
  }
  std::vector<std::string> left;
  for (const auto& root : roots) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && it->path().filename().string().rfind(prefix, 0) == 0)
        left.push_back(it->path());
  }
  return left;
}

tighten::Workload SqliteCli() {
  auto s = tighten::LoadSuite(std::string(SILK_SOURCE_DIR) + "/tests/workloads/sqlite3-cli");
  EXPECT_TRUE(s) << s.error().ToString();
  return s->workloads.at(0);
}

TEST(Lineage, PodmanToLearnedToMinimisedEachSubsetAndRegressed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: boxes and the recorder use namespaces";
  auto parent = LoadResolvedProfile("podman-default");
  ASSERT_TRUE(parent) << parent.error().ToString();

  LearnRequest lr;
  lr.parent = *parent;
  lr.workloads = {SqliteCli()};
  lr.propose.name = "learned";
  LocalBoxExecutor executor;
  auto learned = Learn(executor, lr);
  ASSERT_TRUE(learned) << learned.error().ToString();
  ASSERT_TRUE(learned->all_passed());
  const policy::Profile& gen1 = learned->proposal.profile;
  EXPECT_EQ(gen1.meta.extends, "podman-default");
  ASSERT_TRUE(tighten::CheckSubsetOf(gen1, *parent));

  MinimizeRequest mr;
  mr.profile = gen1;
  mr.oracle = {SqliteCli()};
  mr.options.ddmin.jobs = 2;
  mr.options.name = "minimised";
  auto min = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_TRUE(min) << min.error().ToString();
  EXPECT_TRUE(min->one_minimal);
  EXPECT_LT(min->kept.size(), tighten::AllowedNames(gen1).size());
  EXPECT_EQ(min->profile.meta.extends, "learned");
  ASSERT_TRUE(tighten::CheckSubsetOf(min->profile, gen1));

  // Regress the lineage: all pass; a profile that lost 'openat' breaks, with a denial.
  char tmpl[] = "/tmp/silk-lineage-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  policy::Profile broken = tighten::RestrictProfile(min->profile, {"execve"}, {});
  broken.meta.name = "broken";
  broken.meta.extends = "minimised";
  for (const auto& p : {*parent, gen1, min->profile, broken})
    ASSERT_TRUE(WriteFileAtomic(dir + "/" + p.meta.name + ".json", policy::WriteProfile(p)));
  RegressRequest rr;
  rr.profiles_dir = dir;
  rr.suite.dir = "sqlite3-cli";
  rr.suite.workloads = {SqliteCli()};
  auto m = RunRegress(executor, rr);
  fs::remove_all(dir);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_EQ(m->profiles.size(), 4u);
  EXPECT_EQ(m->profiles[0].name, "podman-default");
  EXPECT_EQ(m->profiles[3].name, "broken");
  EXPECT_GT(m->profiles[0].allow_set_size, m->profiles[1].allow_set_size);
  EXPECT_GT(m->profiles[1].allow_set_size, m->profiles[2].allow_set_size);
  for (size_t g = 0; g < 3; ++g) EXPECT_TRUE(m->cells[g][0].pass) << m->profiles[g].name;
  EXPECT_FALSE(m->cells[3][0].pass);
  EXPECT_EQ(m->FirstBreak(0), 3u);
}

TEST(Minimize, BadOracles) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: boxes use namespaces";
  auto parent = LoadResolvedProfile("gen0-sliver");
  ASSERT_TRUE(parent) << parent.error().ToString();
  LocalBoxExecutor executor;
  MinimizeRequest mr;
  mr.profile = *parent;
  // Not found in the box.
  mr.oracle = {tighten::ShellWorkload("nf", "exec no-such-oracle-silk", 10)};
  mr.oracle[0].command = {"no-such-oracle-silk"};
  auto r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  // Fails under the unrestricted parent: nothing to preserve.
  mr.oracle = {tighten::ShellWorkload("false", "exit 3", 10)};
  r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("nothing to preserve"), std::string::npos);
  // Empty suite: no oracle workload at all.
  mr.oracle = {};
  r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("no oracle workload"), std::string::npos);
  // Hangs: timeout reported (naming the workload and the limit), box cleaned: no state
  // directory under the state root and no cgroup in any hierarchy is left.
  mr.oracle = {tighten::ShellWorkload("hang", "sleep 1000", 1)};
  r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("timed out after 1"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("'hang'"), std::string::npos) << r.error().message();
  EXPECT_EQ(BoxLeftovers(), std::vector<std::string>{});
}

}  // namespace
}  // namespace silk::tighten
