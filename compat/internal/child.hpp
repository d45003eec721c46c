// The code that runs in the box between clone() and execve(). Everything it needs is
// prepared by the supervisor beforehand in a ChildPlan (strings, arrays, the compiled
// filter); the child only makes system calls: no allocation, no logging, no exceptions.
// A failure is reported as one ChildReport (stage + errno) over the sync socket, then
// the child _exit()s (nsjail subproc.cc).
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "compat/internal/mounts.hpp"
#include "policy/install.hpp"

namespace silk::compat::internal {

// Where the child was when it failed. Mount steps report kMountBase + op index.
enum ChildStage : uint32_t {
  kStageWaitGo = 1,
  kStageSetsid,
  kStageCgroupNs,
  kStageHostname,
  kStageLoopback,
  kStageMountPrivate,
  kStagePivot,
  kStageCwd,
  kStageRlimit,
  kStageSetIds,
  kStageCaps,
  kStageNoNewPrivs,
  kStageSeccomp,
  kStageSendListener,
  kStageStdio,
  kStageExec,    // errno ENOENT: command not found
  kStageNsRoot,  // becoming root of the box's user namespace
  kStageInit,    // starting the command under silk's init
  kStageEnter,   // entering the namespaces of a running box (`silk box exec`)
  kMountBase = 1000,
};

// Message kinds on the sync socket (child -> supervisor), all sent before the filter.
inline constexpr char kMsgListenerAt = 'L';  // a ListenerAt: where the listener will be
inline constexpr char kMsgError = 'E';       // a ChildReport

// The seccomp listener fd number the child's filter install is about to return (the
// lowest free fd); the supervisor takes it with pidfd_getfd once it exists. `gated`:
// the message carries the child's fault gate (SCM_RIGHTS, fault_gate.hpp), which says
// when that is; without one, the supervisor polls for it.
struct ListenerAt {
  char kind = kMsgListenerAt;
  bool gated = false;
  int32_t fd = -1;
};

// A page shared by the supervisor and the child (MAP_SHARED before clone). After the
// filter is in, the child may make no syscall but execve -- the profile may deny or
// notify any other -- so it says what it needs to through memory:
struct ChildHandoff {
  std::atomic<uint32_t> listener_taken{0};  // supervisor -> child: stop waiting
  std::atomic<int32_t> exec_errno{0};       // child -> supervisor: execve failed so
  // silk's init -> supervisor: the signal that killed the command (init exits 128+N).
  std::atomic<int32_t> command_signal{0};
};

struct ChildReport {
  char kind = kMsgError;
  uint32_t stage = 0;
  int32_t err = 0;
};

struct RlimitOp {
  int resource;
  uint64_t soft, hard;
};

struct ChildPlan {
  int sync_fd = -1;  // SOCK_SEQPACKET, CLOEXEC: waits for 'G', reports errors
  // `silk box exec` (born in the box's pid namespace and cgroups): right after 'G',
  // become undumpable for good -- until execve nothing in the box may ptrace this
  // process or read its /proc files while it holds the supervisor's descriptors and has
  // no filter yet (execve makes the command dumpable as any) -- and setns() through the
  // box init's pidfd into `enter_flags` (user first: the kernel orders them). The root
  // and working directory are then the box's root.
  int enter_pidfd = -1;
  int enter_flags = 0;
  // Cloned with another owner's euid (NamespaceOwner): right after 'G' (the maps are
  // written), become root of the user namespace -- real, effective, saved and fs ids,
  // no supplementary groups -- so that no id of the child is host root any more.
  bool become_ns_root = false;
  ChildHandoff* handoff = nullptr;  // shared page, never null
  bool unshare_cgroup = false;      // after the supervisor placed us in the box cgroup
  const char* hostname = nullptr;
  bool loopback_up = true;
  MountPlan mounts;
  const char* cwd = "/";
  int stdio[3] = {-1, -1, -1};   // dup2'ed onto 0, 1, 2 when >= 0
  bool controlling_tty = false;  // stdin is a pty slave: make it the session's terminal
  bool set_ids = false;
  bool set_groups = false;  // setgroups(0) (not allowed with setgroups=deny)
  uid_t uid = 0;
  gid_t gid = 0;
  const RlimitOp* rlimits = nullptr;
  size_t rlimit_count = 0;
  uint64_t keep_caps = 0;  // capability bit mask the box keeps
  int last_cap = 40;       // the kernel's highest capability (LastCapability())
  // Fork here (all setup done, before the filter): this process stays as the box's
  // pid 1 (RunInit: unfiltered, non-dumpable, no fds), its child installs the filter and
  // execs the command.
  bool run_init = false;
  const sock_fprog* filter = nullptr;
  policy::InstallOptions install;  // new_listener => the listener goes to the supervisor
  const char* command = nullptr;   // as given; searched on `path` when it has no '/'
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* path = nullptr;  // PATH value for the search
  char* exec_buf = nullptr;    // scratch for "<dir>/<command>"
  size_t exec_buf_size = 0;
};

// Runs in the child; never returns.
[[noreturn]] void RunChild(const ChildPlan& plan);

// "mount /proc" etc., for the supervisor's error message.
const char* ChildStageName(uint32_t stage);

}  // namespace silk::compat::internal
