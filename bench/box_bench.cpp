// box_bench: start-to-exit latency of /bin/true in a full silk box (all namespaces,
// gen0-sliver profile, memory/pids/cpu cgroups) against plain fork+exec, bubblewrap
// (`bwrap --unshare-all --die-with-parent`) and crun (an OCI bundle with the same
// seccomp profile) measured in the same run; then the host memory of idle boxes.
//
//   box_bench [--runs N] [--idle N]      (root; run from the build tree)
//
// crun refuses this hybrid-cgroup host ("cgroups in hybrid mode not supported"), so its
// runs happen in a private mount namespace with /sys/fs/cgroup/unified unmounted.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.hpp"
#include "compat/box.hpp"
#include "policy/builtin.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Runs argv to completion with stdout/stderr to /dev/null; returns the exit status.
int Spawn(const std::vector<std::string>& argv) {
  pid_t p = fork();
  if (p == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int st = 0;
  waitpid(p, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double TimeMs(const std::function<int()>& fn, int* rc) {
  auto t0 = Clock::now();
  *rc = fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Row {
  std::string name;
  double median_ms = 0;
  bool ok = false;
};

Row Measure(const std::string& name, int runs, const std::function<int()>& fn) {
  Row r{name};
  std::vector<double> t;
  int rc = 0;
  TimeMs(fn, &rc);  // warm up (page cache, filter compile)
  r.ok = rc == 0;
  for (int i = 0; i < runs && r.ok; ++i) {
    t.push_back(TimeMs(fn, &rc));
    if (rc != 0) r.ok = false;
  }
  r.median_ms = Median(t);
  return r;
}

std::string MakeCrunBundle() {
  std::string dir = "/tmp/silk-box-bench-bundle";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/rootfs/bin");
  for (const char* d : {"proc", "dev", "tmp", "sys"})
    std::filesystem::create_directories(dir + "/rootfs/" + d);
  std::filesystem::copy_file("/bin/busybox", dir + "/rootfs/bin/busybox");
  std::filesystem::create_symlink("busybox", dir + "/rootfs/bin/true");
  auto profile = silk::policy::BuiltinProfileText("gen0-sliver");
  nlohmann::json seccomp = nlohmann::json::parse(std::string(*profile));
  seccomp.erase("silk");
  nlohmann::json cfg = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"args", {"/bin/true"}},
        {"cwd", "/"},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"env", {"PATH=/bin"}},
        {"noNewPrivileges", true},
        {"capabilities",
         {{"bounding", nlohmann::json::array()},
          {"effective", nlohmann::json::array()},
          {"permitted", nlohmann::json::array()}}}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "box"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "mode=755", "size=64k"}}},
        {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}},
          {{"type", "network"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}},
          {{"type", "cgroup"}}}},
        {"resources", {{"memory", {{"limit", 256 << 20}}}, {"pids", {{"limit", 100}}}}},
        {"seccomp", seccomp}}}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  return dir;
}

// crun's runs, in a child in a private mount namespace without the cgroup2 mount.
Row MeasureCrun(int runs, bool with_seccomp) {
  std::string bundle = MakeCrunBundle();
  if (!with_seccomp) {
    auto cfg = nlohmann::json::parse(*silk::ReadFile(bundle + "/config.json"));
    cfg["linux"].erase("seccomp");
    std::ofstream(bundle + "/config.json") << cfg.dump(2);
  }
  int pipefd[2];
  if (pipe(pipefd) != 0) return {"crun"};
  pid_t p = fork();
  if (p == 0) {
    close(pipefd[0]);
    Row r{"crun"};
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      umount2("/sys/fs/cgroup/unified", MNT_DETACH);
      int n = 0;
      r = Measure("crun", runs, [&] {
        return Spawn({"crun", "run", "--bundle", bundle, "silk-bench-" + std::to_string(n++)});
      });
    }
    double out[2] = {r.median_ms, r.ok ? 1.0 : 0.0};
    (void)!write(pipefd[1], out, sizeof out);
    _exit(0);
  }
  close(pipefd[1]);
  double in[2] = {0, 0};
  (void)!read(pipefd[0], in, sizeof in);
  close(pipefd[0]);
  waitpid(p, nullptr, 0);
  std::filesystem::remove_all(bundle);
  return {with_seccomp ? "crun + gen0-sliver seccomp" : "crun, no seccomp", in[0], in[1] != 0};
}

long MemAvailableKiB() {
  auto m = silk::ReadFile("/proc/meminfo");
  if (!m) return 0;
  auto pos = m->find("MemAvailable:");
  return pos == std::string::npos ? 0 : std::stol(m->substr(pos + 13));
}

