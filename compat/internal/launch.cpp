#include "compat/internal/launch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>
#include <utility>

#include "compat/internal/caps.hpp"
#include "compat/internal/fault_gate.hpp"
#include "compat/internal/notify.hpp"

namespace silk::compat::internal {
namespace {

// One message from the child: where its listener will be, an error report, or EOF (it
// exec'd or exited).
struct ChildMessage {
  enum Kind { kEof, kListenerAt, kError } kind = kEof;
  int listener_fd = -1;
  UniqueFd gate;     // kListenerAt: the child's fault gate, when it has one
  pid_t sender = 0;  // the sending process, as the kernel says (SO_PASSCRED), host pid
  ChildReport report;
};

Result<ChildMessage> ReadChild(int sock) {
  ChildMessage m;
  char buf[std::max(sizeof(ChildReport), sizeof(ListenerAt))];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))];
  iovec iov = {buf, sizeof buf};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      m.sender = cred.pid;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
               c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      m.gate.Reset(fd);
    }
  }
  if (n < 0) return FailErrno("reading from the box during setup");
  if (n == 0) return m;
  if (buf[0] == kMsgListenerAt && static_cast<size_t>(n) == sizeof(ListenerAt)) {
    ListenerAt at;
    memcpy(&at, buf, sizeof at);
    m.kind = ChildMessage::kListenerAt;
    m.listener_fd = at.fd;
    if (at.gated && !m.gate)
      return Fail(ErrorCode::kInternal, "the box announced its gate without passing it");
    if (!at.gated) m.gate.Reset();
    return m;
  }
  if (buf[0] != kMsgError || static_cast<size_t>(n) != sizeof(ChildReport))
    return Fail(ErrorCode::kInternal, "malformed message from the box during setup");
  m.kind = ChildMessage::kError;
  memcpy(&m.report, buf, sizeof m.report);
  return m;
}

// Takes the child's seccomp listener (fd `fd` in the child) with pidfd_getfd. Empty
// while the child has not installed its filter yet (EBADF).
Result<UniqueFd> GetListener(int pidfd, int fd) {
  int got = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  if (got < 0) {
    if (errno == EBADF || errno == ESRCH) return UniqueFd();
    return FailErrno("taking the box's seccomp listener (pidfd_getfd; Linux 5.6+)");
  }
  UniqueFd listener(got);
  char link[64] = {};
  std::string self = "/proc/self/fd/" + std::to_string(got);
  if (readlink(self.c_str(), link, sizeof link - 1) < 0 ||
      std::string_view(link) != "anon_inode:seccomp notify")
    return Fail(ErrorCode::kInternal, "fd " + std::to_string(fd) +
                                          " of the box is not its seccomp listener (" + link + ")");
  return listener;
}

// Milliseconds until `deadline` for poll(): -1 for none.
int PollTimeout(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
}

}  // namespace

void BuildExecData(const BoxSpec& spec, ChildData& d) {
  d.argv_s.push_back(spec.command);
  d.argv_s.insert(d.argv_s.end(), spec.args.begin(), spec.args.end());
  d.env_s = spec.env;
  bool has_path = false;
  for (const auto& e : d.env_s)
    if (e.rfind("PATH=", 0) == 0) {
      has_path = true;
      d.path = e.substr(5);
    }
  if (!has_path) {
    d.env_s.push_back(std::string("PATH=") + kDefaultPath);
    d.path = kDefaultPath;
  }
  for (auto& s : d.argv_s) d.argv.push_back(s.data());
  d.argv.push_back(nullptr);
  for (auto& s : d.env_s) d.envp.push_back(s.data());
  d.envp.push_back(nullptr);
  d.exec_buf.resize(PATH_MAX + NAME_MAX + 2);
  for (const auto& r : spec.rlimits)
    d.rlimits.push_back({RlimitNumber(r.resource), r.soft, r.hard});
}

std::string ExecFailureMessage(const std::string& command, int err, const std::string& path) {
  return "'" + command + "': " +
         (err == ENOENT ? "command not found in the box (PATH=" + path + ")"
                        : std::string(strerror(err)));
}

uint64_t KeptCapabilities(const BoxSpec& spec) {
  uint64_t keep = 0;
  // A nest-ready box holds every capability of its own user namespace (BoxSpec::nest).
  if (spec.nest) {
    const int last = LastCapability();
    return last >= 63 ? ~uint64_t{0} : (uint64_t{1} << (last + 1)) - 1;
  }
  for (const auto& c : spec.capabilities) keep |= 1ull << CapabilityNumber(c);
  if (spec.raw_sockets) keep |= 1ull << CapabilityNumber("CAP_NET_RAW");
  return keep;
}

