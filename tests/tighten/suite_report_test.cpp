// Suite parsing (bad input named by file and field) and the regression reports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tighten/regress_report.hpp"
#include "tighten/suite.hpp"

namespace silk::tighten {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/silk-suite-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& text) const {
    fs::create_directories(fs::path(path_ + "/" + rel).parent_path());
    std::ofstream(path_ + "/" + rel) << text;
  }

 private:
  std::string path_;
};

TEST(Suite, LoadsWorkloadsSortedAndExpandsFiles) {
  TempDir d;
  d.Write("b/workload.json",
          R"({"command": ["python3", "-c", "@x.py", "{run}"], "files": ["x.py"],
              "timeout": 5, "env": ["A=1"]})");
  d.Write("b/x.py", "print(1)\n");
  d.Write("a/workload.json", R"({"command": ["true"], "expect_exit": 0})");
  auto s = LoadSuite(d.path());
  ASSERT_TRUE(s) << s.error().ToString();
  ASSERT_EQ(s->workloads.size(), 2u);
  EXPECT_EQ(s->workloads[0].name, "a");
  EXPECT_EQ(s->workloads[1].timeout_seconds, 5);
  auto argv = ExpandCommand(s->workloads[1], 7);
  ASSERT_TRUE(argv);
  EXPECT_EQ(*argv, (std::vector<std::string>{"python3", "-c", "print(1)\n", "7"}));
  auto env = RunEnvironment(s->workloads[1], 7);
  EXPECT_NE(std::find(env.begin(), env.end(), "SILK_RUN=7"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "A=1"), env.end());
}

TEST(Suite, BadInputNamesFileAndField) {
  TempDir d;
  d.Write("w/workload.json", R"({"command": ["true"], "timeot": 3})");
  auto s = LoadSuite(d.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("w/workload.json"), std::string::npos);
  EXPECT_NE(s.error().message().find("timeot"), std::string::npos);

  d.Write("w/workload.json", R"({"command": ["sh", "@missing.sh"]})");
  s = LoadSuite(d.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("command[1]"), std::string::npos);

  d.Write("w/workload.json", R"({"command": []})");
  EXPECT_FALSE(LoadSuite(d.path()));
  d.Write("w/workload.json", R"({"command": ["true"], "files": ["../etc/passwd"]})");
  EXPECT_FALSE(LoadSuite(d.path()));
  d.Write("w/workload.json", "{not json");
  s = LoadSuite(d.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("invalid JSON"), std::string::npos);
}

