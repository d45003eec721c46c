#include "compat/internal/notify.hpp"

#include <linux/audit.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "policy/syscalls.hpp"

namespace silk::compat::internal {
namespace {

bool IsRawSocketRequest(const seccomp_notif& n) {
  if (n.data.nr != SYS_socket) return false;
  int domain = static_cast<int>(n.data.args[0]);
  int type = static_cast<int>(n.data.args[1]) & 0xf;
  return domain == AF_PACKET || type == SOCK_RAW;
}

const policy::EffectivePolicy* PolicyFor(const std::vector<policy::EffectivePolicy>& all,
                                         uint32_t audit_arch) {
  for (const auto& p : all) {
    auto tok = policy::ParseArch(p.arch);
    if (!tok) continue;
    if ((audit_arch == AUDIT_ARCH_X86_64 && p.arch == "SCMP_ARCH_X86_64") ||
        (audit_arch == AUDIT_ARCH_I386 && p.arch == "SCMP_ARCH_X86"))
      return &p;
  }
  return nullptr;
}

std::string SyscallNameFor(const seccomp_notif& n, const policy::EffectivePolicy* pol) {
  if (!pol) return "syscall_" + std::to_string(n.data.nr) + "@arch_" + std::to_string(n.data.arch);
  auto tok = policy::ParseArch(pol->arch);
  auto name = tok ? policy::SyscallName(n.data.nr, *tok) : std::nullopt;
  return name ? *name : "syscall_" + std::to_string(n.data.nr);
}

}  // namespace

Result<std::unique_ptr<NotifyHandler>> NotifyHandler::Create(EffectiveSource effective,
                                                             bool raw_granted, bool record,
                                                             SyscallObserver* observer,
                                                             pid_t init_pid) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    return FailErrno("SECCOMP_GET_NOTIF_SIZES");
  auto h = std::unique_ptr<NotifyHandler>(new NotifyHandler());
  h->effective_source_ = std::move(effective);
  h->raw_granted_ = raw_granted;
  h->record_ = record;
  h->observer_ = observer;
  h->init_pid_ = init_pid;
  // The kernel's structs may be larger than our headers' (newer kernel): use its sizes.
  h->req_buf_.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  h->resp_buf_.resize(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  return h;
}

void NotifyHandler::Record(const seccomp_notif& n, const policy::EffectivePolicy* pol,
                           const std::string& verdict) {
  std::array<uint64_t, 6> args;
  for (int i = 0; i < 6; ++i) args[i] = n.data.args[i];
  auto key = std::make_tuple(n.data.nr, args, static_cast<pid_t>(n.pid));
  auto it = index_.find(key);
  if (it != index_.end()) {
    report_.denials[it->second].count++;
    return;
  }
  if (report_.denials.size() < DenialReport::kMaxEntries) {
    Denial d;
    d.syscall = SyscallNameFor(n, pol);
    d.nr = n.data.nr;
    d.args = args;
    d.pid = static_cast<pid_t>(n.pid);
    d.count = 1;
    d.verdict = verdict;
    index_.emplace(key, report_.denials.size());
    report_.denials.push_back(std::move(d));
    return;
  }
  // Full: count per syscall only, and past that not even per syscall.
  report_.folded++;
  auto fkey = std::make_pair(n.data.arch, n.data.nr);
  auto f = folded_index_.find(fkey);
  if (f != folded_index_.end()) {
    report_.folded_denials[f->second].count++;
  } else if (report_.folded_denials.size() < DenialReport::kMaxEntries) {
    Denial d;
    d.syscall = SyscallNameFor(n, pol);
    d.nr = n.data.nr;
    d.count = 1;
    d.verdict = verdict;
    folded_index_.emplace(fkey, report_.folded_denials.size());
    report_.folded_denials.push_back(std::move(d));
  }
}

void NotifyHandler::RecordRawSocket(const seccomp_notif& n, bool allowed) {
  RawSocketDecision d;
  d.pid = static_cast<pid_t>(n.pid);
  d.domain = static_cast<int>(n.data.args[0]);
  d.type = static_cast<int>(n.data.args[1]);
  d.protocol = static_cast<int>(n.data.args[2]);
  d.allowed = allowed;
  auto key = std::make_tuple(d.pid, d.domain, d.type, d.protocol, d.allowed);
  auto it = raw_index_.find(key);
  if (it != raw_index_.end()) {
    report_.raw_socket_decisions[it->second].count++;
    return;
  }
  if (report_.raw_socket_decisions.size() >= DenialReport::kMaxEntries) {
    report_.folded_raw_socket_decisions++;
    return;
  }
  if (raw_logged_ < kLoggedRawDecisions) {
    LogInfo("box pid " + std::to_string(d.pid) + ": socket(" + std::to_string(d.domain) + ", " +
            std::to_string(d.type) + ", " + std::to_string(d.protocol) + ") raw access " +
            (d.allowed ? "granted" : "refused (EPERM): the box spec does not grant raw sockets"));
    if (++raw_logged_ == kLoggedRawDecisions)
      LogInfo("box pid " + std::to_string(d.pid) +
              ": further raw socket decisions of this box are only in its denial report");
  }
  raw_index_.emplace(key, report_.raw_socket_decisions.size());
  report_.raw_socket_decisions.push_back(d);
}

void NotifyHandler::Observe(const seccomp_notif& n, const policy::Verdict& v) {
  SyscallEvent e;
  e.pid = static_cast<pid_t>(n.pid);
  e.arch = n.data.arch;
  e.nr = n.data.nr;
  for (int i = 0; i < 6; ++i) e.args[i] = n.data.args[i];
  e.verdict = v;
  if (!started_) {
    // Before the workload's program runs only the box's init exists.
    if (e.pid != init_pid_) {
      started_ = true;
    } else if (e.arch == AUDIT_ARCH_X86_64 && e.nr == SYS_execve) {
      exec_ = e;
      return;
    } else if (!exec_) {
      return;  // not the workload yet (the box makes only execve after its filter)
    } else {
      started_ = true;
    }
    if (exec_) observer_->OnSyscall(*exec_);
    exec_.reset();
  }
  observer_->OnSyscall(e);
}

void NotifyHandler::Finish() {
  if (observer_ && !started_ && exec_) observer_->OnSyscall(*exec_);
  started_ = true;
  exec_.reset();
}

Result<bool> NotifyHandler::HandleOne(int listener) {
  memset(req_buf_.data(), 0, req_buf_.size());
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf_.data());
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
    // ENOENT: the caller was killed before we read it; EINTR: retry later.
    if (errno == ENOENT || errno == EINTR) return false;
    return FailErrno("SECCOMP_IOCTL_NOTIF_RECV");
  }
  memset(resp_buf_.data(), 0, resp_buf_.size());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf_.data());
  resp->id = req->id;

  if (!effective_asked_) {
    effective_asked_ = true;
    if (effective_source_) effective_ = effective_source_();
  }
  const policy::EffectivePolicy* pol =
      effective_ ? PolicyFor(*effective_, req->data.arch) : nullptr;
  policy::Verdict observed;  // what the box answers, for the observer

  if (req->data.arch == AUDIT_ARCH_X86_64 && IsRawSocketRequest(*req)) {
    RecordRawSocket(*req, raw_granted_);
    if (raw_granted_) {
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      observed = {policy::Action::kAllow, 0};
    } else {
      resp->error = -EPERM;
      observed = {policy::Action::kErrno, EPERM};
      Record(*req, pol, "errno(EPERM)");
    }
  } else {
    policy::Verdict v{policy::Action::kErrno, EPERM};
    if (pol) {
      uint64_t args[6];
      for (int i = 0; i < 6; ++i) args[i] = req->data.args[i];
      v = pol->Evaluate(req->data.nr, args);
    }
    observed = v;
    switch (v.action) {
      case policy::Action::kAllow:
      case policy::Action::kLog:
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        break;
      case policy::Action::kErrno:
        resp->error = -static_cast<int>(v.errno_ret ? v.errno_ret : EPERM);
        Record(*req, pol, policy::VerdictToString(v));
        break;
      case policy::Action::kKillProcess:
      case policy::Action::kKillThread:
        Record(*req, pol, policy::VerdictToString(v));
        kill(static_cast<pid_t>(req->pid), SIGKILL);
        resp->error = -EPERM;
        break;
      case policy::Action::kNotify:  // a profile NOTIFY rule silk has no handler for
        Record(*req, pol, "errno(EPERM) (no supervisor handler for this notify rule)");
        resp->error = -EPERM;
        observed = {policy::Action::kErrno, EPERM};
        break;
      default:  // trap, trace: no tracer -> ENOSYS, as the kernel does
        Record(*req, pol, policy::VerdictToString(v));
        resp->error = -ENOSYS;
        break;
    }
  }
  if (req->data.arch == AUDIT_ARCH_I386 && policy::Allows(observed))
    ++i386_continued_[req->data.nr];
  // Reported before answering: the caller is still blocked, so the event is in the
  // order the workload made its calls (per thread).
  if (observer_) Observe(*req, observed);
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
    if (errno == ENOENT) return false;
    return FailErrno("SECCOMP_IOCTL_NOTIF_SEND");
  }
  return true;
}

}  // namespace silk::compat::internal
