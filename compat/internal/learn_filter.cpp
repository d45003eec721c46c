#include "compat/internal/learn_filter.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>

namespace silk::compat::internal {
namespace {

constexpr uint32_t ArgLow(int i) {
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i);  // little-endian
}
constexpr uint32_t ArgHigh(int i) { return ArgLow(i) + 4; }

}  // namespace

LearningFilter::LearningFilter(int sync_fd) {
  // Every failed comparison jumps to the last instruction (notify); jf = 13 - (i + 1).
  insns_ = {{
      /* 0*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      /* 1*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 11),
      /* 2*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      /* 3*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendmsg, 0, 9),
      /* 4*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgLow(0)),
      /* 5*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(sync_fd), 0, 7),
      /* 6*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgHigh(0)),
      /* 7*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5),
      /* 8*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgLow(2)),
      /* 9*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MSG_NOSIGNAL, 0, 3),
      /*10*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgHigh(2)),
      /*11*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      /*12*/ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /*13*/ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  }};
}

}  // namespace silk::compat::internal
