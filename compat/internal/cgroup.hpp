// cgroups of one box behind one small interface with two real backends: cgroup v2
// (cgroup_v2.cpp, where the unified hierarchy has the controller) and cgroup v1
// (cgroup_v1.cpp, one hierarchy per controller; this host). Each controller goes to v2
// when the unified hierarchy offers it, else to its v1 hierarchy (crun's cgroup manager
// idea: one interface, several backends).
//
// Placement: <hierarchy mount>/<the supervisor's own cgroup there>/silk/<box id>.
// Ownership: BoxCgroup's destructor kills every process left in the box's cgroups and
// removes them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

enum class Controller { kCpu, kMemory, kPids, kIo };
const char* ControllerName(Controller c);  // "cpu", "memory", "pids", "io"

struct CgroupLimits {
  uint64_t memory_max = 0;  // 0 = none; swap off when set
  uint64_t pids_max = 0;    // 0 = none
  uint32_t cpu_weight = 0;  // 0 = none; 1..10000 (v2 scale)
  uint32_t io_weight = 0;   // 0 = none; 1..10000 (v2 scale)
  // Controllers the box gets also when none of the limits above asks for them (a named
  // box's memory, pids and cpu: `silk box stats` reads them, `silk box update` sets
  // limits there later); Apply writes no limit for them.
  std::vector<Controller> unlimited;
  // The controllers of the limits that are set, and `unlimited`, each once.
  std::vector<Controller> Needed() const;
};

// What the cgroups of a box count, each field filled by the backend that serves it
// (nullopt: no cgroup of the box serves it). Limits: 0 = none.
struct CgroupUsage {
  std::optional<uint64_t> cpu_usec;  // CPU time of every process of the box, ever
  std::optional<uint64_t> memory_current, memory_peak, memory_max;
  std::optional<uint64_t> pids_current, pids_max;
};

// One hierarchy's cgroup of one box.
class CgroupBackend {
 public:
  virtual ~CgroupBackend() = default;
  // "cgroup2 /sys/fs/cgroup/unified/silk/b1" (for messages)
  virtual std::string Describe() const = 0;
  virtual const std::string& path() const = 0;
  // Writes the limits of the controllers this hierarchy hosts for the box.
  virtual Result<void> Apply(const CgroupLimits& limits) = 0;
  virtual Result<void> AddProcess(pid_t pid) = 0;
  // Kills every process in the cgroup and waits (briefly) until it is empty.
  virtual Result<void> KillAll() = 0;
  // Removes the (empty) cgroup directory. Missing is fine.
  virtual Result<void> Remove() = 0;
  virtual bool IsV2() const { return false; }
  // Whether this cgroup hosts controller `c` for the box.
  virtual bool Serves(Controller c) const {
    (void)c;
    return false;
  }
  // Adds what this cgroup counts to `usage` (the fields of the controllers it serves;
  // cgroup v2 also the CPU time of its core cpu.stat). Unreadable files stay nullopt.
  virtual void ReadUsage(CgroupUsage& usage) const { (void)usage; }
  // Processes of the box the kernel's OOM killer has killed (the memory controller's
  // oom_kill count: memory.events on v2, memory.oom_control on v1); 0 without memory.
  virtual uint64_t OomKills() const { return 0; }
};

// Where the hierarchies are mounted and what the unified one offers.
struct CgroupLayout {
  std::string v2_mount;                         // empty when cgroup2 is not mounted
  std::vector<std::string> v2_controllers;      // usable in the supervisor's v2 cgroup
  std::string v2_own;                           // supervisor's cgroup in v2 ("/...")
  std::map<Controller, std::string> v1_mounts;  // controller -> mount point
  std::map<Controller, std::string> v1_own;     // controller -> supervisor's cgroup

  // Reads /proc/self/mountinfo and /proc/self/cgroup. `v2_mount_override` replaces the
  // cgroup2 mount point (tests mount their own cgroup2 instance).
  static Result<CgroupLayout> Detect(const std::string& v2_mount_override = "");
  bool V2Has(Controller c) const;
};

