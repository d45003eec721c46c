// The box's learning filter (RunOptions::observer): a hand-written classic BPF program
// that sends every syscall to the supervisor (SECCOMP_RET_USER_NOTIF), except the one
// call that hands the listener to the supervisor: sendmsg(sync_fd, ..., MSG_NOSIGNAL) on
// the native architecture. That call must not be notified (the supervisor receives the
// listener through it, so nobody could answer it yet); the supervisor places the setup
// socket on a high fd number (kLearningSyncFdFloor) so that a workload call with the
// same three registers is improbable. Its verdicts come from the profile's effective
// policy (PrepareLearningPolicy), never from a compiled filter.
#pragma once

#include <linux/filter.h>

#include <array>

namespace silk::compat::internal {

// The lowest fd number the setup socket is moved to in learning mode.
inline constexpr int kLearningSyncFdFloor = 900;

class LearningFilter {
 public:
  explicit LearningFilter(int sync_fd);
  // Points into this object: keep it alive (and unmoved) until the child has installed it.
  sock_fprog Fprog() {
    return sock_fprog{static_cast<unsigned short>(insns_.size()), insns_.data()};
  }

 private:
  std::array<sock_filter, 14> insns_;
};

}  // namespace silk::compat::internal
