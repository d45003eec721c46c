// learn_bench: (1) a workload under the learning recorder vs the same workload in a
// plain compatibility box, same run, same parent profile (target: <= 3x for
// syscall-heavy work); (2) ddmin oracle runs vs allow-set size n and result size k on a
// synthetic oracle (ddmin's log behaviour). Usage: learn_bench [SUITE_DIR] [REPEATS]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "layers/box_runner.hpp"
#include "layers/learn_runner.hpp"
#include "layers/syscall_recorder.hpp"
#include "policy/ddmin.hpp"
#include "policy/profile_json.hpp"

using namespace silk;

int main(int argc, char** argv) {
  const std::string suite_dir =
      argc > 1 ? argv[1] : std::string(SILK_SOURCE_DIR_BENCH) + "/tests/workloads";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  auto suite = policy::LoadSuite(suite_dir);
  auto parent = layers::LoadResolvedProfile("podman-default");
  if (!suite || !parent) {
    std::fprintf(stderr, "learn_bench: %s\n",
                 (!suite ? suite.error() : parent.error()).ToString().c_str());
    return 1;
  }
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  {
    std::printf("%-26s %10s %10s %7s %10s\n", "workload", "box ms", "learn ms",
            "ratio", "syscalls");
    for (const auto& w : suite->workloads) {
      // The plain box runs under the profile learned for the workload (podman-default
      // itself does not compile for boxes in this build; see the report).
      layers::LearnRequest lr;
      lr.parent = *parent;
      lr.workloads = {w};
      lr.output_fd = devnull;
      auto learned = layers::Learn(lr);
      if (!learned) continue;
      auto file = layers::TempProfileFile::Create(learned->proposal.profile);
      if (!file) continue;
      double box = 1e18, learn = 1e18;
      uint64_t calls = 0;
      for (int i = 0; i < repeats; ++i) {
        auto b = layers::RunWorkloadInBox(w, 0, file->path(), {.output_fd = devnull});
        layers::RecordSpec spec;
        spec.argv = *policy::ExpandCommand(w, 0);
        spec.env = policy::RunEnvironment(w, 0);
        spec.timeout_seconds = w.timeout_seconds;
        spec.stdout_fd = spec.stderr_fd = devnull;
        auto l = layers::RecordSyscalls(spec, *parent);
        if (!b || !l || !b->pass) continue;
        box = std::min(box, b->ms);
        learn = std::min(learn, l->elapsed_ms);
        calls = l->observations.total;
      }
      if (calls == 0) {
        std::printf("%-26s (did not pass in a box)\n", w.name.c_str());
        continue;
      }
      std::printf("%-26s %10.1f %10.1f %6.2fx %10llu\n", w.name.c_str(), box, learn,
              learn / box, (unsigned long long)calls);
    }
  }
  std::printf("\nddmin oracle runs (synthetic oracle: k needed items among n)\n");
  std::printf("%6s %4s %8s\n", "n", "k", "runs");
  std::mt19937 rng(7);
  for (size_t n : {64, 128, 256, 512, 1024}) {
    for (size_t k : {1, 4, 16, 40}) {
      std::set<size_t> needed;
      while (needed.size() < k) needed.insert(rng() % n);
      auto r = policy::Ddmin(n, [&](const std::vector<size_t>& kept) -> Result<bool> {
        for (size_t x : needed)
          if (!std::binary_search(kept.begin(), kept.end(), x)) return false;
        return true;
      });
      if (r) std::printf("%6zu %4zu %8zu\n", n, k, r->oracle_runs);
    }
  }
  return 0;
}
