#include "compat/internal/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "compat/internal/cgroup.hpp"
#include "compat/internal/netlink.hpp"

namespace silk::compat::internal {

unsigned long long ProcessStartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  // "pid (comm) state ppid ..." - comm may contain spaces and parens: skip to the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = Split(stat->substr(close + 2), ' ');
  // fields[0] is field 3 (state); start time is field 22.
  if (fields.size() < 20) return 0;
  return std::strtoull(fields[19].c_str(), nullptr, 10);
}

namespace {

Result<void> MkdirP(const std::string& path, mode_t mode) {
  std::string cur;
  for (const auto& part : Split(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return FailErrno("creating state directory " + cur);
  }
  return {};
}

bool SupervisorAlive(const std::string& dir) {
  auto text = ReadFile(dir + "/supervisor");
  if (!text) return false;
  auto parts = Split(Trim(*text), ' ');
  if (parts.size() != 2) return false;
  pid_t pid = static_cast<pid_t>(std::strtol(parts[0].c_str(), nullptr, 10));
  unsigned long long start = std::strtoull(parts[1].c_str(), nullptr, 10);
  return pid > 0 && ProcessStartTime(pid) == start;
}

// State files are written in place without fsync: they must survive the supervisor, not
// the machine (a reboot takes every box with it), and fsync costs ~10 ms per box here.
Result<void> WriteStateFile(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("creating " + path);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return FailErrno("writing " + path);
  return {};
}

void RemoveStateDir(const std::string& dir) {
  for (const char* f : {"supervisor", "cgroups", "veth"}) unlink((dir + "/" + f).c_str());
  rmdir((dir + "/root").c_str());
  rmdir(dir.c_str());
}

}  // namespace

Result<bool> SweepBoxDir(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return false;
  if (SupervisorAlive(dir)) return false;
  // A box being created right now has no supervisor file for a moment; leave young
  // directories alone.
  if (access((dir + "/supervisor").c_str(), F_OK) != 0 && time(nullptr) - st.st_mtime < 10)
    return false;
  if (auto cg = ReadFile(dir + "/cgroups")) {
    for (const auto& path : Split(*cg, '\n')) {
      if (path.empty()) continue;
      auto c = OpenCgroupForCleanup(path);
      SILK_TRY(c->KillAll());
      SILK_TRY(c->Remove());
    }
  }
  if (auto veth = ReadFile(dir + "/veth")) {
    std::string name = Trim(*veth);
    if (!name.empty()) {
      auto nl = SILK_TRY(Netlink::Open());
      auto r = nl.DeleteLink(name);
      if (!r && r.error().code() != ErrorCode::kNotFound) return Fail(std::move(r.error()));
    }
  }
  RemoveStateDir(dir);
  return true;
}

Result<BoxState> BoxState::Create(const std::string& state_root, const std::string& id) {
  SILK_TRY(MkdirP(state_root, 0755));
  std::string dir = state_root + "/" + id;
  if (access(dir.c_str(), F_OK) == 0) {
    if (SupervisorAlive(dir))
      return Fail(ErrorCode::kInvalidInput, "a running box already has the id '" + id + "'");
    SILK_TRY(SweepBoxDir(dir));
  }
  if (mkdir(dir.c_str(), 0755) != 0) return FailErrno("creating box state " + dir);
  BoxState state(dir);
  if (mkdir(state.root_dir().c_str(), 0755) != 0) return FailErrno("creating " + state.root_dir());
  pid_t self = getpid();
  SILK_TRY(WriteStateFile(dir + "/supervisor", std::to_string(self) + " " +
                                                   std::to_string(ProcessStartTime(self)) + "\n"));
  return state;
}

BoxState::BoxState(BoxState&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }

BoxState::~BoxState() {
  if (!dir_.empty()) RemoveStateDir(dir_);
}

Result<void> BoxState::RecordCgroups(const std::vector<std::string>& paths) {
  return WriteStateFile(dir_ + "/cgroups", Join(paths, "\n") + "\n");
}

Result<void> BoxState::RecordVeth(const std::string& name) {
  return WriteStateFile(dir_ + "/veth", name + "\n");
}

}  // namespace silk::compat::internal
