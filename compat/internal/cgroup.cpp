#include "compat/internal/cgroup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "base/file.hpp"
#include "base/sleep.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

const char* ControllerName(Controller c) {
  switch (c) {
    case Controller::kCpu:
      return "cpu";
    case Controller::kMemory:
      return "memory";
    case Controller::kPids:
      return "pids";
    case Controller::kIo:
      return "io";
  }
  return "?";
}

std::vector<Controller> CgroupLimits::Needed() const {
  std::vector<Controller> out;
  if (cpu_weight) out.push_back(Controller::kCpu);
  if (memory_max) out.push_back(Controller::kMemory);
  if (pids_max) out.push_back(Controller::kPids);
  if (io_weight) out.push_back(Controller::kIo);
  for (Controller c : unlimited)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

bool CgroupLayout::V2Has(Controller c) const {
  return std::find(v2_controllers.begin(), v2_controllers.end(), ControllerName(c)) !=
         v2_controllers.end();
}

Result<CgroupLayout> CgroupLayout::Detect(const std::string& v2_override) {
  CgroupLayout l;
  std::string mountinfo = SILK_TRY(ReadFile("/proc/self/mountinfo"));
  for (const auto& line : Split(mountinfo, '\n')) {
    // "36 31 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = Split(line.substr(0, dash), ' ');
    auto right = Split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (left[3] != "/") continue;  // a bind of a sub-cgroup: not a hierarchy root
    if (right[0] == "cgroup2" && l.v2_mount.empty()) l.v2_mount = left[4];
    if (right[0] != "cgroup") continue;
    for (const auto& opt : Split(right[2], ',')) {
      if (opt == "cpu") l.v1_mounts[Controller::kCpu] = left[4];
      if (opt == "memory") l.v1_mounts[Controller::kMemory] = left[4];
      if (opt == "pids") l.v1_mounts[Controller::kPids] = left[4];
      if (opt == "blkio") l.v1_mounts[Controller::kIo] = left[4];
    }
  }
  if (!v2_override.empty()) l.v2_mount = v2_override;
  std::string self = SILK_TRY(ReadFile("/proc/self/cgroup"));
  for (const auto& line : Split(self, '\n')) {
    // "4:memory:/a/b", "0::/"
    auto parts = Split(line, ':');
    if (parts.size() < 3) continue;
    std::string path = line.substr(parts[0].size() + parts[1].size() + 2);
    if (parts[0] == "0" && parts[1].empty()) l.v2_own = path;
    for (const auto& ctrl : Split(parts[1], ',')) {
      if (ctrl == "cpu") l.v1_own[Controller::kCpu] = path;
      if (ctrl == "memory") l.v1_own[Controller::kMemory] = path;
      if (ctrl == "pids") l.v1_own[Controller::kPids] = path;
      if (ctrl == "blkio") l.v1_own[Controller::kIo] = path;
    }
  }
  if (!v2_override.empty()) l.v2_own = "/";
  if (!l.v2_mount.empty()) {
    auto ctl = ReadFile(l.v2_mount + (l.v2_own == "/" ? "" : l.v2_own) + "/cgroup.controllers");
    if (ctl) l.v2_controllers = Split(Trim(*ctl), ' ');
  }
  return l;
}

Result<void> WriteCgroupFile(const std::string& dir, const std::string& file,
                             const std::string& value) {
  std::string path = dir + "/" + file;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return FailErrno("opening " + path);
  if (write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return FailErrno("writing '" + value + "' to " + path);
  return {};
}

Result<std::vector<pid_t>> ReadCgroupProcs(const std::string& dir) {
  std::string text = SILK_TRY(ReadFile(dir + "/cgroup.procs"));
  std::vector<pid_t> out;
  for (const auto& l : Split(text, '\n'))
    if (!l.empty()) out.push_back(static_cast<pid_t>(std::stol(l)));
  return out;
}

uint64_t ReadCgroupKey(const std::string& dir, const std::string& file, const std::string& key) {
  auto text = ReadFile(dir + "/" + file);
  if (!text) return 0;
  for (const auto& line : Split(*text, '\n')) {
    auto parts = Split(line, ' ');
    if (parts.size() == 2 && parts[0] == key) return std::strtoull(parts[1].c_str(), nullptr, 10);
  }
  return 0;
}

std::optional<uint64_t> ReadCgroupNumber(const std::string& dir, const std::string& file) {
  auto text = ReadFile(dir + "/" + file);
  if (!text) return std::nullopt;
  const std::string word = Trim(*text);
  if (word == "max") return 0;
  auto n = ParseUint(word);
  if (!n) return std::nullopt;
  return *n;
}

Result<void> RemoveCgroupDir(const std::string& dir) {
  // rmdir fails with EBUSY while the kernel still counts exiting tasks; retry briefly.
  for (int i = 0; i < 200; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY) return FailErrno("removing cgroup " + dir);
    SleepFor(std::chrono::milliseconds(5));
  }
  return FailErrno("removing cgroup " + dir + " (still busy after 1 s)", EBUSY);
}

// The shared silk/ parent of a box's cgroup goes with the last box: rmdir fails with
// EBUSY/ENOTEMPTY while other boxes live there, and a box starting meanwhile re-creates
// it (CreateCgroupV1/V2 retry on ENOENT).
void RemoveParentIfEmpty(const std::string& box_dir) {
  rmdir(box_dir.substr(0, box_dir.rfind('/')).c_str());
}

namespace {

std::string Join2(const std::string& a, const std::string& b) {
  if (b.empty() || b == "/") return a;
  return a + (b[0] == '/' ? "" : "/") + b;
}

// A cgroup we only clean up (the sweep): kill what is inside, rmdir.
class CleanupCgroup : public CgroupBackend {
 public:
  explicit CleanupCgroup(std::string path) : path_(std::move(path)) {}
  std::string Describe() const override { return "cgroup " + path_; }
  const std::string& path() const override { return path_; }
  Result<void> Apply(const CgroupLimits&) override { return {}; }
  Result<void> AddProcess(pid_t) override {
    return Fail(ErrorCode::kInternal, "AddProcess on a cleanup-only cgroup");
  }
  Result<void> KillAll() override {
    if (WriteCgroupFile(path_, "cgroup.kill", "1")) {
      for (int i = 0; i < 200; ++i) {
        auto procs = ReadCgroupProcs(path_);
        if (!procs || procs->empty()) return {};
        SleepFor(std::chrono::milliseconds(5));
      }
    }
    for (int i = 0; i < 200; ++i) {
      auto procs = ReadCgroupProcs(path_);
      if (!procs) return procs.error().sys_errno() == ENOENT ? Result<void>{} : Fail(procs.error());
      if (procs->empty()) return {};
      for (pid_t p : *procs) kill(p, SIGKILL);
      SleepFor(std::chrono::milliseconds(5));
    }
    return Fail(ErrorCode::kTimeout, "processes in " + path_ + " survived SIGKILL for 1 s");
  }
  Result<void> Remove() override {
    SILK_TRY(RemoveCgroupDir(path_));
    RemoveParentIfEmpty(path_);
    return {};
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<CgroupBackend> OpenCgroupForCleanup(const std::string& path) {
  return std::make_unique<CleanupCgroup>(path);
}

Result<std::unique_ptr<CgroupBackend>> OpenBoxCgroup(const std::string& path) {
  struct statfs fs;
  if (statfs(path.c_str(), &fs) != 0) {
    if (errno == ENOENT) return Fail(ErrorCode::kNotFound, "the box's cgroup " + path + " is gone");
    return FailErrno("reading cgroup " + path);
  }
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return OpenCgroupV2(path);
  if (fs.f_type == CGROUP_SUPER_MAGIC) return OpenCgroupV1(path);
  return Fail(ErrorCode::kInvalidInput, path + " is not a cgroup directory");
}

Result<std::vector<std::unique_ptr<CgroupBackend>>> OpenBoxCgroups(
    const std::vector<std::string>& paths, bool skip_missing) {
  std::vector<std::unique_ptr<CgroupBackend>> out;
  for (const auto& p : paths) {
    auto b = OpenBoxCgroup(p);
    if (!b && skip_missing && b.error().code() == ErrorCode::kNotFound) continue;
    out.push_back(SILK_TRY(std::move(b)));
  }
  std::stable_partition(out.begin(), out.end(), [](const auto& b) { return b->IsV2(); });
  return out;
}

Result<CgroupUsage> ReadCgroupsUsage(const std::vector<std::string>& paths) {
  CgroupUsage usage;
  for (const auto& b : SILK_TRY(OpenBoxCgroups(paths, /*skip_missing=*/true))) b->ReadUsage(usage);
  return usage;
}

Result<std::unique_ptr<BoxCgroup>> BoxCgroup::Create(const CgroupLayout& layout,
                                                     const std::string& box_id,
                                                     const CgroupLimits& limits, bool tracking,
                                                     const RecordPaths& record) {
  auto box = std::unique_ptr<BoxCgroup>(new BoxCgroup());
  std::vector<Controller> v2, v1;
  for (Controller c : limits.Needed()) (layout.V2Has(c) ? v2 : v1).push_back(c);
  for (Controller c : v1)
    if (!layout.v1_mounts.count(c))
      return Fail(ErrorCode::kUnsupported,
                  std::string("cgroup controller '") + ControllerName(c) +
                      "' is available neither in cgroup v2 (" +
                      (layout.v2_mount.empty() ? "not mounted" : layout.v2_mount) +
                      ") nor as a cgroup v1 hierarchy; drop the limit that needs it");
  // Controllers co-mounted in one v1 hierarchy (e.g. cpu,cpuacct) share one directory.
  std::map<std::string, std::vector<Controller>> by_parent;
  for (Controller c : v1) {
    auto own = layout.v1_own.count(c) ? layout.v1_own.at(c) : "/";
    by_parent[Join2(layout.v1_mounts.at(c), own) + "/silk"].push_back(c);
  }
  const bool want_v2 = !v2.empty() || (tracking && !layout.v2_mount.empty());
  const std::string v2_parent = Join2(layout.v2_mount, layout.v2_own) + "/silk";
  if (record) {
    std::vector<std::string> planned;
    if (want_v2) planned.push_back(v2_parent + "/" + box_id);
    for (const auto& [parent, ctrls] : by_parent) planned.push_back(parent + "/" + box_id);
    SILK_TRY(WithContext(record(planned), "recording the box's cgroups before creating them"));
  }
  if (want_v2) {
    auto part = CreateCgroupV2(layout.v2_mount, v2_parent, box_id, v2);
    if (part) {
      box->parts_.push_back(std::move(*part));
    } else if (!v2.empty()) {
      return Fail(std::move(part.error()));
    }  // a tracking-only cgroup is best effort
  }
  for (auto& [parent, ctrls] : by_parent)
    box->parts_.push_back(SILK_TRY(CreateCgroupV1(parent, box_id, ctrls)));
  for (auto& p : box->parts_) {
    auto r = p->Apply(limits);
    if (!r) return Fail(std::move(r.error()).Wrap(p->Describe()));
  }
  return box;
}

BoxCgroup::~BoxCgroup() { (void)Destroy(); }

UniqueFd BoxCgroup::OpenV2Dir() const {
  for (auto& p : parts_)
    if (p->IsV2()) return UniqueFd(open(p->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return UniqueFd();
}

Result<void> BoxCgroup::AddProcess(pid_t pid, bool born_in_v2) {
  for (auto& p : parts_)
    if (!(born_in_v2 && p->IsV2())) SILK_TRY(p->AddProcess(pid));
  return {};
}

std::vector<std::string> BoxCgroup::Paths() const {
  std::vector<std::string> out;
  for (auto& p : parts_) out.push_back(p->path());
  return out;
}

uint64_t BoxCgroup::OomKills() const {
  uint64_t kills = 0;
  for (const auto& p : parts_) kills += p->OomKills();
  return kills;
}

Result<void> BoxCgroup::Destroy() {
  Result<void> first;
  for (auto& p : parts_) {
    auto k = p->KillAll();
    auto r = p->Remove();
    if (first && !k) first = std::move(k);
    if (first && !r) first = std::move(r);
    if (r) RemoveParentIfEmpty(p->path());
  }
  parts_.clear();
  return first;
}

}  // namespace silk::compat::internal