Result<HandoffPage> HandoffPage::Create() {
  void* p = mmap(nullptr, sizeof(ChildHandoff), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return FailErrno("mapping the box's handoff page");
  return HandoffPage(new (p) ChildHandoff());
}

HandoffPage::HandoffPage(HandoffPage&& o) noexcept : page_(std::exchange(o.page_, nullptr)) {}

HandoffPage::~HandoffPage() {
  if (page_) munmap(page_, sizeof(ChildHandoff));
}

// Takes the listener that process `holder` (the cloned child, or the command under silk's
// init) announced at fd `listener_at`; leaves listener_ empty while the filter is not
// installed yet.
Result<void> ExecHandshake::Take(int listener_at, pid_t holder, const ListenerTaken& taken) {
  int pidfd = pidfd_;
  if (holder != pid_) {
    if (!holder_pidfd_) {
      holder_pidfd_ = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, holder, 0)));
      if (!holder_pidfd_) return FailErrno("pidfd_open of the box's command");
    }
    pidfd = holder_pidfd_.get();
  }
  listener_ = SILK_TRY(GetListener(pidfd, listener_at));
  if (!listener_) return {};
  handler_ = SILK_TRY(taken(listener_.get(), holder));
  handoff_->listener_taken.store(1, std::memory_order_release);
  return {};
}

Result<ChildSetupEnd> ExecHandshake::Run(const ListenerTaken& taken,
                                         std::chrono::steady_clock::time_point deadline) {
  int listener_at = -1;           // announced by the child, not taken yet
  pid_t holder = 0;               // who announced it
  std::optional<FaultGate> gate;  // where it waits for us after its seccomp() call
  unsigned tries = 0;
  auto timed_out = [] {
    return Fail(ErrorCode::kTimeout, "the process entering the box did not exec in time");
  };
  for (;;) {
    if (listener_at >= 0 && gate) {
      // The child announced the fd before its seccomp() call and, filtered, can make no
      // other syscall than execve: it says "installed" by faulting at its gate, where
      // it sleeps until we hold the listener.
      pollfd fds[2] = {{sock_, POLLIN, 0}, {gate->fd(), POLLIN, 0}};
      int rc = poll(fds, 2, PollTimeout(deadline));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return FailErrno("poll on the box during setup");
      }
      if (rc == 0) return timed_out();
      if (!fds[0].revents) {
        if (!SILK_TRY(gate->Reached())) continue;
        SILK_TRY(Take(listener_at, holder, taken));
        if (!listener_)
          return Fail(ErrorCode::kInternal, "the box reached its gate without a seccomp listener");
        SILK_TRY(gate->Open());
        gate.reset();
        listener_at = -1;
        continue;
      }
    } else if (listener_at >= 0) {
      // No gate (no userfaultfd here): the child spins on the handoff page until we
      // hold the listener; we retry for the one seccomp() call's duration (yield
      // first, then 1 ms polls that also catch its error report).
      SILK_TRY(Take(listener_at, holder, taken));
      if (listener_) {
        listener_at = -1;
        continue;
      }
      if (PollTimeout(deadline) == 0) return timed_out();
      pollfd pf = {sock_, POLLIN, 0};
      if (++tries < 64) sched_yield();
      if (poll(&pf, 1, tries < 64 ? 0 : 1) <= 0) continue;
    } else if (listener_) {
      // Once the filter is in, execve may be notified: answer while waiting for the
      // exec (EOF on the socket, which is CLOEXEC).
      pollfd fds[2] = {{sock_, POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      int rc = poll(fds, 2, PollTimeout(deadline));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return FailErrno("poll on the box during setup");
      }
      if (rc == 0) return timed_out();
      if (!fds[0].revents && (fds[1].revents & POLLIN)) {
        SILK_TRY(handler_->HandleOne(listener_.get()));
        continue;
      }
    } else if (deadline != std::chrono::steady_clock::time_point::max()) {
      pollfd pf = {sock_, POLLIN, 0};
      int rc = poll(&pf, 1, PollTimeout(deadline));
      if (rc == 0) return timed_out();
      if (rc < 0 && errno == EINTR) continue;
    }
    ChildMessage m = SILK_TRY(ReadChild(sock_));
    if (m.kind == ChildMessage::kListenerAt) {
      if (m.sender <= 0)
        return Fail(ErrorCode::kInternal, "the box announced its listener without credentials");
      listener_at = m.listener_fd;
      holder = m.sender;
      if (m.gate) gate = SILK_TRY(FaultGate::Adopt(std::move(m.gate)));
      continue;
    }
    ChildSetupEnd end;
    if (m.kind == ChildMessage::kEof) {
      end.exec_errno = handoff_->exec_errno.load(std::memory_order_acquire);
      end.kind = end.exec_errno == 0 ? ChildSetupEnd::kExeced : ChildSetupEnd::kExecFailed;
      return end;
    }
    end.kind = ChildSetupEnd::kSetupFailed;
    end.report = m.report;
    return end;
  }
}

}  // namespace silk::compat::internal
