// cgroup v1 backend: one directory per hierarchy (cpu, memory, pids, blkio).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/sleep.hpp"
#include "compat/internal/cgroup.hpp"

namespace silk::compat::internal {
namespace {

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

class CgroupV1 : public CgroupBackend {
 public:
  CgroupV1(std::string path, std::vector<Controller> ctrls)
      : path_(std::move(path)), ctrls_(std::move(ctrls)) {}
  std::string Describe() const override {
    std::string names;
    for (auto c : ctrls_) names += std::string(names.empty() ? "" : ",") + ControllerName(c);
    return "cgroup v1 (" + names + ") " + path_;
  }
  const std::string& path() const override { return path_; }
  uint64_t OomKills() const override {
    if (!Serves(Controller::kMemory)) return 0;
    return ReadCgroupKey(path_, "memory.oom_control", "oom_kill");
  }
  bool Serves(Controller c) const override {
    return std::find(ctrls_.begin(), ctrls_.end(), c) != ctrls_.end();
  }

  void ReadUsage(CgroupUsage& u) const override {
    if (Serves(Controller::kMemory)) {
      // current before peak: the peak is a watermark, never below a current read earlier.
      u.memory_current = ReadCgroupNumber(path_, "memory.usage_in_bytes");
      u.memory_peak = ReadCgroupNumber(path_, "memory.max_usage_in_bytes");
      u.memory_max = ReadCgroupNumber(path_, "memory.limit_in_bytes");
      // No limit reads as PAGE_COUNTER_MAX pages (LONG_MAX rounded down to a page).
      if (u.memory_max && *u.memory_max >= (uint64_t{1} << 62)) u.memory_max = 0;
    }
    if (Serves(Controller::kPids)) {
      u.pids_current = ReadCgroupNumber(path_, "pids.current");
      u.pids_max = ReadCgroupNumber(path_, "pids.max");
    }
    // cpuacct co-mounted with cpu (cpu,cpuacct): nanoseconds. A v2 cgroup of the box,
    // read first, has already given it (its core cpu.stat).
    if (!u.cpu_usec)
      if (auto ns = ReadCgroupNumber(path_, "cpuacct.usage")) u.cpu_usec = *ns / 1000;
  }

  Result<void> Apply(const CgroupLimits& l) override {
    for (Controller c : ctrls_) {
      switch (c) {
        case Controller::kCpu:
          if (l.cpu_weight) {
            // v2 weight 100 (default) = v1 shares 1024; proportional, at least 2.
            uint64_t shares = std::max<uint64_t>(2, uint64_t{l.cpu_weight} * 1024 / 100);
            SILK_TRY(WriteCgroupFile(path_, "cpu.shares", std::to_string(shares)));
          }
          break;
        case Controller::kMemory:
          if (l.memory_max) {
            // Swap off: memory+swap capped at the memory limit where swap is accounted,
            // and no swapping preference anyway. The kernel refuses (EINVAL) a memsw
            // limit below the memory limit at every step, so a raise (`silk box update`)
            // moves memsw first and a cut moves memory first.
            const std::string limit = std::to_string(l.memory_max);
            const bool memsw = Exists(path_ + "/memory.memsw.limit_in_bytes");
            const auto now = ReadCgroupNumber(path_, "memory.limit_in_bytes");
            const bool raise = now && *now != 0 && l.memory_max > *now;
            if (memsw && raise)
              SILK_TRY(WriteCgroupFile(path_, "memory.memsw.limit_in_bytes", limit));
            SILK_TRY(WriteCgroupFile(path_, "memory.limit_in_bytes", limit));
            if (memsw && !raise)
              SILK_TRY(WriteCgroupFile(path_, "memory.memsw.limit_in_bytes", limit));
            if (Exists(path_ + "/memory.swappiness"))
              SILK_TRY(WriteCgroupFile(path_, "memory.swappiness", "0"));
          }
          break;
        case Controller::kPids:
          if (l.pids_max) SILK_TRY(WriteCgroupFile(path_, "pids.max", std::to_string(l.pids_max)));
          break;
        case Controller::kIo:
          if (l.io_weight) {
            // v2 1..10000 -> v1 10..1000.
            uint64_t w = 10 + (uint64_t{l.io_weight} - 1) * 990 / 9999;
            const char* file = Exists(path_ + "/blkio.weight")       ? "blkio.weight"
                               : Exists(path_ + "/blkio.bfq.weight") ? "blkio.bfq.weight"
                                                                     : nullptr;
            if (!file)
              return Fail(ErrorCode::kUnsupported,
                          "io_weight needs blkio.weight or blkio.bfq.weight in " + path_ +
                              " (no proportional I/O scheduler such as BFQ on this host); "
                              "drop io_weight");
            SILK_TRY(WriteCgroupFile(path_, file, std::to_string(w)));
          }
          break;
      }
    }
    return {};
  }

  Result<void> AddProcess(pid_t pid) override {
    return WriteCgroupFile(path_, "cgroup.procs", std::to_string(pid));
  }

  Result<void> KillAll() override {
    // v1 has no cgroup.kill: SIGKILL what is listed until nothing is (a fork racing the
    // kill shows up in the next read).
    for (int i = 0; i < 200; ++i) {
      auto procs = ReadCgroupProcs(path_);
      if (!procs) return procs.error().sys_errno() == ENOENT ? Result<void>{} : Fail(procs.error());
      if (procs->empty()) return {};
      for (pid_t p : *procs) kill(p, SIGKILL);
      SleepFor(std::chrono::milliseconds(2));
    }
    return Fail(ErrorCode::kTimeout, "processes in " + path_ + " survived SIGKILL");
  }

  Result<void> Remove() override { return RemoveCgroupDir(path_); }

 private:
  std::string path_;
  std::vector<Controller> ctrls_;
};

}  // namespace

Result<std::unique_ptr<CgroupBackend>> OpenCgroupV1(const std::string& path) {
  if (!Exists(path + "/cgroup.procs"))
    return Fail(ErrorCode::kNotFound, "the box's cgroup " + path + " is gone");
  // Each v1 hierarchy shows the files of its own controllers only.
  std::vector<Controller> ctrls;
  if (Exists(path + "/cpu.shares")) ctrls.push_back(Controller::kCpu);
  if (Exists(path + "/memory.limit_in_bytes")) ctrls.push_back(Controller::kMemory);
  if (Exists(path + "/pids.max")) ctrls.push_back(Controller::kPids);
  if (Exists(path + "/blkio.throttle.io_service_bytes")) ctrls.push_back(Controller::kIo);
  return std::unique_ptr<CgroupBackend>(new CgroupV1(path, std::move(ctrls)));
}

Result<std::unique_ptr<CgroupBackend>> CreateCgroupV1(const std::string& parent,
                                                      const std::string& name,
                                                      const std::vector<Controller>& ctrls) {
  std::string path = parent + "/" + name;
  // The last box to go removes the shared parent; a box starting at that moment sees
  // its mkdir fail with ENOENT and makes the parent again.
  for (int attempt = 0;; ++attempt) {
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return FailErrno("creating cgroup " + parent);
    if (mkdir(path.c_str(), 0755) == 0) break;
    if (errno != ENOENT || attempt == 8) return FailErrno("creating cgroup " + path);
  }
  return std::unique_ptr<CgroupBackend>(new CgroupV1(path, ctrls));
}

}  // namespace silk::compat::internal
