// supervisor_bench: the supervisor is not the box's memory. Runs two denial floods from
// issue 9 through the real `silk box run` and reports the supervisor's peak RSS against
// a box that makes 1000 such calls (the peer, in the same run):
//   socketflood: N socket(AF_PACKET, SOCK_RAW, i) with distinct protocols, each refused by
//                the supervisor (recorded even without --report-denials);
//   acctflood:   N acct(addr_i) with distinct arguments under --report-denials FILE.
//
//   supervisor_bench [--calls N] [--silk PATH] [--probe PATH]   (root)
//
// Peak RSS is ru_maxrss of wait4() on the `silk box run` process: the largest RSS of that
// process and of every descendant it reaped. Its descendants are the box's processes (the
// static probe, under 1 MiB) and, before their execve, clones of the supervisor (no larger
// than it was), so the figure is the supervisor's own peak. VmHWM sampled from
// /proc/<pid>/status every 20 ms while it runs is printed as a cross-check (a lower bound:
// the last sample may precede the peak).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Run {
  int status = -1;
  long maxrss_kib = 0;  // wait4 ru_maxrss
  long vmhwm_kib = 0;   // last sampled VmHWM
  uintmax_t report_bytes = 0;
  double seconds = 0;
};

long ReadVmHwm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

Run RunSilk(const std::vector<std::string>& argv, const std::string& report) {
  Run r;
  if (!report.empty()) std::filesystem::remove(report);
  auto t0 = std::chrono::steady_clock::now();
  pid_t p = fork();
  if (p == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  rusage ru{};
  int st = 0;
  for (;;) {
    pid_t w = wait4(p, &st, WNOHANG, &ru);
    if (w == p) break;
    if (long h = ReadVmHwm(p)) r.vmhwm_kib = h;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.maxrss_kib = ru.ru_maxrss;
  std::error_code ec;
  if (!report.empty()) r.report_bytes = std::filesystem::file_size(report, ec);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  long calls = 1000000;
  std::string silk = SILK_BINARY_DIR "/cli/silk";
  std::string probe = SILK_COMPAT_PROBE;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--calls")
      calls = std::atol(argv[i + 1]);
    else if (k == "--silk")
      silk = argv[i + 1];
    else if (k == "--probe")
      probe = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: supervisor_bench [--calls N] [--silk PATH] [--probe PATH]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "supervisor_bench: needs root (boxes with cgroups)\n");
    return 2;
  }
  char tmpl[] = "/tmp/silk-supervisor-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string rootfs = dir + "/rootfs";
  for (const char* d : {"bin", "tmp", "scratch", "dev", "proc", "sys"})
    std::filesystem::create_directories(rootfs + "/" + d);
  std::filesystem::copy_file(probe, rootfs + "/bin/probe");
  chmod(rootfs.c_str(), 0755);
  chmod(dir.c_str(), 0755);
  const std::string report = dir + "/report.json";

  auto box = [&](const std::string& what, long n, bool report_denials) {
    std::vector<std::string> a = {silk,   "box",         "run",         "--rootfs",
                                  rootfs, "--state-dir", dir + "/state"};
    if (report_denials) a.push_back("--report-denials=" + report);
    a.insert(a.end(), {"--", "probe", what, std::to_string(n)});
    return RunSilk(a, report_denials ? report : "");
  };

  std::printf("supervisor peak RSS (wait4 ru_maxrss; VmHWM sampled), %ld calls vs 1000:\n\n",
              calls);
  std::printf("| attack | calls | s | peak RSS MiB | VmHWM MiB | report | vs 1000 calls |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (auto [what, rep] : {std::pair{"socketflood", false}, std::pair{"acctflood", true}}) {
    Run small = box(what, 1000, rep);
    Run big = box(what, calls, rep);
    for (const Run* r : {&small, &big}) {
      const bool is_big = r == &big;
      char size[32] = "-", ratio[32] = "1.00x";
      if (rep) std::snprintf(size, sizeof size, "%ju KiB", r->report_bytes / 1024);
      if (is_big && small.maxrss_kib)
        std::snprintf(ratio, sizeof ratio, "%.2fx",
                      static_cast<double>(big.maxrss_kib) / static_cast<double>(small.maxrss_kib));
      std::printf("| %s%s | %ld | %.1f | %.1f | %.1f | %s | %s |\n", what,
                  rep ? " --report-denials" : "", is_big ? calls : 1000L, r->seconds,
                  r->maxrss_kib / 1024.0, r->vmhwm_kib / 1024.0, size, ratio);
      if (r->status != 0) {
        std::fprintf(stderr, "%s: silk box run exited %d\n", what, r->status);
        ok = false;
      }
    }
    if (big.maxrss_kib > 16 * 1024) {
      std::printf("  ^ over the 16 MiB target\n");
      ok = false;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ok ? 0 : 1;
}
