// The proof for every shipped workload: a profile learned from two runs passes 20 fresh
// runs with varied inputs (SILK_RUN=2..21) in boxes, and denies nothing the parent
// allows. A call the parent denies too (stress-ng tries vhangup, which podman-default
// refuses) cannot be learned by a profile ⊆ parent; such inherited denials are listed,
// not counted as misses. Slow.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <set>

#include "policy/effective.hpp"
#include "tighten/learn.hpp"
#include "tighten/local_box_executor.hpp"

namespace silk::tighten {
namespace {

constexpr int kRuns = 20;

class Proof : public ::testing::TestWithParam<std::string> {};

TEST_P(Proof, LearnedProfilePassesTwentyFreshRunsWithoutDenials) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: boxes and the recorder use namespaces";
  auto suite = tighten::LoadSuite(std::string(SILK_SOURCE_DIR) + "/tests/workloads/" + GetParam());
  ASSERT_TRUE(suite) << suite.error().ToString();
  auto parent = LoadResolvedProfile("podman-default");
  ASSERT_TRUE(parent) << parent.error().ToString();
  LearnRequest lr;
  lr.parent = *parent;
  lr.workloads = suite->workloads;
  lr.runs_per_workload = 2;  // runs 0 and 1
  LocalBoxExecutor executor;
  auto learned = Learn(executor, lr);
  ASSERT_TRUE(learned) << learned.error().ToString();
  ASSERT_TRUE(learned->all_passed());
  auto file = TempProfileFile::Create(learned->proposal.profile);
  ASSERT_TRUE(file);
  auto parent_policy = policy::MakeEffective(*parent, "SCMP_ARCH_X86_64");
  ASSERT_TRUE(parent_policy) << parent_policy.error().ToString();
  auto log = OpenWorkloadLog("/dev/null");
  ASSERT_TRUE(log);
  std::set<std::string> inherited_denials;
  for (int run = 2; run < 2 + kRuns; ++run) {
    auto r = RunWorkloadInBox(suite->workloads[0], run, file->path(),
                              {.report_denials = true, .output_fd = log->get()});
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_TRUE(r->pass) << "run " << run << ": exit " << r->exit_status
                         << (r->timed_out ? " (timed out)" : "") << " " << r->first_denial;
    for (const auto& d : r->denials) {
      const bool inherited = !policy::Allows(parent_policy->Evaluate(d.nr, d.args.data()));
      EXPECT_TRUE(inherited) << "run " << run << ": the learned profile denied " << d.syscall
                             << " (nr " << d.nr << ", pid " << d.pid << "), which "
                             << parent->meta.name << " allows";
      if (inherited) inherited_denials.insert(d.syscall + " -> " + d.verdict);
    }
  }
  for (const auto& d : inherited_denials)
    std::cout << "denied by " << parent->meta.name << " too (not learnable): " << d << "\n";
}

INSTANTIATE_TEST_SUITE_P(Workloads, Proof,
                         ::testing::Values("busybox-applets", "python-json", "python-sqlite3",
                                           "python-ssl", "python-http", "sqlite3-cli",
                                           "lighttpd-http", "stress-ng-cpu-fork-pipe",
                                           "stress-ng-sock-mmap-sem"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace silk::tighten