TEST(Suite, EmptySuiteAndMissingDirectory) {
  TempDir d;
  auto s = LoadSuite(d.path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(s.error().message().find("empty suite"), std::string::npos);
  s = LoadSuite(d.path() + "/nope");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
}

TEST(Suite, ShippedWorkloadsParse) {
  auto s = LoadSuite(std::string(SILK_SOURCE_DIR) + "/tests/workloads");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_GE(s->workloads.size(), 8u);
}

RegressMatrix Sample() {
  RegressMatrix m;
  m.suite = "tests/workloads";
  m.profiles = {{"podman-default", "a.json", "", 370},
                {"learned", "b.json", "podman-default", 80},
                {"minimised", "c.json", "learned", 41}};
  m.workloads = {"busybox", "python-<json>"};
  m.cells.assign(3, std::vector<RegressCell>(2));
  for (auto& row : m.cells)
    for (auto& c : row) c.pass = true;
  m.cells[2][1] = RegressCell{false, 1, false, "socket(0x2, 0x1, ...) -> errno(EPERM)", "", 12};
  return m;
}

TEST(RegressReport, FirstBreakAndRenderings) {
  RegressMatrix m = Sample();
  EXPECT_EQ(m.Failures(), 1u);
  EXPECT_EQ(m.FirstBreak(1), 2u);
  EXPECT_FALSE(m.FirstBreak(0));
  std::string t = RenderTerminal(m);
  EXPECT_NE(t.find("python-<json> breaks first at minimised"), std::string::npos);
  EXPECT_NE(t.find("socket(0x2"), std::string::npos);
  std::string x = RenderJunitXml(m);
  EXPECT_NE(x.find("failures=\"1\""), std::string::npos);
  EXPECT_NE(x.find("name=\"python-&lt;json&gt;\""), std::string::npos);
  EXPECT_EQ(x.find("<json>"), std::string::npos);
  std::string h = RenderHtml(m);
  EXPECT_NE(h.find("<svg"), std::string::npos);
  EXPECT_NE(h.find(">370<"), std::string::npos);
  EXPECT_EQ(h.find("http://"), h.find("http://www.w3.org/2000/svg"));  // no external resources
  EXPECT_EQ(h.find("<script"), std::string::npos);
}

// JUnit agrees with the exit status: a failure the baseline records is skipped, not failed.
TEST(RegressReport, JunitSkipsWhatTheBaselineAcceptsAndSaysWhereItRan) {
  RegressMatrix m = Sample();
  ReportContext ctx;
  ctx.hostname = "node-<1>";
  ctx.timestamp = "2024-05-01T12:00:00Z";
  ctx.silk_version = "silk 0.1.0";
  ctx.baseline_file = "base.json";
  auto b = ParseBaseline(MatrixToJson(m), "base.json");
  ASSERT_TRUE(b);
  ctx.baseline = *b;
  EXPECT_TRUE(AcceptedByBaseline(m, 2, 1, ctx.baseline));
  EXPECT_FALSE(AcceptedByBaseline(m, 0, 0, ctx.baseline));  // passes
  std::string x = RenderJunitXml(m, ctx);
  EXPECT_EQ(x.find("<failure"), std::string::npos) << x;
  EXPECT_NE(x.find("<skipped message=\"accepted by baseline: exit 1; first denied: socket(0x2"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("failures=\"0\" skipped=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("timestamp=\"2024-05-01T12:00:00Z\""), std::string::npos) << x;
  EXPECT_NE(x.find("hostname=\"node-&lt;1&gt;\""), std::string::npos) << x;
  EXPECT_NE(
      x.find("<system-out>first denied: socket(0x2, 0x1, ...) -&gt; errno(EPERM)</system-out>"),
      std::string::npos)
      << x;
  EXPECT_NE(x.find("<property name=\"profile\" value=\"c.json\"/>"), std::string::npos) << x;
  // A cell the baseline does not know is a failure.
  m.cells[0][0].pass = false;
  x = RenderJunitXml(m, ctx);
  EXPECT_NE(x.find("<failure"), std::string::npos) << x;
  // Without a baseline every failing cell is a failure.
  EXPECT_EQ(RenderJunitXml(Sample()).find("<skipped"), std::string::npos);

  std::string h = RenderHtml(Sample(), ctx);
  for (const char* part :
       {"node-&lt;1&gt;", "silk 0.1.0", "2024-05-01T12:00:00Z", "base.json", "a.json", "c.json",
        "allowed syscalls (native arch)", "generation (lineage order)", "accepted by baseline"})
    EXPECT_NE(h.find(part), std::string::npos) << part;
}

TEST(RegressReport, BaselineRoundTripAndCompare) {
  RegressMatrix m = Sample();
  auto b = ParseBaseline(MatrixToJson(m), "base.json");
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_EQ(b->size(), 6u);
  EXPECT_TRUE(CompareToBaseline(*b, m).empty());  // the known failure is accepted
  m.cells[1][0].pass = false;
  auto regs = CompareToBaseline(*b, m);
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].profile, "learned");
  EXPECT_NE(regs[0].why.find("passed in the baseline"), std::string::npos);
  EXPECT_FALSE(ParseBaseline("{\"generations\": 3}", "b.json"));
  EXPECT_FALSE(ParseBaseline("[", "b.json"));
}

}  // namespace
}  // namespace silk::tighten
