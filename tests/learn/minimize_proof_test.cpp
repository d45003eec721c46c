// The minimisation proof for every shipped workload: learn a profile under
// podman-default, minimise it with the workload itself as the oracle (ddmin, each pass
// confirmed), and check that the minimised profile passes a fresh run, is proven
// 1-minimal, and that podman-default ⊇ learned ⊇ minimised by the policy engine.
// Learning adds the C library floor (policy::LibcFloorSyscalls); the minimiser may
// remove it again. Slow; wall times per workload are printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "layers/box_runner.hpp"
#include "layers/learn_runner.hpp"
#include "layers/minimize_runner.hpp"
#include "policy/learn_model.hpp"

namespace silk::layers {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class MinimizeProof : public ::testing::TestWithParam<std::string> {};

TEST_P(MinimizeProof, MinimisedProfilePassesIsOneMinimalAndNarrowsTheLineage) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: boxes and the recorder use namespaces";
  auto suite = policy::LoadSuite(std::string(SILK_SOURCE_DIR) + "/tests/workloads/" + GetParam());
  ASSERT_TRUE(suite) << suite.error().ToString();
  ASSERT_EQ(suite->workloads.size(), 1u);
  const policy::Workload& w = suite->workloads[0];
  auto parent = LoadResolvedProfile("podman-default");
  ASSERT_TRUE(parent) << parent.error().ToString();
  auto log = OpenWorkloadLog("/dev/null");
  ASSERT_TRUE(log);

  const auto t_learn = std::chrono::steady_clock::now();
  LearnRequest lr;
  lr.parent = *parent;
  lr.workloads = {w};
  lr.output_fd = log->get();
  lr.propose.name = "learned-" + GetParam();
  auto learned = Learn(lr);
  ASSERT_TRUE(learned) << learned.error().ToString();
  ASSERT_TRUE(learned->all_passed());
  const policy::Profile& gen1 = learned->proposal.profile;
  const double learn_s = SecondsSince(t_learn);
  auto sub1 = policy::CheckSubsetOf(gen1, *parent, "learned");
  ASSERT_TRUE(sub1) << sub1.error().ToString();

  MinimizeRequest mr;
  mr.profile = gen1;
  mr.oracle = {w};
  // One worker: with two, a box child clone3'd while the other worker thread starts or
  // exits deadlocks in glibc's setgroups (__nptl_setxid waits on the stale thread list,
  // compat/internal/child.cpp), and the supervisor waits for it forever. ddmin is
  // deterministic, so the result is the same as with 2 jobs.
  mr.options.ddmin.jobs = 1;
  mr.options.name = "minimised-" + GetParam();
  mr.output_fd = log->get();
  auto min = MinimizeAgainstWorkloads(mr);
  ASSERT_TRUE(min) << min.error().ToString();
  EXPECT_TRUE(min->one_minimal) << "kept: " << min->kept.size();
  EXPECT_EQ(min->profile.meta.extends, gen1.meta.name);
  auto sub2 = policy::CheckSubsetOf(min->profile, gen1, "minimised");
  EXPECT_TRUE(sub2) << sub2.error().ToString();
  auto sub02 = policy::CheckSubsetOf(min->profile, *parent, "minimised");
  EXPECT_TRUE(sub02) << sub02.error().ToString();
  const size_t n = policy::AllowedNames(gen1).size();
  EXPECT_LE(min->kept.size(), n);

  // A fresh run of the oracle under the profile as written (its final ENOSYS/EPERM
  // modes), with denial reporting so a failure names the call.
  auto file = TempProfileFile::Create(min->profile);
  ASSERT_TRUE(file);
  auto r = RunWorkloadInBox(w, 0, file->path(), {.report_denials = true, .output_fd = log->get()});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->pass) << "exit " << r->exit_status << (r->timed_out ? " (timed out)" : "") << " "
                       << r->first_denial;

  std::cout << GetParam() << ": learn " << learn_s << " s, minimise " << min->seconds << " s, n "
            << n << " -> k " << min->kept.size() << " (enosys " << min->removed_enosys.size()
            << ", eperm " << min->removed_eperm.size() << "), oracle runs " << min->oracle_runs
            << ", cache hits " << min->cache_hits << ", flaky " << min->flaky_candidates
            << ", one run " << r->ms << " ms\n";
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

// Measured here (one worker, 2 shared cores): minimisation takes 6-73 s for these, about
// 2.2 minutes together (bench/README.md, "minimize").
INSTANTIATE_TEST_SUITE_P(Workloads, MinimizeProof,
                         ::testing::Values("busybox-applets", "python-json", "python-sqlite3",
                                           "python-ssl", "sqlite3-cli"),
                         TestName);

// Too slow for ci/test: python-http had not finished after 110 s, lighttpd-http not
// within 300 s (a candidate that breaks the server leaves the client waiting until the
// candidate timeout, 10x the slowest passing run); the stress-ng workloads were not
// timed (each run takes seconds, and their candidate timeouts reach 40 s).
// Disabled (CTest reports them as not run, never as passed); run them by hand with
// --gtest_also_run_disabled_tests --gtest_filter='DISABLED_Slow*'.
INSTANTIATE_TEST_SUITE_P(DISABLED_SlowWorkloads, MinimizeProof,
                         ::testing::Values("python-http", "lighttpd-http",
                                           "stress-ng-cpu-fork-pipe", "stress-ng-sock-mmap-sem"),
                         TestName);

}  // namespace
}  // namespace silk::layers
