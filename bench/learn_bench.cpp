// learn_bench: (1) learning overhead: each workload under `silk policy learn`'s recorder
// (a compatibility box in learning mode answering with podman-default's verdicts) vs the
// same workload in a plain box under the profile learned for it, same run, interleaved,
// best of REPEATS, for every shipped workload and syscall-heavy micro workloads (target:
// <= 3x for syscall-heavy work). Two learning columns: "learn" counts the syscalls that
// need no decision in the kernel (the default), "notify-all" sends every syscall to the
// supervisor (--notify-all, the way silk learned before). (2) ddmin oracle runs vs
// allow-set size n and result size k on a synthetic oracle (ddmin's log behaviour).
// Usage: learn_bench [SUITE_DIR] [REPEATS]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "policy/profile_json.hpp"
#include "tighten/ddmin.hpp"
#include "tighten/learn.hpp"
#include "tighten/local_box_executor.hpp"
#include "tighten/syscall_recorder.hpp"

using namespace silk;

namespace {

tighten::Workload Micro(const std::string& name, std::vector<std::string> command) {
  tighten::Workload w;
  w.name = name;
  w.command = std::move(command);
  w.timeout_seconds = 120;
  return w;
}

// One row: learned profile first (one learning run), then REPEATS interleaved pairs.
void MeasureOverhead(const tighten::Workload& w, const policy::Profile& parent, int repeats,
                     int devnull) {
  tighten::LearnRequest lr;
  lr.parent = parent;
  lr.workloads = {w};
  tighten::LocalBoxExecutor executor(devnull);
  auto learned = tighten::Learn(executor, lr);
  if (!learned) {
    std::printf("%-26s (learning failed: %s)\n", w.name.c_str(),
                learned.error().ToString().c_str());
    return;
  }
  auto file = tighten::TempProfileFile::Create(learned->proposal.profile);
  if (!file) {
    std::printf("%-26s (%s)\n", w.name.c_str(), file.error().ToString().c_str());
    return;
  }
  double box = 1e18, learn[2] = {1e18, 1e18};  // [0] counted, [1] notify-all
  uint64_t calls = 0;
  size_t counted = 0;
  std::string failure;
  for (int i = 0; i < repeats; ++i) {
    auto b = tighten::RunWorkloadInBox(w, 0, file->path(), {.output_fd = devnull});
    if (!b) {
      failure = b.error().ToString();
      continue;
    }
    if (!b->pass) {
      failure = "exit " + std::to_string(b->exit_status) + " in the box" +
                (b->first_denial.empty() ? "" : ", " + b->first_denial);
      continue;
    }
    box = std::min(box, b->ms);
    for (int mode = 0; mode < 2; ++mode) {
      tighten::RecordSpec spec;
      spec.argv = *tighten::ExpandCommand(w, 0);
      spec.env = tighten::RunEnvironment(w, 0);
      spec.timeout_seconds = w.timeout_seconds;
      spec.stdout_fd = spec.stderr_fd = devnull;
      spec.count_in_kernel = mode == 0;
      auto l = tighten::RecordSyscalls(spec, parent);
      if (!l || l->exit_status != w.expect_exit) {
        failure =
            l ? "exit " + std::to_string(l->exit_status) + " under learn" : l.error().ToString();
        continue;
      }
      if (mode == 0 && !l->counting_unavailable.empty())
        failure = "counting unavailable: " + l->counting_unavailable;
      learn[mode] = std::min(learn[mode], l->elapsed_ms);
      calls = l->observations.total;
      if (mode == 0) counted = l->counted_syscalls;
    }
  }
  if (calls == 0 || learn[0] > 1e17 || learn[1] > 1e17 || box > 1e17) {
    std::printf("%-26s (did not pass: %s)\n", w.name.c_str(), failure.c_str());
    return;
  }
  std::printf("%-26s %9.1f %9.1f %6.2fx %11.1f %6.2fx %10llu%s\n", w.name.c_str(), box, learn[0],
              learn[0] / box, learn[1], learn[1] / box, (unsigned long long)calls,
              counted ? "" : "  (nothing counted: every syscall notified)");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string suite_dir =
      argc > 1 ? argv[1] : std::string(SILK_SOURCE_DIR_BENCH) + "/tests/workloads";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  auto suite = tighten::LoadSuite(suite_dir);
  auto parent = tighten::LoadResolvedProfile("podman-default");
  if (!suite || !parent) {
    std::fprintf(stderr, "learn_bench: %s\n",
                 (!suite ? suite.error() : parent.error()).ToString().c_str());
    return 1;
  }
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::printf("learning overhead: best of %d, box = plain box under the learned profile\n",
              repeats);
  std::printf("%-26s %9s %9s %7s %11s %7s %10s\n", "workload", "box ms", "learn ms", "ratio",
              "notify-all", "ratio", "syscalls");
  for (const auto& w : suite->workloads) MeasureOverhead(w, *parent, repeats, devnull);
  // Syscall-heavy micro workloads: nearly all time is spent in syscalls.
  MeasureOverhead(Micro("micro-dd-bs1-100k",
                        {"busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=100000"}),
                  *parent, repeats, devnull);
  MeasureOverhead(Micro("micro-python-getpid-100k",
                        {"python3", "-c", "import os\nfor _ in range(100000): os.getpid()"}),
                  *parent, repeats, devnull);
  // Many short processes: what each fork and exec costs under learning.
  MeasureOverhead(
      Micro("micro-sh-300-execs",
            {"/bin/sh", "-c", "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done"}),
      *parent, repeats, devnull);
  std::printf("\nddmin oracle runs (synthetic oracle: k needed items among n)\n");
  std::printf("%6s %4s %8s\n", "n", "k", "runs");
  std::mt19937 rng(7);
  for (size_t n : {64, 128, 256, 512, 1024}) {
    for (size_t k : {1, 4, 16, 40}) {
      std::set<size_t> needed;
      while (needed.size() < k) needed.insert(rng() % n);
      auto r = tighten::Ddmin(n, [&](const std::vector<size_t>& kept) -> Result<bool> {
        for (size_t x : needed)
          if (!std::binary_search(kept.begin(), kept.end(), x)) return false;
        return true;
      });
      if (r) std::printf("%6zu %4zu %8zu\n", n, k, r->oracle_runs);
    }
  }
  return 0;
}
