// `silk regress` and `silk policy learn` end to end through the built silk binary (issue
// 12): empty inputs and broken lineages are errors before any box runs, a failed
// learning run writes nothing, --json is JSON on stdout, regress prints the allowed
// count `policy show` prints, and JUnit agrees with the exit status. Root: boxes need
// namespaces.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "base/file.hpp"

namespace silk {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun SilkRedirected(const std::string& args, const std::string& redirect) {
  std::string cmd = std::string(SILK_BINARY_DIR) + "/cli/silk " + args + " " + redirect;
  CliRun r;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}
CliRun Silk(const std::string& args) { return SilkRedirected(args, "2>&1"); }
CliRun SilkStdout(const std::string& args) { return SilkRedirected(args, "2>/dev/null"); }

class Dir {
 public:
  Dir() {
    char tmpl[] = "/tmp/silk-regress-cli-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Sub(const std::string& name) const {
    fs::create_directories(File(name));
    return File(name);
  }

 private:
  std::string path_;
};

// A suite of one workload: busybox true.
std::string TrueSuite(const Dir& d) {
  std::string w = d.Sub("suite/true");
  EXPECT_TRUE(
      WriteFileAtomic(w + "/workload.json", R"({"command": ["busybox", "true"], "timeout": 20})"));
  return d.File("suite");
}

// A generation-1 profile for busybox, ⊆ gen0-sliver.
constexpr const char* kGen1 = R"({
  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
  "silk": {"name": "gen1", "extends": "gen0-sliver", "generation": 1, "horizon": "6.1"}
})";

class RegressCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "boxes need root (namespaces, cgroups)";
  }
};

TEST_F(RegressCli, EmptyLineageAndEmptySuiteAreErrors) {
  Dir d;
  const std::string suite = TrueSuite(d);
  CliRun empty_lineage = Silk("regress --profiles " + d.Sub("empty") + " --suite " + suite);
  EXPECT_EQ(empty_lineage.exit_code, 1) << empty_lineage.output;
  EXPECT_NE(empty_lineage.output.find("empty lineage"), std::string::npos) << empty_lineage.output;
  EXPECT_EQ(empty_lineage.output.find("0 generations"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(d.Sub("lineage") + "/gen1.json", kGen1));
  CliRun empty_suite =
      Silk("regress --profiles " + d.File("lineage") + " --suite " + d.Sub("no-workloads"));
  EXPECT_EQ(empty_suite.exit_code, 1) << empty_suite.output;
  EXPECT_NE(empty_suite.output.find("empty suite"), std::string::npos) << empty_suite.output;
  // --json: the error object on stdout.
  CliRun json = SilkStdout("regress --json --profiles " + d.File("empty") + " --suite " + suite);
  EXPECT_EQ(json.exit_code, 1);
  auto j = nlohmann::json::parse(json.output, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << json.output;
  EXPECT_EQ(j["error"]["field"], "--profiles");
}

TEST_F(RegressCli, BrokenLineageRunsNothing) {
  Dir d;
  const std::string suite = TrueSuite(d);
  // Asks for bpf, which gen0-sliver denies.
  ASSERT_TRUE(WriteFileAtomic(d.Sub("lineage") + "/greedy.json", R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["read", "bpf"], "action": "SCMP_ACT_ALLOW"}],
    "silk": {"name": "greedy", "extends": "gen0-sliver"}})"));
  CliRun r = Silk("regress --profiles " + d.File("lineage") + " --suite " + suite + " --junit " +
                  d.File("junit.xml"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("broken lineage"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bpf"), std::string::npos) << r.output;
  EXPECT_FALSE(ReadFile(d.File("junit.xml"))) << "a broken lineage wrote a report";
}

TEST_F(RegressCli, MatrixCountsAgreeWithShowAndJunitAgreesWithTheExitStatus) {
  Dir d;
  const std::string suite = TrueSuite(d);
  ASSERT_TRUE(WriteFileAtomic(d.Sub("lineage") + "/gen1.json", kGen1));
  const std::string base = d.File("base.json");
  // gen1 cannot run busybox (no execve): a failure the baseline then records.
  CliRun update = Silk("regress --profiles " + d.File("lineage") + " --suite " + suite +
                       " --baseline " + base + " --update-baseline");
  EXPECT_EQ(update.exit_code, 0) << update.output;
  CliRun again = SilkStdout("regress --json --profiles " + d.File("lineage") + " --suite " + suite +
                            " --baseline " + base + " --junit " + d.File("junit.xml"));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  auto j = nlohmann::json::parse(again.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << again.output;
  EXPECT_TRUE(j["regressions"].empty()) << again.output;
  ASSERT_GE(j["generations"].size(), 3u);  // podman-default, gen0-sliver, gen1
  for (const auto& g : j["generations"]) {
    if (g["name"] != "gen0-sliver") continue;
    auto show =
        nlohmann::json::parse(SilkStdout("policy show gen0-sliver --json --caps none").output);
    EXPECT_EQ(g["allow_set_size"], show["allowed"]["total"]);
  }
  EXPECT_FALSE(j["generations"].back()["results"]["true"]["pass"].get<bool>()) << again.output;
  auto junit = ReadFile(d.File("junit.xml"));
  ASSERT_TRUE(junit);
  EXPECT_EQ(junit->find("<failure"), std::string::npos) << *junit;
  EXPECT_NE(junit->find("<skipped message=\"accepted by baseline"), std::string::npos) << *junit;
  // Without the baseline the same failure fails the run, and JUnit says so.
  CliRun plain = Silk("regress --profiles " + d.File("lineage") + " --suite " + suite +
                      " --junit " + d.File("junit2.xml"));
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  auto junit2 = ReadFile(d.File("junit2.xml"));
  ASSERT_TRUE(junit2);
  EXPECT_NE(junit2->find("<failure"), std::string::npos) << *junit2;
}

TEST_F(RegressCli, FailedLearningWritesNothingAndJsonGoesToStdout) {
  Dir d;
  const std::string out = d.File("learned.json");
  CliRun failed = Silk("policy learn --out " + out + " -- /nonexistent");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("nothing was written"), std::string::npos) << failed.output;
  EXPECT_FALSE(fs::exists(out)) << "a failed learning run wrote " << out;
  CliRun failed_json = SilkStdout("policy learn --json --out " + out + " -- /nonexistent");
  EXPECT_EQ(failed_json.exit_code, 1);
  auto e = nlohmann::json::parse(failed_json.output, nullptr, false);
  ASSERT_TRUE(e.is_object() && e.contains("error")) << failed_json.output;
  EXPECT_FALSE(fs::exists(out));

  CliRun ok = SilkStdout("policy learn --json --out " + out + " -- busybox true");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto j = nlohmann::json::parse(ok.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << ok.output;
  EXPECT_GT(j["syscalls"].get<int>(), 0);
  EXPECT_EQ(j["out"], out);
  EXPECT_TRUE(fs::exists(out));
  // No --out: the profile travels inside the JSON, and stdout is still one document.
  CliRun inline_profile = SilkStdout("policy learn --json -- busybox true");
  auto k = nlohmann::json::parse(inline_profile.output, nullptr, false);
  ASSERT_TRUE(k.is_object()) << inline_profile.output;
  EXPECT_EQ(k["profile"]["silk"]["extends"], "gen0-sliver") << inline_profile.output;
}

}  // namespace
}  // namespace silk
