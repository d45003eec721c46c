#include "layers/box_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "policy/profile_json.hpp"

namespace silk::layers {
namespace {

std::atomic<unsigned> box_counter{0};

// Kills every process in the cgroups compat recorded for `box_id` (the box's pid 1 is
// among them; its death takes the pid namespace).
void KillBox(const std::string& box_id) {
  auto cgroups = ReadFile(compat::DefaultStateRoot() + "/" + box_id + "/cgroups");
  if (!cgroups) return;
  for (const auto& dir : Split(*cgroups, '\n')) {
    if (dir.empty()) continue;
    if (WriteFileAtomic(dir + "/cgroup.kill", "1")) continue;  // v2: kills them all
    auto procs = ReadFile(dir + "/cgroup.procs");
    if (!procs) continue;
    for (const auto& p : Split(*procs, '\n'))
      if (auto pid = ParseUint(Trim(p), INT32_MAX); pid && *pid > 1)
        kill(static_cast<pid_t>(*pid), SIGKILL);
  }
}

// Kills boxes that outlive their deadline.
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* dog = new Watchdog();  // never destroyed: the thread is detached
    return *dog;
  }
  uint64_t Watch(const std::string& box_id, std::chrono::steady_clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t ticket = ++next_;
    boxes_[ticket] = Entry{box_id, deadline, false};
    cv_.notify_all();
    return ticket;
  }
  // Stops watching; true if the box was killed for its timeout.
  bool Unwatch(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    bool fired = boxes_[ticket].fired;
    boxes_.erase(ticket);
    return fired;
  }

 private:
  struct Entry {
    std::string box_id;
    std::chrono::steady_clock::time_point deadline;
    bool fired = false;
  };
  Watchdog() {
    std::unique_lock<std::mutex> lock(mu_);
    std::thread([this] { Loop(); }).detach();
    cv_.wait(lock, [this] { return running_; });  // parked before any box starts
  }
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    running_ = true;
    cv_.notify_all();
    while (true) {
      auto now = std::chrono::steady_clock::now();
      auto next = now + std::chrono::seconds(3600);
      for (auto& [ticket, e] : boxes_) {
        if (e.deadline <= now) {
          e.fired = true;
          KillBox(e.box_id);
          e.deadline = now + std::chrono::milliseconds(500);  // again until it is gone
        }
        next = std::min(next, e.deadline);
      }
      cv_.wait_until(lock, next);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  uint64_t next_ = 0;
  std::map<uint64_t, Entry> boxes_;
};

std::string DenialText(const compat::Denial& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s(%#llx, %#llx, %#llx, ...) pid %d -> %s", d.syscall.c_str(),
                (unsigned long long)d.args[0], (unsigned long long)d.args[1],
                (unsigned long long)d.args[2], int(d.pid), d.verdict.c_str());
  return buf;
}

}  // namespace

Result<BoxRun> RunWorkloadInBox(const policy::Workload& w, int run, const std::string& profile_path,
                                bool report_denials) {
  auto argv = SILK_TRY(policy::ExpandCommand(w, run));
  compat::BoxSpec spec;
  spec.command = argv[0];
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.env = policy::RunEnvironment(w, run);
  spec.cwd = "/tmp";
  spec.profile = profile_path;
  spec.report_denials = report_denials;
  spec.pids_max = 512;
  spec.memory_max = 1ull << 30;
  compat::RunOptions options;
  const unsigned n = ++box_counter;
  options.box_id = "learn" + std::to_string(getpid()) + "-" + std::to_string(n);
  // Sweep once per process: a sweep racing another box's start (parallel oracle runs)
  // has removed that box's fresh state directory.
  options.sweep_first = n == 1;

  // Watchdog: compat has no timeout of its own. One long-lived thread serves every
  // box, so no thread is being created while compat clones a box (a clone racing a
  // thread start has left box children blocked on an inherited lock).
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(w.timeout_seconds * 1000));
  auto& dog = Watchdog::Get();
  const uint64_t ticket = dog.Watch(options.box_id, deadline);
  auto outcome = compat::RunBox(spec, options);
  const bool fired = dog.Unwatch(ticket);
  if (!outcome) return tl::unexpected<Error>(outcome.error());

  BoxRun r;
  r.exit_status = outcome->exit_status;
  r.timed_out = fired;
  r.exec_failure = outcome->exec_failure;
  r.ms = outcome->elapsed_ms;
  r.denials = outcome->denials.denials.size();
  if (!outcome->denials.denials.empty())
    r.first_denial = DenialText(outcome->denials.denials.front());
  r.pass = !r.timed_out && r.exec_failure.empty() && r.exit_status == w.expect_exit;
  return r;
}

Result<TempProfileFile> TempProfileFile::Create(const policy::Profile& profile) {
  char tmpl[] = "/tmp/silk-candidate-XXXXXX.json";
  int fd = mkstemps(tmpl, 5);
  if (fd < 0) return FailErrno("creating a temporary profile file in /tmp");
  close(fd);
  TempProfileFile f(tmpl);
  SILK_TRY(WriteFileAtomic(f.path(), policy::WriteProfile(profile)));
  return f;
}

TempProfileFile::~TempProfileFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

Result<QuietStdio> QuietStdio::Create(const std::string& log_path) {
  QuietStdio q;
  for (int i = 0; i < 3; ++i) {
    q.saved_[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
    if (q.saved_[i] < 0) return FailErrno("saving stdio");
  }
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (in < 0 || out < 0) {
    int err = errno;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return FailErrno("opening " + log_path + " for the workloads' output", err);
  }
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  close(in);
  close(out);
  return q;
}

QuietStdio::QuietStdio(QuietStdio&& o) noexcept {
  for (int i = 0; i < 3; ++i) saved_[i] = std::exchange(o.saved_[i], -1);
}

QuietStdio::~QuietStdio() {
  for (int i = 0; i < 3; ++i) {
    if (saved_[i] < 0) continue;
    dup2(saved_[i], i);
    close(saved_[i]);
  }
}

}  // namespace silk::layers
