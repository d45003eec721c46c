// The box's learning filter (RunOptions::observer): one classic BPF instruction that
// sends every syscall, of every architecture, to the supervisor
// (SECCOMP_RET_USER_NOTIF). The box's setup needs no exception: after the filter its
// child makes no syscall but execve (see box.hpp). The verdicts come from the profile's
// effective policy (PrepareLearningPolicy), never from a compiled filter.
#pragma once

#include <linux/filter.h>

#include <array>

namespace silk::compat::internal {

class LearningFilter {
 public:
  LearningFilter();
  // Points into this object: keep it alive (and unmoved) until the child has installed it.
  sock_fprog Fprog() {
    return sock_fprog{static_cast<unsigned short>(insns_.size()), insns_.data()};
  }

 private:
  std::array<sock_filter, 1> insns_;
};

}  // namespace silk::compat::internal
