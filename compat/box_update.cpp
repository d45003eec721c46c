#include "compat/box_update.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "compat/box_lifecycle.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/network.hpp"
#include "compat/internal/state.hpp"

namespace silk::compat {
namespace {

using internal::CgroupBackend;
using internal::CgroupLimits;
using internal::Controller;

constexpr uint64_t kMaxPids = uint64_t{1} << 22;  // the kernel's PID_MAX_LIMIT

Result<void> CheckUpdate(const BoxLimitsUpdate& u) {
  auto bad = [](const std::string& m) { return Fail(ErrorCode::kInvalidInput, m); };
  if (u.empty())
    return bad(
        "nothing to update: give a memory, pids, cpu weight, io weight or egress rate limit");
  if (u.memory_max && *u.memory_max == 0)
    return bad("memory_max: 0 is not a limit; give a size above 0");
  if (u.pids_max && (*u.pids_max == 0 || *u.pids_max > kMaxPids))
    return bad("pids_max: " + std::to_string(*u.pids_max) + " is not in 1.." +
               std::to_string(kMaxPids));
  if (u.cpu_weight && (*u.cpu_weight == 0 || *u.cpu_weight > 10000))
    return bad("cpu_weight: " + std::to_string(*u.cpu_weight) + " is not in 1..10000");
  if (u.io_weight && (*u.io_weight == 0 || *u.io_weight > 10000))
    return bad("io_weight: " + std::to_string(*u.io_weight) + " is not in 1..10000");
  if (u.egress_rate && *u.egress_rate == 0)
    return bad("egress_rate: 0 is not a limit; give bytes per second above 0");
  return {};
}

bool Live(const BoxRecord& r) {
  return r.status == BoxStatus::kCreated || r.status == BoxStatus::kRunning;
}

Error NotLive(const BoxRecord& r) {
  std::string why = "box " + r.name + " is " + BoxStatusName(r.status);
  if (r.status == BoxStatus::kLost)
    why += " (its supervisor died; `silk box delete " + r.name + "` reclaims it)";
  return Error(ErrorCode::kInvalidInput, why + ": only a created or running box can be updated");
}

// The limits file, locked (flock LOCK_EX). Each write renames a new file over the path,
// so a lock taken on a file that was replaced meanwhile is dropped and taken again.
Result<UniqueFd> LockLimits(const std::string& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) return Fail(ErrorCode::kNotFound, path + " does not exist");
      return FailErrno("opening " + path);
    }
    if (flock(fd.get(), LOCK_EX) != 0) return FailErrno("locking " + path);
    struct stat held, now;
    if (fstat(fd.get(), &held) != 0) return FailErrno("reading " + path);
    if (stat(path.c_str(), &now) == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
      return fd;
  }
  return Fail(ErrorCode::kTimeout, path + " kept being replaced while silk tried to lock it");
}

// A pidfd of the box's pid 1 if it is still the process the record names.
UniqueFd InitPidfd(const BoxRecord& r) {
  if (r.init_pid <= 0) return UniqueFd();
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, r.init_pid, 0)));
  if (!fd || internal::ProcessStartTime(r.init_pid) != r.init_start) return UniqueFd();
  return fd;
}

// The cgroup of the box that hosts `c`, or nullptr.
CgroupBackend* Serving(const std::vector<std::unique_ptr<CgroupBackend>>& parts, Controller c) {
  for (const auto& p : parts)
    if (p->Serves(c)) return p.get();
  return nullptr;
}

std::string ChangedSoFar(const std::vector<LimitChange>& done) {
  std::vector<std::string> names;
  for (const auto& c : done) names.push_back(c.limit);
  return names.empty() ? "nothing was changed" : "already changed: " + Join(names, ", ");
}

}  // namespace

Result<void> RecordBoxLimits(const std::string& state_dir, const BoxLimits& limits) {
  // Whole or not at all, as the other state files; no fsync (they must outlive the
  // supervisor, not the machine).
  const std::string path = state_dir + "/limits";
  std::string tmp = path + ".XXXXXX";
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return FailErrno("creating a temporary file next to " + path);
  const std::string text = BoxLimitsToJson(limits);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      fchmod(fd.get(), 0644) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return FailErrno("writing " + path, err);
  }
  return {};
}

