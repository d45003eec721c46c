// The lab above the executor (learn, minimise, tighten, regress), run on a FAKE workload
// executor: each fake workload "needs" a set of syscalls and passes exactly when the
// profile allows all of them. No box runs, so this is a unit test of the orchestration:
// lineage metadata and the subset proof of Tighten, the executor's runtime syscalls,
// executor errors, parallel runs, and the regression matrix against a baseline.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "base/file.hpp"
#include "policy/effective.hpp"
#include "policy/profile_json.hpp"
#include "policy/syscalls.hpp"
#include "tighten/ddmin_profile.hpp"
#include "tighten/executor.hpp"
#include "tighten/learn.hpp"
#include "tighten/minimize.hpp"
#include "tighten/regress.hpp"
#include "tighten/tighten.hpp"

namespace silk::tighten {
namespace {

namespace fs = std::filesystem;
constexpr const char* kArch = "SCMP_ARCH_X86_64";

policy::Profile Wide() {
  policy::Profile p;
  p.default_action = policy::Action::kErrno;
  p.default_errno_ret = EPERM;
  p.architectures = {kArch};
  p.meta.name = "wide";
  p.meta.generation = 1;
  policy::SyscallRule allow;
  allow.names = {"read", "write", "openat", "close", "getpid", "uname", "mkdir", "rmdir"};
  p.syscalls.push_back(allow);
  return p;
}

Workload Needs(const std::string& name) {
  Workload w;
  w.name = name;
  w.command = {"fake-" + name};
  return w;
}

// A FAKE executor: workload name -> the syscalls it makes. A run passes when the profile
// allows every one of them; learning records them (allowed or denied by the parent). A
// workload named "setup-error" cannot be set up (an executor error).
class FakeExecutor : public WorkloadExecutor {
 public:
  explicit FakeExecutor(std::map<std::string, std::vector<std::string>> needs)
      : needs_(std::move(needs)) {}

  Result<WorkloadOutcome> Execute(const Workload& w, int run, const policy::Profile& profile,
                                  const ExecuteOptions& options) override {
    const int now = ++inside_;
    int most = most_inside_.load();
    while (now > most && !most_inside_.compare_exchange_weak(most, now)) {
    }
    ++runs_;
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{inside_};
    if (w.name == "setup-error")
      return Fail(ErrorCode::kSystem, "fake executor: cannot set up " + w.name);
    if (options.learn) ++learning_runs_;
    if (options.report_denials) ++reporting_runs_;
    auto e = SILK_TRY(policy::MakeEffective(profile, kArch));
    WorkloadOutcome o;
    o.exit_status = 0;
    for (const auto& name : needs_.at(w.name)) {
      const int nr = *policy::SyscallNumber(name, policy::NativeArch());
      uint64_t args[6] = {};
      const policy::Verdict v = e.Evaluate(nr, args);
      if (options.learn) {
        if (policy::Allows(v))
          o.observations.AddAllowed(kArch, nr, name, args);
        else
          o.observations.AddDenied(kArch, nr, name, args, 100 + run, v);
      }
      if (!policy::Allows(v) && o.exit_status == 0) {
        o.exit_status = 1;
        if (options.report_denials) {
          Denial d;
          d.syscall = name;
          d.nr = nr;
          d.count = 1;
          d.verdict = policy::VerdictToString(v);
          o.denials.push_back(d);
          o.first_denial = DenialToString(d);
        }
      }
    }
    o.pass = o.exit_status == w.expect_exit;
    return o;
  }

  // A runtime call that no workload makes: learning must add it, minimising keep it.
  std::vector<std::string> RuntimeSyscalls() const override { return {"getpid"}; }

  std::atomic<int> runs_{0}, learning_runs_{0}, reporting_runs_{0}, most_inside_{0};

