#include "compat/box_lifecycle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.hpp"
#include "base/unique_fd.hpp"
#include "compat/box.hpp"
#include "compat/box_spec.hpp"
#include "compat/internal/state.hpp"

namespace silk::compat {
namespace {

using internal::ProcessStartTime;
using internal::SupervisorAlive;

std::string Root(const std::string& state_root) {
  return state_root.empty() ? DefaultStateRoot() : state_root;
}

// A pidfd of `pid` if it is still the process that started at `start` (opened first,
// then checked: the pidfd cannot move to a recycled pid). Empty when it is gone.
UniqueFd PidfdOf(pid_t pid, unsigned long long start) {
  if (pid <= 0) return UniqueFd();
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!fd || ProcessStartTime(pid) != start) return UniqueFd();
  return fd;
}

// Waits until the process behind `pidfd` exits, at most `timeout`. True if it did.
bool WaitExit(int pidfd, std::chrono::milliseconds timeout) {
  pollfd pf = {pidfd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int rc = poll(&pf, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool Live(const BoxRecord& r) {
  return r.status == BoxStatus::kCreated || r.status == BoxStatus::kRunning;
}

// Waits for the supervisor of `r` to be gone (it records the end before it exits).
bool WaitSupervisor(const BoxRecord& r, std::chrono::milliseconds timeout) {
  UniqueFd sup = PidfdOf(r.supervisor_pid, r.supervisor_start);
  return !sup || WaitExit(sup.get(), timeout);
}

// The box's limits file (box_update.hpp), when it has one that reads.
std::optional<BoxLimits> LimitsOf(const std::string& dir) {
  auto text = ReadFile(dir + "/limits");
  if (!text) return std::nullopt;
  auto limits = ParseBoxLimits(*text, dir + "/limits");
  if (!limits) return std::nullopt;
  return *limits;
}

Error NotLive(const BoxRecord& r, const std::string& what) {
  std::string why = std::string("box ") + r.name + " is " + BoxStatusName(r.status);
  if (r.status == BoxStatus::kLost)
    why += " (its supervisor died; `silk box delete " + r.name + "` reclaims it)";
  return Error(ErrorCode::kInvalidInput, why + ": cannot " + what);
}

}  // namespace

Result<BoxRecord> ReadBox(const std::string& state_root, const std::string& name) {
  SILK_TRY(ValidateBoxId(name));
  const std::string dir = Root(state_root) + "/" + name;
  if (access((dir + "/persistent").c_str(), F_OK) != 0)
    return Fail(ErrorCode::kNotFound, "no box named '" + name + "' (`silk box list` shows them)");
  BoxRecord r;
  r.name = name;
  r.status = BoxStatus::kLost;  // no record yet: its supervisor died while making it
  if (auto text = ReadFile(dir + "/status")) r = SILK_TRY(ParseBoxRecord(*text, dir + "/status"));
  r.state_dir = dir;
  r.log = dir + "/output.log";
  r.limits = LimitsOf(dir);
  if (Live(r) && !SupervisorAlive(dir)) {
    // The supervisor may have recorded the end just now, between our reads.
    if (auto again = ReadFile(dir + "/status")) {
      auto fresh = ParseBoxRecord(*again, dir + "/status");
      if (fresh && !Live(*fresh)) {
        fresh->state_dir = r.state_dir;
        fresh->log = r.log;
        fresh->limits = r.limits;
        return *fresh;
      }
    }
    r.status = BoxStatus::kLost;
  }
  return r;
}

Result<BoxRecord> WaitForBox(const std::string& state_root, const std::string& name,
                             const std::function<bool(const BoxRecord&)>& done,
                             std::chrono::milliseconds timeout) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  UniqueFd in(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!in) return FailErrno("inotify_init1");
  // The supervisor renames each new record into place; its death frees the lock only.
  if (inotify_add_watch(in.get(), r.state_dir.c_str(), IN_MOVED_TO | IN_DELETE_SELF) < 0)
    return FailErrno("watching " + r.state_dir);
  UniqueFd sup = PidfdOf(r.supervisor_pid, r.supervisor_start);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    r = SILK_TRY(ReadBox(state_root, name));  // after the watch: no change is missed
    if (done(r)) return r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Fail(ErrorCode::kTimeout, "box " + name + " stayed " + BoxStatusName(r.status) +
                                           " for " + std::to_string(timeout.count()) + " ms");
    pollfd fds[2] = {{in.get(), POLLIN, 0}, {sup.get(), POLLIN, 0}};
    int rc = poll(fds, sup ? 2 : 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return FailErrno("waiting for box " + name);
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      char buf[4096];
      while (read(in.get(), buf, sizeof buf) > 0) {
      }
    }
    if (rc > 0 && sup && fds[1].revents) sup.Reset();  // it died: the next read says lost
  }
}

Result<std::vector<BoxRecord>> ListBoxes(const std::string& state_root) {
  const std::string root = Root(state_root);
  std::vector<BoxRecord> boxes;
  for (const auto& n : SILK_TRY(internal::StateDirNames(root))) {
    if (n[0] == '_') continue;  // being made or removed
    auto r = ReadBox(root, n);
    if (r)
      boxes.push_back(std::move(*r));
    else if (r.error().code() != ErrorCode::kNotFound)
      return Fail(std::move(r.error()));
  }
  return boxes;
}

Result<void> StartBox(const std::string& state_root, const std::string& name) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (r.status != BoxStatus::kCreated) return Fail(NotLive(r, "start it: it is not created"));
  // Non-blocking: with no supervisor reading, open fails (ENXIO) rather than waits.
  const std::string fifo = r.state_dir + "/start";
  UniqueFd fd(open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENXIO || errno == ENOENT)
      return Fail(ErrorCode::kInvalidInput, "box " + name + " is not waiting to start");
    return FailErrno("opening " + fifo);
  }
  if (write(fd.get(), "s", 1) != 1) return FailErrno("starting box " + name);
  return {};
}