Result<UpdateReport> UpdateBox(const std::string& state_root, const std::string& name,
                               const BoxLimitsUpdate& update) {
  SILK_TRY(CheckUpdate(update));
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (!Live(r)) return Fail(NotLive(r));
  const std::string limits_path = r.state_dir + "/limits";
  if (!r.limits) {
    // A box from before limits were recorded: start from what its cgroups say.
    auto usage = SILK_TRY(internal::ReadCgroupsUsage(r.cgroups));
    BoxLimits seen;
    seen.memory_max = usage.memory_max.value_or(0);
    seen.pids_max = usage.pids_max.value_or(0);
    if (access(limits_path.c_str(), F_OK) != 0) SILK_TRY(RecordBoxLimits(r.state_dir, seen));
  }
  UniqueFd lock = SILK_TRY(LockLimits(limits_path));
  // Under the lock: the limits as the last update left them, and a box still live.
  r = SILK_TRY(ReadBox(state_root, name));
  if (!Live(r)) return Fail(NotLive(r));
  const std::string limits_text = SILK_TRY(ReadFile(limits_path));
  const BoxLimits old = SILK_TRY(ParseBoxLimits(limits_text, limits_path));

  // Everything is checked before anything changes.
  auto parts = internal::OpenBoxCgroups(r.cgroups);
  if (!parts) {
    if (parts.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kInvalidInput,
                  "box " + name + " has ended: " + parts.error().message());
    return Fail(std::move(parts.error()));
  }
  // The cgroup limits, in the order they are applied and reported.
  struct Step {
    const char* limit;
    Controller controller;
    std::optional<uint64_t> value;
    uint64_t (*get)(const BoxLimits&);
    void (*set)(BoxLimits&, CgroupLimits&, uint64_t);
  };
  const Step steps[] = {
      {"memory_max", Controller::kMemory, update.memory_max,
       [](const BoxLimits& l) -> uint64_t { return l.memory_max; },
       [](BoxLimits& l, CgroupLimits& c, uint64_t v) { l.memory_max = c.memory_max = v; }},
      {"pids_max", Controller::kPids, update.pids_max,
       [](const BoxLimits& l) -> uint64_t { return l.pids_max; },
       [](BoxLimits& l, CgroupLimits& c, uint64_t v) { l.pids_max = c.pids_max = v; }},
      {"cpu_weight", Controller::kCpu, update.cpu_weight,
       [](const BoxLimits& l) -> uint64_t { return l.cpu_weight; },
       [](BoxLimits& l, CgroupLimits& c, uint64_t v) {
         l.cpu_weight = c.cpu_weight = static_cast<uint32_t>(v);
       }},
      {"io_weight", Controller::kIo, update.io_weight,
       [](const BoxLimits& l) -> uint64_t { return l.io_weight; },
       [](BoxLimits& l, CgroupLimits& c, uint64_t v) {
         l.io_weight = c.io_weight = static_cast<uint32_t>(v);
       }},
  };
  for (const auto& s : steps)
    if (s.value && !Serving(*parts, s.controller))
      return Fail(ErrorCode::kUnsupported,
                  "box " + name + " has no " + internal::ControllerName(s.controller) +
                      " cgroup to set " + s.limit +
                      " in (a box made by an unprivileged user gets one only for a limit "
                      "given at create); nothing was changed");
  if (update.memory_max) {
    internal::CgroupUsage usage;
    Serving(*parts, Controller::kMemory)->ReadUsage(usage);
    if (usage.memory_current && *update.memory_max < *usage.memory_current)
      return Fail(ErrorCode::kInvalidInput,
                  "a memory limit of " + FormatSize(*update.memory_max) + " is below box " + name +
                      "'s current memory use of " + FormatSize(*usage.memory_current) +
                      "; give at least that (nothing was changed)");
  }
  UniqueFd init;
  if (update.egress_rate) {
    if (access((r.state_dir + "/veth").c_str(), F_OK) != 0)
      return Fail(ErrorCode::kUnsupported,
                  "box " + name +
                      " has no network to cap (made without --net bridge=...); nothing was "
                      "changed");
    init = InitPidfd(r);
    if (!init) return Fail(ErrorCode::kInvalidInput, "box " + name + " has ended");
  }

  UpdateReport report;
  report.name = name;
  report.limits = old;  // what the kernel has, step by step
  std::vector<LimitChange> done;
  auto note = [&](const char* limit, uint64_t was, uint64_t now) {
    done.push_back({limit, was, now});
    if (was != now) report.changes.push_back({limit, was, now});
  };
  auto failed = [&](Error e) -> Result<UpdateReport> {
    // What did change stays recorded, so that `box state` tells the truth.
    (void)RecordBoxLimits(r.state_dir, report.limits);
    return Fail(std::move(e).Wrap("updating box " + name + " (" + ChangedSoFar(done) + ")"));
  };
  for (const auto& s : steps) {
    if (!s.value) continue;
    CgroupLimits one;
    BoxLimits next = report.limits;
    s.set(next, one, *s.value);
    CgroupBackend* cg = Serving(*parts, s.controller);
    if (auto w = cg->Apply(one); !w) return failed(std::move(w.error()).Wrap(cg->Describe()));
    note(s.limit, s.get(report.limits), *s.value);
    report.limits = next;
  }
  if (update.egress_rate) {
    if (auto w = internal::ChangeEgressRate(init.get(), *update.egress_rate); !w)
      return failed(std::move(w.error()).Wrap("the HTB class on the box's eth0"));
    note("egress_rate", report.limits.egress_rate, *update.egress_rate);
    report.limits.egress_rate = *update.egress_rate;
  }
  SILK_TRY(RecordBoxLimits(r.state_dir, report.limits));
  return report;
}

std::string UpdateReportToJson(const UpdateReport& report) {
  nlohmann::ordered_json j;
  j["name"] = report.name;
  j["changed"] = nlohmann::ordered_json::array();
  for (const auto& c : report.changes)
    j["changed"].push_back({{"limit", c.limit}, {"old", c.old_value}, {"new", c.new_value}});
  j["limits"] = nlohmann::ordered_json::parse(BoxLimitsToJson(report.limits));
  return j.dump(2) + "\n";
}

}  // namespace silk::compat