// Backends. `parent` is the directory the box's cgroup is created in (created if
// missing), `controllers` the ones this hierarchy serves for the box.
Result<std::unique_ptr<CgroupBackend>> CreateCgroupV2(const std::string& mount,
                                                      const std::string& parent,
                                                      const std::string& name,
                                                      const std::vector<Controller>& controllers);
Result<std::unique_ptr<CgroupBackend>> CreateCgroupV1(const std::string& parent,
                                                      const std::string& name,
                                                      const std::vector<Controller>& controllers);
// A backend for an existing cgroup directory (the sweep of a dead supervisor's box).
std::unique_ptr<CgroupBackend> OpenCgroupForCleanup(const std::string& path);
// A backend for an existing cgroup of a live box (a path of its record), for its usage
// and live updates: the hierarchy from statfs (cgroup2 or v1), the controllers it serves
// from the directory itself (v2: its cgroup.controllers; v1: the controllers' files, as
// each v1 hierarchy has only its own). Errors: kNotFound (gone: the box ended), kSystem.
Result<std::unique_ptr<CgroupBackend>> OpenBoxCgroup(const std::string& path);
Result<std::unique_ptr<CgroupBackend>> OpenCgroupV2(const std::string& path);
Result<std::unique_ptr<CgroupBackend>> OpenCgroupV1(const std::string& path);
// Every cgroup of a live box (its record's paths), the cgroup2 one first.
// `skip_missing`: a directory that is gone is left out instead of failing (kNotFound).
Result<std::vector<std::unique_ptr<CgroupBackend>>> OpenBoxCgroups(
    const std::vector<std::string>& paths, bool skip_missing = false);
// What the cgroups `paths` of a box count (v2 read first; missing ones skipped).
Result<CgroupUsage> ReadCgroupsUsage(const std::vector<std::string>& paths);

// All cgroups of one box. Destruction kills and removes them.
class BoxCgroup {
 public:
  // Creates the box's cgroups for `limits` (plus a v2 tracking cgroup when cgroup2 is
  // mounted and writable) and applies the limits. `record`, when set, gets every
  // directory Create may make before it makes any (write-ahead: BoxState::RecordCgroups),
  // and its error stops Create. Errors: kUnsupported when a needed controller is in
  // neither hierarchy (names it), kSystem otherwise.
  using RecordPaths = std::function<Result<void>(const std::vector<std::string>&)>;
  static Result<std::unique_ptr<BoxCgroup>> Create(const CgroupLayout& layout,
                                                   const std::string& box_id,
                                                   const CgroupLimits& limits, bool tracking,
                                                   const RecordPaths& record = {});
  ~BoxCgroup();
  // The cgroup2 directory, for clone3(CLONE_INTO_CGROUP): a process born in its cgroup
  // skips the migration, which costs ~10 ms on this kernel (cgroup_threadgroup_rwsem).
  // Invalid when the box has no v2 cgroup.
  UniqueFd OpenV2Dir() const;
  // Moves `pid` into every cgroup of the box (except the v2 one when `born_in_v2`).
  Result<void> AddProcess(pid_t pid, bool born_in_v2 = false);
  std::vector<std::string> Paths() const;
  // The OOM kills counted in the box's memory cgroup (read before Destroy).
  uint64_t OomKills() const;
  // Kill + remove now (the destructor does it too).
  Result<void> Destroy();

 private:
  std::vector<std::unique_ptr<CgroupBackend>> parts_;
};

// Shared by the backends.
Result<void> WriteCgroupFile(const std::string& dir, const std::string& file,
                             const std::string& value);
Result<std::vector<pid_t>> ReadCgroupProcs(const std::string& dir);
Result<void> RemoveCgroupDir(const std::string& dir);
// The value of `key` in a flat-keyed cgroup file ("key value" lines, e.g. memory.events),
// 0 when the file or the key is missing.
uint64_t ReadCgroupKey(const std::string& dir, const std::string& file, const std::string& key);
// A one-number cgroup file (memory.current, pids.max, ...): "max" reads as 0 (none);
// nullopt when the file is missing or not a number.
std::optional<uint64_t> ReadCgroupNumber(const std::string& dir, const std::string& file);

}  // namespace silk::compat::internal
