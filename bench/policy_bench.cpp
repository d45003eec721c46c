// policy_bench: what an API profile costs per syscall, measured against peers in the
// same run (ratios to the one-instruction allow-all filter, the kernel's floor for any
// seccomp filter), and what compiling the default profile costs.
//
//   build/bench/policy_bench [PROFILE] [--iterations N] [--compile-runs N]
//
// PROFILE defaults to the built-in podman-default (also tried:
// /usr/share/containers/seccomp.json). Each measurement runs in a forked child that
// installs its filter (filters cannot be removed) and reports the best of 5 rounds.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "policy/builtin.hpp"
#include "policy/compile.hpp"
#include "policy/filter_cache.hpp"
#include "policy/install.hpp"
#include "policy/resolve.hpp"

namespace pol = silk::policy;

namespace {

constexpr double kTargetMs = 5.0;  // issue 2: compiling the default profile

double NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);  // vDSO: no syscall, not filtered
  return t.tv_sec * 1e9 + t.tv_nsec;
}

// ns per call of `nr(a0)` with `prog` installed (nullptr: no filter); -1 on failure.
double Measure(const sock_fprog* prog, long nr, unsigned long a0, long iterations) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (prog) {
      if (pol::SetNoNewPrivs() != 0 || pol::InstallFilter(*prog, {}) < 0) _exit(1);
    }
    double best = 1e18;
    for (int round = 0; round < 5; ++round) {
      double start = NowNs();
      for (long i = 0; i < iterations; ++i) syscall(nr, a0);
      best = std::min(best, (NowNs() - start) / iterations);
    }
    if (write(fds[1], &best, sizeof(best)) != sizeof(best)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  double ns = -1;
  if (read(fds[0], &ns, sizeof(ns)) != sizeof(ns)) ns = -1;
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source = "podman-default";
  long iterations = 200000;
  int compile_runs = 31;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
      iterations = atol(argv[++i]);
    } else if (!strcmp(argv[i], "--compile-runs") && i + 1 < argc) {
      compile_runs = std::max(1, atoi(argv[++i]));
    } else {
      source = argv[i];
    }
  }
  auto profile = pol::LoadProfile(source);
  if (!profile && std::filesystem::exists("/usr/share/containers/seccomp.json")) {
    source = "/usr/share/containers/seccomp.json";
    profile = pol::LoadProfile(source);
  }
  if (!profile) {
    fprintf(stderr, "policy_bench: %s\n", profile.error().ToString().c_str());
    return 1;
  }
  pol::ResolveOptions ro;
  ro.caps = pol::kDefaultCaps;  // as measured before boxes' default (none) became the CLI's
  auto resolved = pol::Resolve(*profile, ro);
  if (!resolved) {
    fprintf(stderr, "policy_bench: %s\n", resolved.error().ToString().c_str());
    return 1;
  }

  // Compile time: warm once (syscall tables), then the median of compile_runs.
  auto timed = [&](const pol::CompileOptions& o, pol::CompiledFilter* keep) {
    std::vector<double> ms;
    for (int i = 0; i < compile_runs + 1; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto f = pol::CompileProfile(*resolved, o);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      if (!f) {
        fprintf(stderr, "policy_bench: %s\n", f.error().ToString().c_str());
        exit(1);
      }
      if (keep) *keep = std::move(*f);
    }
    ms.erase(ms.begin());
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  pol::CompiledFilter silk, defaults;
  double silk_ms = timed({}, &silk);
  double defaults_ms = timed({.optimize = false}, &defaults);
  // Native architecture only (what a box on this machine strictly needs).
  pol::Profile native_only = *resolved;
  native_only.architectures = {pol::ArchName(pol::NativeArch())};
  resolved = native_only;
  double native_ms = timed({}, nullptr);

  char dir[] = "/tmp/silk-bench-cache-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  pol::FilterCache cache(dir);
  (void)cache.Get(native_only, {});  // miss: compiles and stores
  auto start = std::chrono::steady_clock::now();
  bool hit = false;
  for (int i = 0; i < 100; ++i) (void)cache.Get(native_only, {}, &hit);
  double hit_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      100;
  std::filesystem::remove_all(dir);

  sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  sock_fprog allow_prog{1, allow_all};
  sock_fprog silk_prog = silk.Fprog(), defaults_prog = defaults.Fprog();

  struct Row {
    const char* name;
    const sock_fprog* prog;
  };
  const Row rows[] = {{"(a) no filter", nullptr},
                      {"(b) allow-all, 1 instruction", &allow_prog},
                      {"(c) silk: profile compiled by silk", &silk_prog},
                      {"(d) libseccomp defaults, same profile", &defaults_prog}};
  struct Call {
    const char* what;
    long nr;
    unsigned long a0;
  };
  const Call calls[] = {
      {"getppid() (argument-free, allowed)", SYS_getppid, 0},
      {"personality(0xffffffff) (argument-checked, allowed)", SYS_personality, 0xffffffffUL}};

  printf(
      "profile %s resolved for %s: %zu instructions (silk, %zu arches), %zu (libseccomp "
      "defaults)\n",
      source.c_str(), pol::ArchName(pol::NativeArch()), silk.program.size(), silk.arches.size(),
      defaults.program.size());
  printf(
      "compile (median of %d, MakeEffectiveAll + code generation + verification): %.2f ms "
      "silk (all arches) = %.2fx the %.0f ms target; %.2f ms libseccomp defaults; %.2f ms "
      "native arch only; cache hit %.3f ms\n\n",
      compile_runs, silk_ms, silk_ms / kTargetMs, kTargetMs, defaults_ms, native_ms, hit_ms);
  for (const auto& call : calls) {
    printf("%s, %ld calls x 5 rounds, best round:\n", call.what, iterations);
    double base = Measure(&allow_prog, call.nr, call.a0, iterations);
    for (const auto& row : rows) {
      double ns = row.prog == &allow_prog ? base : Measure(row.prog, call.nr, call.a0, iterations);
      printf("  %-40s %8.1f ns  %5.2fx (b)\n", row.name, ns, ns / base);
    }
    printf("\n");
  }
  return 0;
}