Result<void> KillBox(const std::string& state_root, const std::string& name, int signal) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (!Live(r)) return Fail(NotLive(r, "send it a signal"));
  UniqueFd init = PidfdOf(r.init_pid, r.init_start);
  if (!init) return Fail(ErrorCode::kInvalidInput, "box " + name + " has ended");
  if (syscall(SYS_pidfd_send_signal, init.get(), signal, nullptr, 0) != 0) {
    if (errno == ESRCH) return Fail(ErrorCode::kInvalidInput, "box " + name + " has ended");
    return FailErrno("signalling box " + name);
  }
  return {};
}

Result<BoxRecord> StopBox(const std::string& state_root, const std::string& name,
                          std::chrono::milliseconds grace) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (!Live(r)) {
    if (r.status == BoxStatus::kLost) return Fail(NotLive(r, "stop it"));
    return r;
  }
  // A created box's pid 1 has no handler yet: only SIGKILL reaches it.
  if (r.status == BoxStatus::kRunning && grace.count() > 0) {
    if (auto k = KillBox(state_root, name, SIGTERM);
        !k && k.error().code() != ErrorCode::kInvalidInput)
      return Fail(std::move(k.error()));
    if (WaitSupervisor(r, grace)) return ReadBox(state_root, name);
  }
  if (auto k = KillBox(state_root, name, SIGKILL);
      !k && k.error().code() != ErrorCode::kInvalidInput)
    return Fail(std::move(k.error()));
  if (!WaitSupervisor(r, std::chrono::seconds(30)))
    return Fail(ErrorCode::kTimeout, "box " + name + "'s supervisor (pid " +
                                         std::to_string(r.supervisor_pid) +
                                         ") did not finish within 30 s of SIGKILL to the box");
  return ReadBox(state_root, name);
}

Result<void> DeleteBox(const std::string& state_root, const std::string& name, bool force) {
  BoxRecord r = SILK_TRY(ReadBox(state_root, name));
  if (Live(r)) {
    if (!force)
      return Fail(ErrorCode::kInvalidInput, "box " + name + " is " + BoxStatusName(r.status) +
                                                ": stop it first (`silk box stop " + name +
                                                "`) or delete with --force");
    SILK_TRY(StopBox(state_root, name, std::chrono::milliseconds(0)));
  }
  bool removed = SILK_TRY(internal::SweepBoxDir(r.state_dir, /*named_too=*/true));
  if (!removed)
    return Fail(ErrorCode::kInvalidInput,
                "box " + name + "'s supervisor still holds it; try again");
  return {};
}

}  // namespace silk::compat
