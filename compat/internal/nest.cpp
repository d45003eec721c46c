#include "compat/internal/nest.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "base/file.hpp"
#include "base/strings.hpp"

namespace silk::compat::internal {
namespace {

struct CgroupMountInfo {
  std::string point, fstype, super_options;
};

std::vector<CgroupMountInfo> CgroupMountPoints() {
  std::vector<CgroupMountInfo> out;
  auto text = ReadFile("/proc/self/mountinfo");
  if (!text) return out;
  for (const auto& line : Split(*text, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto before = Split(line.substr(0, dash), ' ');
    auto after = Split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3) continue;
    if (after[0] != "cgroup" && after[0] != "cgroup2") continue;
    out.push_back({before[4], after[0], after[2]});
  }
  return out;
}

// The options that name a v1 hierarchy: its controllers and name=, which a new mount of
// the same hierarchy must repeat exactly (else EBUSY).
std::string HierarchyOptions(const std::string& super_options) {
  static const std::set<std::string> kControllers = {
      "cpu",      "cpuacct", "cpuset",     "memory",  "devices", "freezer", "net_cls",
      "net_prio", "blkio",   "perf_event", "hugetlb", "pids",    "rdma",    "misc"};
  std::string out;
  for (const auto& o : Split(super_options, ',')) {
    if (!kControllers.count(o) && o.rfind("name=", 0) != 0) continue;
    if (!out.empty()) out += ",";
    out += o;
  }
  return out;
}

}  // namespace

Result<std::vector<MountPlanBuilder::CgroupMount>> DelegateCgroups(
    const std::vector<std::string>& paths, uid_t uid, gid_t gid) {
  const auto mounts = CgroupMountPoints();
  std::vector<MountPlanBuilder::CgroupMount> out;
  for (const auto& path : paths) {
    const CgroupMountInfo* m = nullptr;
    for (const auto& c : mounts)
      if (path.rfind(c.point + "/", 0) == 0 && (!m || c.point.size() > m->point.size())) m = &c;
    if (!m) return Fail(ErrorCode::kSystem, "the box's cgroup " + path + " is on no cgroup mount");
    std::vector<std::string> owned = {path};
    if (m->fstype == "cgroup2")
      for (const char* f : {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"})
        owned.push_back(path + "/" + f);
    for (const auto& p : owned)
      if (chown(p.c_str(), uid, gid) != 0 && errno != ENOENT)
        return FailErrno("delegating the box's cgroup " + p);
    const std::string name = m->point.substr(m->point.rfind('/') + 1);
    out.push_back(
        {name, m->fstype, m->fstype == "cgroup" ? HierarchyOptions(m->super_options) : ""});
  }
  return out;
}

Result<bool> MakeTunNode(const std::string& node, uid_t uid, gid_t gid) {
  struct stat st;
  if (stat("/dev/net/tun", &st) != 0) return FailErrno("stat /dev/net/tun");
  if (mknod(node.c_str(), S_IFCHR | 0600, st.st_rdev) != 0) {
    if (errno == EPERM) return false;
    return FailErrno("making the box's tun node " + node);
  }
  if (chown(node.c_str(), uid, gid) != 0) return FailErrno("giving the box its tun node " + node);
  return true;
}

bool SeccompListenerAvailable() {
  static const bool available = [] {
    auto status = ReadFile("/proc/self/status");
    if (!status || status->find("\nSeccomp:\t2") == std::string::npos) return true;
    pid_t pid = fork();
    if (pid < 0) return false;  // cannot tell: build listener-free filters
    if (pid == 0) {
      sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
      sock_fprog prog{1, &allow};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(2);
      long fd =
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
      _exit(fd >= 0 ? 0 : errno == EBUSY ? 1 : 2);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }();
  return available;
}

}  // namespace silk::compat::internal