 private:
  std::map<std::string, std::vector<std::string>> needs_;
  std::atomic<int> inside_{0};
};

Suite TwoWorkloads() {
  Suite s;
  s.dir = "fake-suite";
  s.workloads = {Needs("a"), Needs("b")};
  return s;
}

std::map<std::string, std::vector<std::string>> kNeeds = {
    {"a", {"read", "write"}}, {"b", {"openat", "close"}}, {"c", {"read", "mount"}}};

TEST(FakeExecutor, TightenLearnsMinimisesAndProvesTheChild) {
  FakeExecutor executor(kNeeds);
  TightenRequest req;
  req.parent = Wide();
  req.parent_ref = "wide.json";
  req.suite = TwoWorkloads();
  req.runs_per_workload = 2;
  req.minimize = true;
  req.jobs = 2;
  req.child_name = "child";
  auto r = Tighten(executor, req);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(executor.learning_runs_, 4);  // 2 workloads x 2 runs
  EXPECT_TRUE(r->learned.all_passed());
  ASSERT_TRUE(r->minimized);
  EXPECT_TRUE(r->minimized->one_minimal);
  // The needed calls, and the runtime's getpid, which no workload makes.
  EXPECT_EQ(r->minimized->kept,
            (std::vector<std::string>{"close", "getpid", "openat", "read", "write"}));
  EXPECT_EQ(r->allowed_before, AllowedNames(r->learned.proposal.profile).size());
  // Lineage metadata: the child extends the parent directly, one generation down.
  EXPECT_EQ(r->child.meta.name, "child");
  EXPECT_EQ(r->child.meta.extends, "wide");
  EXPECT_EQ(r->child.meta.generation, 2);
  EXPECT_NE(r->child.meta.notes.find("tightened from wide.json for suite fake-suite"),
            std::string::npos)
      << r->child.meta.notes;
  EXPECT_NE(r->child.meta.notes.find("1-minimal"), std::string::npos) << r->child.meta.notes;
  EXPECT_TRUE(CheckSubsetOf(r->child, Wide()));
  EXPECT_EQ(AllowedNames(r->child), r->minimized->kept);
}

TEST(FakeExecutor, TightenWithoutMinimiseKeepsTheLearnedProfile) {
  FakeExecutor executor(kNeeds);
  TightenRequest req;
  req.parent = Wide();
  req.parent_ref = "wide";
  req.suite = TwoWorkloads();
  req.child_name = "learned-only";
  auto r = Tighten(executor, req);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->minimized);
  const auto allowed = AllowedNames(r->child);
  for (const char* name : {"read", "write", "openat", "close", "getpid"})
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), name), allowed.end()) << name;
  // The parent allows mkdir, but nothing made it and it is not in the C library's floor.
  EXPECT_EQ(std::find(allowed.begin(), allowed.end(), "mkdir"), allowed.end());
  EXPECT_EQ(r->child.meta.extends, "wide");
  EXPECT_TRUE(CheckSubsetOf(r->child, Wide()));
}

