// minimize_bench: wall time for minimising the Podman default profile (podman-default
// resolved for no capabilities) against one workload (default: the sqlite3 CLI of
// tests/workloads) with ddmin on 2 workers, each pass confirmed once; target <= 3
// minutes on 2 cores (issue 4). Prints oracle runs, cache hits, n (allowed syscalls,
// box runtime pins excluded), k (kept), seconds and the ratio to the target.
// Usage: minimize_bench [WORKLOAD_DIR] [JOBS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "compat/runtime_syscalls.hpp"
#include "tighten/learn.hpp"
#include "tighten/learn_model.hpp"
#include "tighten/local_box_executor.hpp"
#include "tighten/minimize.hpp"

using namespace silk;

int main(int argc, char** argv) {
  const std::string dir =
      argc > 1 ? argv[1] : std::string(SILK_SOURCE_DIR_BENCH) + "/tests/workloads/sqlite3-cli";
  const unsigned jobs = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 2;
  constexpr double kTargetSeconds = 180;
  auto suite = tighten::LoadSuite(dir);
  auto parent = tighten::LoadResolvedProfile("podman-default");
  auto log = tighten::OpenWorkloadLog("/dev/null");
  if (!suite || !parent || !log) {
    std::fprintf(stderr, "minimize_bench: %s\n",
                 (!suite    ? suite.error()
                  : !parent ? parent.error()
                            : log.error())
                     .ToString()
                     .c_str());
    return 1;
  }
  tighten::MinimizeRequest mr;
  mr.profile = *parent;
  mr.oracle = suite->workloads;
  mr.options.ddmin.jobs = jobs;
  mr.options.name = "podman-minimised";
  const size_t n = tighten::AllowedNames(*parent).size();
  const auto t0 = std::chrono::steady_clock::now();
  tighten::LocalBoxExecutor executor(log->get());
  auto r = tighten::MinimizeAgainstWorkloads(executor, mr);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "minimize_bench: %s\n", r.error().ToString().c_str());
    return 1;
  }
  auto sub = tighten::CheckSubsetOf(r->profile, *parent, "minimised");
  std::printf("minimise podman-default (%zu allowed syscalls, %zu pinned) against %s, %u jobs\n", n,
              compat::kBoxRuntimeSyscalls.size(), dir.c_str(), jobs);
  std::printf("%8s %8s %6s %6s %6s %8s %8s %7s %8s %6s\n", "n", "k", "enosys", "eperm", "runs",
              "hits", "flaky", "1-min", "seconds", "ratio");
  std::printf("%8zu %8zu %6zu %6zu %6zu %8zu %8zu %7s %8.1f %5.2fx\n", n, r->kept.size(),
              r->removed_enosys.size(), r->removed_eperm.size(), r->oracle_runs, r->cache_hits,
              r->flaky_candidates, r->one_minimal ? "yes" : "NO", wall, wall / kTargetSeconds);
  std::printf("(ratio = wall time / the 180 s target; subset of podman-default: %s)\n",
              sub ? "yes" : sub.error().ToString().c_str());
  std::printf("kept:");
  for (const auto& k : r->kept) std::printf(" %s", k.c_str());
  std::printf("\n");
  return sub && r->one_minimal ? 0 : 1;
}
