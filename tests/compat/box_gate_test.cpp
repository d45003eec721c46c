// The listener handoff waits on an fd, not a spin (issue 10): the child sleeps at its
// fault gate (a userfaultfd page) after its seccomp() call until the supervisor holds
// the listener; where userfaultfd is not there, the spin on the handoff page still works.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/file.hpp"
#include "compat/internal/fault_gate.hpp"
#include "tests/compat/box_test_util.hpp"

namespace silk::compat {
namespace {

using internal::FaultGate;
using internal::FaultGateChild;

// The state letter of /proc/PID/stat (R running, S sleeping, ...).
char ProcessState(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return '?';
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() ? (*stat)[close + 2] : '?';
}

int SendFd(int sock, int fd) {
  char byte = 'g';
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

UniqueFd ReceiveFd(int sock) {
  char byte;
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return UniqueFd();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return UniqueFd();
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return UniqueFd(fd);
}

TEST(FaultGate, TheChildSleepsAtTheGateUntilItIsOpened) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FaultGateChild gate;
    int err = gate.Open();
    if (err != 0) _exit(100 + (err == ENOSYS || err == EPERM || err == EINVAL ? 0 : 1));
    if (SendFd(sv[1], gate.uffd) != 0) _exit(3);
    gate.CloseFd();
    gate.Pass();  // sleeps here
    _exit(7);
  }
  close(sv[1]);
  UniqueFd uffd = ReceiveFd(sv[0]);
  close(sv[0]);
  if (!uffd) {
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 100)
      GTEST_SKIP() << "userfaultfd (user-mode only, Linux 5.11+) is not available here";
    FAIL() << "the child passed no gate, status " << status;
  }
  auto gate = FaultGate::Adopt(std::move(uffd));
  ASSERT_TRUE(gate) << gate.error().ToString();
  pollfd pf = {gate->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&pf, 1, 10000), 1) << "the child never reached its gate";
  auto reached = gate->Reached();
  ASSERT_TRUE(reached) << reached.error().ToString();
  ASSERT_TRUE(*reached);
  // It is asleep in the kernel, not spinning, and stays there until we open the gate.
  usleep(100 * 1000);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, WNOHANG), 0) << "the child went through a closed gate";
  EXPECT_EQ(ProcessState(child), 'S');
  ASSERT_TRUE(gate->Open());
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
}

TEST(FaultGate, OnlyAUserfaultfdIsAdopted) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  close(p[1]);
  auto gate = FaultGate::Adopt(UniqueFd(p[0]));
  ASSERT_FALSE(gate);
  EXPECT_NE(gate.error().message().find("not a userfaultfd"), std::string::npos)
      << gate.error().ToString();
}

class BoxGateTest : public testing::RootBoxTest {};

// Where userfaultfd is denied (a profile above silk, an old kernel), boxes still start:
// the child spins on the handoff page and the supervisor polls for the listener. The
// box runs in a forked process under a filter that fails userfaultfd with ENOSYS.
TEST_F(BoxGateTest, WithoutUserfaultfdTheHandoffStillWorks) {
  auto s = testing::ProbeSpec(root_, {"bpf"});
  s.report_denials = true;
  fflush(stdout);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog = {static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(90);
    if (syscall(SYS_userfaultfd, O_CLOEXEC) != -1 || errno != ENOSYS) _exit(91);
    auto c = testing::RunCaptured(s, opts_);
    if (!c.outcome) _exit(92);
    // The probe's bpf() was denied (exit 1) and the supervisor, which took the listener
    // without a gate, reported it.
    if (c.outcome->exit_status != 1) _exit(93);
    if (c.outcome->denials.denials.size() != 1 || c.outcome->denials.denials[0].syscall != "bpf")
      _exit(94);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "90: no test filter, 91: userfaultfd not denied, 92: the box failed, 93: wrong "
         "exit status, 94: the denial was not reported";
}

}  // namespace
}  // namespace silk::compat
