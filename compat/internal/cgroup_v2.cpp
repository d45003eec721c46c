// cgroup v2 backend: one directory in the unified hierarchy.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/file.hpp"
#include "base/sleep.hpp"
#include "base/strings.hpp"
#include "compat/internal/cgroup.hpp"

namespace silk::compat::internal {
namespace {

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

// Makes `c` available to the children of `dir` (cgroup.subtree_control). The kernel
// refuses (EBUSY) when `dir` itself has processes (the "no internal processes" rule).
Result<void> EnableController(const std::string& dir, Controller c) {
  auto cur = ReadFile(dir + "/cgroup.subtree_control");
  if (cur) {
    for (const auto& w : Split(Trim(*cur), ' '))
      if (w == ControllerName(c)) return {};
  }
  auto r = WriteCgroupFile(dir, "cgroup.subtree_control", std::string("+") + ControllerName(c));
  if (!r && r.error().sys_errno() == EBUSY)
    return Fail(ErrorCode::kUnsupported, std::string("cannot enable cgroup v2 controller '") +
                                             ControllerName(c) + "' below " + dir +
                                             ": it holds processes (move them to a leaf cgroup)");
  return r;
}

class CgroupV2 : public CgroupBackend {
 public:
  CgroupV2(std::string path, std::vector<Controller> ctrls)
      : path_(std::move(path)), ctrls_(std::move(ctrls)) {}
  std::string Describe() const override { return "cgroup2 " + path_; }
  const std::string& path() const override { return path_; }
  uint64_t OomKills() const override {
    if (!Serves(Controller::kMemory)) return 0;
    return ReadCgroupKey(path_, "memory.events", "oom_kill");
  }
  bool Serves(Controller c) const override {
    return std::find(ctrls_.begin(), ctrls_.end(), c) != ctrls_.end();
  }

  void ReadUsage(CgroupUsage& u) const override {
    // usage_usec is in the core cpu.stat of every cgroup2 directory, with or without the
    // cpu controller (kernel/cgroup/rstat.c), so a box's tracking cgroup has it too.
    if (auto text = ReadFile(path_ + "/cpu.stat"))
      for (const auto& line : Split(*text, '\n')) {
        auto kv = Split(line, ' ');
        if (kv.size() == 2 && kv[0] == "usage_usec")
          if (auto n = ParseUint(kv[1])) u.cpu_usec = *n;
      }
    if (Serves(Controller::kMemory)) {
      // current before peak: the peak is a watermark, never below a current read earlier.
      // memory.peak came with Linux 5.19; older kernels leave it nullopt.
      u.memory_current = ReadCgroupNumber(path_, "memory.current");
      u.memory_peak = ReadCgroupNumber(path_, "memory.peak");
      u.memory_max = ReadCgroupNumber(path_, "memory.max");
    }
    if (Serves(Controller::kPids)) {
      u.pids_current = ReadCgroupNumber(path_, "pids.current");
      u.pids_max = ReadCgroupNumber(path_, "pids.max");
    }
  }

  Result<void> Apply(const CgroupLimits& l) override {
    for (Controller c : ctrls_) {
      switch (c) {
        case Controller::kCpu:
          if (l.cpu_weight)
            SILK_TRY(WriteCgroupFile(path_, "cpu.weight", std::to_string(l.cpu_weight)));
          break;
        case Controller::kMemory:
          if (l.memory_max) {
            SILK_TRY(WriteCgroupFile(path_, "memory.max", std::to_string(l.memory_max)));
            if (Exists(path_ + "/memory.swap.max"))
              SILK_TRY(WriteCgroupFile(path_, "memory.swap.max", "0"));
          }
          break;
        case Controller::kPids:
          if (l.pids_max) SILK_TRY(WriteCgroupFile(path_, "pids.max", std::to_string(l.pids_max)));
          break;
        case Controller::kIo:
          if (l.io_weight) {
            if (Exists(path_ + "/io.weight"))
              SILK_TRY(
                  WriteCgroupFile(path_, "io.weight", "default " + std::to_string(l.io_weight)));
            else if (Exists(path_ + "/io.bfq.weight"))
              SILK_TRY(WriteCgroupFile(path_, "io.bfq.weight",
                                       std::to_string(std::clamp<uint32_t>(l.io_weight, 1, 1000))));
            else
              return Fail(ErrorCode::kUnsupported,
                          "io_weight: neither io.weight nor io.bfq.weight in " + path_);
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
    if (!Exists(path_)) return {};
    if (Exists(path_ + "/cgroup.kill")) {
      SILK_TRY(WriteCgroupFile(path_, "cgroup.kill", "1"));
    } else {
      return Fail(ErrorCode::kUnsupported, "no cgroup.kill in " + path_ + " (kernel < 5.14)");
    }
    // cgroup.kill is synchronous for the signal, not for the exit: wait until empty.
    for (int i = 0; i < 500; ++i) {
      auto procs = ReadCgroupProcs(path_);
      if (!procs || procs->empty()) return {};
      SleepFor(std::chrono::milliseconds(2));
    }
    return Fail(ErrorCode::kTimeout, "processes in " + path_ + " survived cgroup.kill");
  }

  Result<void> Remove() override { return RemoveCgroupDir(path_); }
  bool IsV2() const override { return true; }

 private:
  std::string path_;
  std::vector<Controller> ctrls_;
};

}  // namespace

Result<std::unique_ptr<CgroupBackend>> OpenCgroupV2(const std::string& path) {
  auto text = ReadFile(path + "/cgroup.controllers");
  if (!text) {
    if (text.error().sys_errno() == ENOENT || text.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "the box's cgroup " + path + " is gone");
    return Fail(std::move(text.error()));
  }
  // The controllers its parent enables for it are the ones active in it.
  std::vector<Controller> ctrls;
  for (const auto& word : Split(Trim(*text), ' '))
    for (Controller c : {Controller::kCpu, Controller::kMemory, Controller::kPids, Controller::kIo})
      if (word == ControllerName(c)) ctrls.push_back(c);
  return std::unique_ptr<CgroupBackend>(new CgroupV2(path, std::move(ctrls)));
}

Result<std::unique_ptr<CgroupBackend>> CreateCgroupV2(const std::string& mount,
                                                      const std::string& parent,
                                                      const std::string& name,
                                                      const std::vector<Controller>& ctrls) {
  // Enable the controllers on the way down from the mount to `parent`.
  std::vector<std::string> chain;
  for (std::string d = parent; d.size() >= mount.size(); d = d.substr(0, d.rfind('/'))) {
    chain.insert(chain.begin(), d);
    if (d == mount) break;
  }
  std::string path = parent + "/" + name;
  // The last box to go removes the shared parent; a box starting at that moment sees
  // ENOENT and makes the parent (and its controllers) again.
  for (int attempt = 0;; ++attempt) {
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return FailErrno("creating cgroup " + parent);
    Result<void> enabled;
    for (Controller c : ctrls)
      for (const auto& d : chain)
        if (enabled) enabled = EnableController(d, c);
    if (enabled && mkdir(path.c_str(), 0755) == 0) break;
    const int err = enabled ? errno : enabled.error().sys_errno();
    if (err != ENOENT || attempt == 8) {
      if (!enabled) return Fail(std::move(enabled.error()));
      return FailErrno("creating cgroup " + path, err);
    }
  }
  return std::unique_ptr<CgroupBackend>(new CgroupV2(path, ctrls));
}

}  // namespace silk::compat::internal
