// The supervisor's side of seccomp user notification: receives each notified syscall,
// decides on register arguments only (never the box's memory: it could change between
// our read and the kernel's, TOCTOU), answers, and records denials.
//
// Decisions:
//  - socket() for a raw/packet socket: allowed (SECCOMP_USER_NOTIF_FLAG_CONTINUE, safe
//    here because socket() has no pointer arguments and the kernel still checks
//    CAP_NET_RAW, which the box keeps only when granted) iff the spec grants raw
//    sockets, else EPERM. The first kLoggedRawDecisions distinct decisions are logged.
//  - anything else: the profile's real verdict (EffectivePolicy::Evaluate), recorded as
//    a denial: errno(N) -> -N; kill -> SIGKILL to the caller; trap/trace -> ENOSYS.
//
// Every record is capped (DenialReport::kMaxEntries distinct entries per kind, then per-
// syscall counts, then a plain count), so a box cannot grow its supervisor: a million
// distinct denied calls cost the same memory as a thousand.
//
// With an observer (learning mode, RunOptions::observer) every syscall is notified and
// each decision above is also reported to the observer, once the workload has started:
// the box's init is in setup until its first syscall after an execve; the last execve
// before that is the workload's own (earlier ones are PATH probes) and is reported first.
#pragma once

#include <linux/seccomp.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "base/result.hpp"
#include "compat/box.hpp"
#include "policy/effective.hpp"

namespace silk::compat::internal {

class NotifyHandler {
 public:
  static constexpr size_t kLoggedRawDecisions = 16;
  // The effective policy, native architecture first, or nullptr (every verdict EPERM);
  // asked for on the first notification only (making it costs a parse and a resolve).
  using EffectiveSource = std::function<const std::vector<policy::EffectivePolicy>*()>;
  // Errors: kSystem if the kernel cannot report its notification sizes.
  static Result<std::unique_ptr<NotifyHandler>> Create(EffectiveSource effective, bool raw_granted,
                                                       bool record_denials,
                                                       SyscallObserver* observer = nullptr,
                                                       pid_t init_pid = 0);

  // Receives and answers one notification from `listener`. Returns false when the
  // notification vanished (the caller died meanwhile) - not an error.
  Result<bool> HandleOne(int listener);

  // After the box exited (its program ran): reports init's execve if no notified syscall
  // followed it (counted learning: everything after it may have been counted).
  void Finish();

  DenialReport TakeReport() { return std::move(report_); }
  const DenialReport& report() const { return report_; }

  // i386 calls let continue, per number: counted learning subtracts them from the
  // kernel's per-number counts, which include them (syscall_counters.hpp).
  const std::map<int, uint64_t>& I386Continued() const { return i386_continued_; }

 private:
  NotifyHandler() = default;
  void Record(const seccomp_notif& n, const policy::EffectivePolicy* pol,
              const std::string& verdict);
  void Observe(const seccomp_notif& n, const policy::Verdict& v);
  void RecordRawSocket(const seccomp_notif& n, bool allowed);

  EffectiveSource effective_source_;
  const std::vector<policy::EffectivePolicy>* effective_ = nullptr;  // once asked
  bool effective_asked_ = false;
  bool raw_granted_ = false;
  bool record_ = false;
  SyscallObserver* observer_ = nullptr;
  pid_t init_pid_ = 0;
  bool started_ = false;              // the workload's program is running
  std::optional<SyscallEvent> exec_;  // init's last execve during setup
  std::vector<char> req_buf_, resp_buf_;
  DenialReport report_;
  std::map<int, uint64_t> i386_continued_;
  // Positions in report_'s vectors; each holds at most DenialReport::kMaxEntries keys.
  std::map<std::tuple<int, std::array<uint64_t, 6>, pid_t>, size_t> index_;
  std::map<std::pair<uint32_t, int>, size_t> folded_index_;  // (arch, nr)
  std::map<std::tuple<pid_t, int, int, int, bool>, size_t> raw_index_;
  size_t raw_logged_ = 0;
};

}  // namespace silk::compat::internal