TEST(FakeExecutor, TightenRefusesASuiteThatFailsUnderTheParent) {
  FakeExecutor executor(kNeeds);
  TightenRequest req;
  req.parent = Wide();
  req.parent_ref = "wide";
  req.suite.dir = "bad-suite";
  req.suite.workloads = {Needs("a"), Needs("c")};  // c needs mount, which wide denies
  req.minimize = true;
  req.child_name = "child";
  auto r = Tighten(executor, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  const std::string msg = r.error().message();
  EXPECT_NE(msg.find("fail under the parent wide itself"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run 0 of c FAILED: exit 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mount"), std::string::npos) << msg;  // the denied call is named
  EXPECT_EQ(executor.runs_, 2);                            // learning only: nothing was minimised
}

TEST(FakeExecutor, AnExecutorErrorStopsLearningAndNamesTheWorkload) {
  FakeExecutor executor(kNeeds);
  LearnRequest lr;
  lr.parent = Wide();
  lr.workloads = {Needs("a"), Needs("setup-error"), Needs("b")};
  auto r = Learn(executor, lr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kSystem);
  EXPECT_NE(r.error().ToString().find("learning workload setup-error"), std::string::npos)
      << r.error().ToString();
  EXPECT_EQ(executor.runs_, 2);  // b never ran
}

TEST(FakeExecutor, MinimiseRunsJobsAtOnceAndExplainsAFailingOracle) {
  FakeExecutor executor(kNeeds);
  MinimizeRequest mr;
  mr.profile = Wide();
  mr.oracle = {Needs("a")};
  mr.options.ddmin.jobs = 2;
  mr.options.name = "min";
  auto r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kept, (std::vector<std::string>{"getpid", "read", "write"}));
  EXPECT_LE(executor.most_inside_, 2);  // never more than jobs at once
  EXPECT_TRUE(CheckSubsetOf(r->profile, Wide()));

  // An oracle that fails under the input profile: nothing to preserve, and the first
  // denied call (asked for with report_denials) is in the message.
  mr.oracle = {Needs("c")};
  const int reporting_before = executor.reporting_runs_;
  r = MinimizeAgainstWorkloads(executor, mr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("nothing to preserve"), std::string::npos);
  EXPECT_NE(r.error().message().find("first denied syscall mount("), std::string::npos)
      << r.error().message();
  EXPECT_GT(executor.reporting_runs_, reporting_before);
}

class FakeRegress : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/silk-fake-lineage-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    policy::Profile narrow = RestrictProfile(Wide(), {"read", "write", "getpid"}, {});
    narrow.meta.name = "narrow";
    for (const auto& p : {Wide(), narrow})
      ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + p.meta.name + ".json", policy::WriteProfile(p)));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FakeRegress, EveryWorkloadUnderEveryProfileAndSetupErrorsAreFailingCells) {
  FakeExecutor executor(kNeeds);
  RegressRequest req;
  req.profiles_dir = dir_;
  req.suite.dir = "fake-suite";
  req.suite.workloads = {Needs("a"), Needs("b"), Needs("setup-error")};
  req.jobs = 3;
  auto m = RunRegress(executor, req);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_EQ(m->profiles.size(), 2u);
  EXPECT_EQ(m->profiles[0].name, "wide");
  EXPECT_EQ(m->profiles[1].name, "narrow");
  EXPECT_EQ(m->profiles[1].extends, "wide");
  EXPECT_GT(m->profiles[0].allow_set_size, m->profiles[1].allow_set_size);
  EXPECT_EQ(executor.reporting_runs_, 4);  // every run that could start reported denials
  EXPECT_LE(executor.most_inside_, 3);
  EXPECT_TRUE(m->cells[0][0].pass);
  EXPECT_TRUE(m->cells[0][1].pass);
  EXPECT_TRUE(m->cells[1][0].pass);
  EXPECT_FALSE(m->cells[1][1].pass);
  EXPECT_NE(m->cells[1][1].first_denial.find("openat("), std::string::npos)
      << m->cells[1][1].first_denial;
  for (size_t p = 0; p < 2; ++p) {
    EXPECT_FALSE(m->cells[p][2].pass);
    EXPECT_NE(m->cells[p][2].detail.find("cannot set up setup-error"), std::string::npos)
        << m->cells[p][2].detail;
  }
  EXPECT_EQ(m->FirstBreak(1), 1u);
}

TEST_F(FakeRegress, AgainstABaselineOnlyNewFailuresRegress) {
  FakeExecutor executor(kNeeds);
  RegressRequest req;
  req.profiles_dir = dir_;
  req.suite.dir = "fake-suite";
  req.suite.workloads = {Needs("a"), Needs("b")};
  // Without a baseline any failure fails.
  auto v = RegressAgainstBaseline(executor, req, std::nullopt, false);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_TRUE(v->failed());
  EXPECT_TRUE(v->regressions.empty());
  // A baseline where b passed under narrow: that cell regressed.
  Baseline passed = {{{"wide", "a"}, true},
                     {{"wide", "b"}, true},
                     {{"narrow", "a"}, true},
                     {{"narrow", "b"}, true}};
  v = RegressAgainstBaseline(executor, req, passed, false);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_TRUE(v->failed());
  ASSERT_EQ(v->regressions.size(), 1u);
  EXPECT_EQ(v->regressions[0].profile, "narrow");
  EXPECT_EQ(v->regressions[0].workload, "b");
  // Updating the baseline accepts this matrix's failures.
  v = RegressAgainstBaseline(executor, req, passed, true);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_FALSE(v->failed());
  ASSERT_TRUE(v->baseline);
  EXPECT_FALSE(v->baseline->at({"narrow", "b"}));
}

}  // namespace
}  // namespace silk::tighten