long PssKiB(pid_t pid) {
  auto m = silk::ReadFile("/proc/" + std::to_string(pid) + "/smaps_rollup");
  if (!m) return 0;
  auto pos = m->find("\nPss:");
  return pos == std::string::npos ? 0 : std::stol(m->substr(pos + 5));
}

// Starts `n` idle boxes (sleep) each under its own forked supervisor; reports the host
// memory they cost, then stops them.
void IdleBoxes(int n) {
  long before = MemAvailableKiB();
  std::vector<pid_t> sups;
  int ready[2];
  if (pipe(ready) != 0) return;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p == 0) {
      close(ready[0]);
      dup2(ready[1], 1);
      silk::compat::BoxSpec s;
      s.command = "/bin/sh";
      s.args = {"-c", "echo; exec sleep 600"};
      s.memory_max = 64 << 20;
      s.pids_max = 16;
      silk::compat::RunOptions o;
      o.sweep_first = false;
      auto r = silk::compat::RunBox(s, o);
      _exit(r ? 0 : 1);
    }
    sups.push_back(p);
    char c;
    if (read(ready[0], &c, 1) != 1) break;  // this box is up
  }
  double start_s = std::chrono::duration<double>(Clock::now() - t0).count();
  sleep(1);
  long after = MemAvailableKiB();
  long pss = 0;
  for (pid_t p : sups) pss += PssKiB(p);
  printf(
      "idle boxes:        %d started in %.1f s; host memory %.2f MiB per box "
      "(MemAvailable delta), supervisor PSS %.2f MiB per box\n",
      static_cast<int>(sups.size()), start_s, (before - after) / 1024.0 / sups.size(),
      pss / 1024.0 / sups.size());
  for (pid_t p : sups) kill(p, SIGTERM);  // pdeathsig takes each box with it
  for (pid_t p : sups) {
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  close(ready[0]);
  close(ready[1]);
  auto swept = silk::compat::SweepStaleBoxes();
  if (swept)
    printf("                   swept %zu stale boxes after killing the supervisors\n",
           swept->reclaimed.size());
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 20, idle = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--runs") runs = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--idle") idle = std::atoi(argv[i + 1]);
  }
  if (geteuid() != 0) {
    fprintf(stderr, "box_bench: run as root (namespaces, cgroups)\n");
    return 1;
  }
  int null = open("/dev/null", O_WRONLY);
  silk::compat::BoxSpec spec;
  spec.command = "/bin/true";
  spec.memory_max = 256 << 20;
  spec.pids_max = 100;
  silk::compat::RunOptions ro;
  ro.sweep_first = false;

  std::vector<Row> rows;
  rows.push_back(Measure("fork+exec /bin/true", runs, [] { return Spawn({"/bin/true"}); }));
  rows.push_back(Measure("unshare -pmnuif --fork", runs, [] {
    return Spawn({"unshare", "-pmnuif", "--fork", "/bin/true"});
  }));
  rows.push_back(Measure("silk box (gen0-sliver, cgroups)", runs, [&] {
    int saved = dup(1);
    dup2(null, 1);
    auto r = silk::compat::RunBox(spec, ro);
    dup2(saved, 1);
    close(saved);
    if (!r) fprintf(stderr, "silk box: %s\n", r.error().ToString().c_str());
    return r ? r->exit_status : 1;
  }));
  rows.push_back(Measure("bwrap --unshare-all", runs, [] {
    return Spawn({"bwrap",     "--unshare-all", "--die-with-parent",
                  "--ro-bind", "/usr",          "/usr",
                  "--symlink", "usr/bin",       "/bin",
                  "--symlink", "usr/lib",       "/lib",
                  "--symlink", "usr/lib64",     "/lib64",
                  "--proc",    "/proc",         "--dev",
                  "/dev",      "--tmpfs",       "/tmp",
                  "/bin/true"});
  }));
  rows.push_back(MeasureCrun(runs, false));
  rows.push_back(MeasureCrun(runs, true));

  printf("start-to-exit of /bin/true, median of %d runs:\n", runs);
  double silk = rows[2].median_ms;
  for (const auto& r : rows)
    printf("  %-34s %8.2f ms %s  silk/this %.2f\n", r.name.c_str(), r.median_ms,
           r.ok ? "  " : "(FAILED)", r.median_ms > 0 ? silk / r.median_ms : 0.0);
  IdleBoxes(idle);
  return 0;
}
