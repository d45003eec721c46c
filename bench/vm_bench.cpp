// vm_bench: what a thinix VM through silk and libvirt costs against bare QEMU.
//
//   vm_bench [--image DIR] [--silk PATH] [--runs N] [--accel kvm|tcg]
//
// Alternates, N times each: (a) `silk vm run --json [--no-box] -- /bin/true` (verify the
// image, create a transient libvirt domain, wait for the agent, run /bin/true over the
// control channel, directly or in a compatibility box, power off, act on the lifecycle
// event), and (b) `qemu-system-x86_64 -machine pc` with the
// same kernel, initramfs, memory and accelerator, booting with silk.run=true so that
// thinix's /init powers off right away, until QEMU exits. Prints medians, the ratio, the
// breakdown of the silk run (create returned, agent ready, command done, shutdown event,
// domain gone from libvirt), boot-to-ready, and host RSS per idle VM.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "images/image.hpp"
#include "vmm/connection.hpp"
#include "vmm/domain.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct ChildResult {
  int status = -1;
  double seconds = 0;
  long max_rss_kib = 0;
  std::string out;
};

// Runs argv, capturing stdout; measures wall time and the child's peak RSS.
ChildResult RunChild(const std::vector<std::string>& argv) {
  ChildResult r;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid;
  int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    std::cerr << "vm_bench: cannot run " << argv[0] << ": " << strerror(rc) << "\n";
    return r;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.max_rss_kib = ru.ru_maxrss;
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string image_dir = silk::images::kDefaultImageDir;
  std::string silk = std::string(SILK_BINARY_DIR) + "/cli/silk";
  std::string accel;
  int runs = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--image")
      image_dir = next();
    else if (a == "--silk")
      silk = next();
    else if (a == "--runs")
      runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--accel")
      accel = next();
    else {
      std::cerr << "usage: vm_bench [--image DIR] [--silk PATH] [--runs N] [--accel kvm|tcg]\n";
      return 2;
    }
  }
  auto image = silk::images::VerifyImage(image_dir);
  if (!image) {
    std::cerr << "vm_bench: " << image.error().ToString() << "\n";
    return 1;
  }
  auto conn = silk::vmm::Connection::Open();
  if (!conn) {
    std::cerr << "vm_bench: " << conn.error().ToString() << "\n";
    return 1;
  }

  struct Series {
    std::vector<double> total, created, ready, command, ended, gone, rss_mib;
  };
  Series boxed, direct;
  std::vector<double> bare_total, bare_rss_mib;
  std::string used_accel = accel;
  auto run_silk = [&](bool box, Series& out) -> bool {
    std::vector<std::string> sv = {silk, "vm", "run", "--image", image_dir, "--json"};
    if (!box) sv.push_back("--no-box");
    if (!used_accel.empty()) {
      sv.push_back("--accel");
      sv.push_back(used_accel);
    }
    sv.insert(sv.end(), {"--", "/bin/true"});
    ChildResult s = RunChild(sv);
    auto after_silk = Clock::now();
    json j = json::parse(s.out, nullptr, false);
    if (s.status != 0 || !j.is_object()) {
      std::cerr << "vm_bench: silk vm run failed (status " << s.status << ")\n" << s.out;
      return false;
    }
    used_accel = j["accel"].get<std::string>();
    std::string name = j["domain"].get<std::string>();
    while (silk::vmm::DomainExists(**conn, name).value_or(false) &&
           Clock::now() - after_silk < std::chrono::seconds(20))
      usleep(20 * 1000);
    out.total.push_back(s.seconds);
    out.created.push_back(j["timings"]["created"].get<double>());
    out.ready.push_back(j["timings"]["ready"].get<double>());
    out.command.push_back(j["timings"]["command"].get<double>());
    out.ended.push_back(j["timings"]["ended"].get<double>());
    out.gone.push_back(s.seconds +
                       std::chrono::duration<double>(Clock::now() - after_silk).count());
    out.rss_mib.push_back(j["host_rss_kib"].get<double>() / 1024);
    return true;
  };
  for (int run = 0; run < runs; ++run) {
    if (!run_silk(false, direct) || !run_silk(true, boxed)) return 1;
    std::string console = "/tmp/vm_bench_console." + std::to_string(::getpid());
    ChildResult b = RunChild({"qemu-system-x86_64",
                              "-accel",
                              used_accel,
                              "-machine",
                              "pc",
                              "-m",
                              "256",
                              "-nodefaults",
                              "-no-user-config",
                              "-display",
                              "none",
                              "-no-reboot",
                              "-serial",
                              "file:" + console,
                              "-kernel",
                              image->kernel_path,
                              "-initrd",
                              image->initramfs_path,
                              "-append",
                              image->cmdline + " silk.run=true"});
    ::unlink(console.c_str());
    if (b.status != 0) {
      std::cerr << "vm_bench: bare QEMU failed (status " << b.status << ")\n";
      return 1;
    }
    bare_total.push_back(b.seconds);
    bare_rss_mib.push_back(static_cast<double>(b.max_rss_kib) / 1024);
  }

  double bt = Median(bare_total);
  std::printf(
      "vm_bench: %d run(s) each, accel %s, machine pc, 256 MiB, image %s (initramfs %.1f MiB)\n",
      runs, used_accel.c_str(), image_dir.c_str(), image->initramfs_size / 1048576.0);
  std::printf("  bare qemu-system-x86_64, boot to power-off        %6.2f s\n", bt);
  for (auto* series : {&direct, &boxed}) {
    const Series& x = *series;
    double st = Median(x.total);
    std::printf("  silk vm run%s -- /bin/true  %6.2f s   ratio %.2fx (target <= 1.3x)\n",
                series == &direct ? " --no-box      " : " (in a box)    ", st,
                bt > 0 ? st / bt : 0);
    std::printf("    domain created (virDomainCreateXML returned)   %6.2f s\n", Median(x.created));
    std::printf("    agent ready (boot-to-ready %5.2f s)            %6.2f s\n",
                Median(x.ready) - Median(x.created), Median(x.ready));
    std::printf("    /bin/true done                                 %6.2f s\n", Median(x.command));
    std::printf("    shutdown lifecycle event (silk returns)        %6.2f s\n", Median(x.ended));
    std::printf("    domain gone from libvirt (not waited for)      %6.2f s\n", Median(x.gone));
  }
  std::printf(
      "  host RSS per idle VM: QEMU under libvirt at agent-ready %.0f MiB; bare QEMU peak %.0f "
      "MiB\n",
      Median(direct.rss_mib), Median(bare_rss_mib));
  return 0;
}
