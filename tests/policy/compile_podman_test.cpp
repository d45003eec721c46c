// The real Podman/Docker default profile (Debian's golang-github-containers-common)
// compiled by silk and installed in the kernel.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/file.hpp"
#include "policy/builtin.hpp"
#include "policy/compile.hpp"
#include "policy/install.hpp"
#include "policy/resolve.hpp"

namespace silk::policy {
namespace {

long Raw(long nr, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
}

TEST(CompilePodman, DefaultProfileCompilesFastAndHoldsInTheKernel) {
  auto profile = LoadProfile("podman-default");
  ASSERT_TRUE(profile) << profile.error().ToString();
  // No capabilities: the rules Podman excludes for CAP_AUDIT_WRITE etc. apply.
  ResolveOptions none;
  none.caps = {};
  auto resolved = Resolve(*profile, none);
  ASSERT_TRUE(resolved) << resolved.error().ToString();

  ASSERT_TRUE(CompileProfile(*resolved));  // warm the syscall tables
  auto start = std::chrono::steady_clock::now();
  auto f = CompileProfile(*resolved, {.pfc = true});
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(f) << f.error().ToString();
  std::cerr << "podman-default: " << f->program.size() << " instructions for " << f->arches.size()
            << " arches in " << ms.count() << " ms\n";
  EXPECT_EQ(f->arches.front(), "SCMP_ARCH_X86_64");

  sock_fprog prog = f->Fprog();
  InstallOptions opts = InstallOptionsFor(*f);
  pid_t pid = fork();
  if (pid == 0) {
    if (SetNoNewPrivs() != 0 || InstallFilter(prog, opts) < 0) _exit(99);
    if (Raw(SYS_getpid) <= 0) _exit(1);
    long fd = Raw(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) _exit(2);
    close(static_cast<int>(fd));
    if (Raw(SYS_socket, AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */) != -EINVAL) _exit(3);
    if (Raw(SYS_kexec_load) != -EPERM && Raw(SYS_kexec_load) != -ENOSYS) _exit(4);
    if (Raw(SYS_personality, 0xffffffff) < 0) _exit(5);  // query: allowed
    if (Raw(SYS_personality, 0x0400000 /* ADDR_COMPAT_LAYOUT */) != -ENOSYS) _exit(6);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(CompilePodman, NotifyDenialsTurnsEveryDenialIntoNotify) {
  auto profile = LoadProfile("podman-default");
  ASSERT_TRUE(profile) << profile.error().ToString();
  auto resolved = Resolve(*profile, {});
  ASSERT_TRUE(resolved) << resolved.error().ToString();
  auto f = CompileProfile(*resolved, {.notify_denials = true, .pfc = true});
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_TRUE(f->has_notify);
  EXPECT_TRUE(InstallOptionsFor(*f).new_listener);
  if (getenv("SILK_DUMP_PFC")) (void)WriteFileAtomic(getenv("SILK_DUMP_PFC"), f->pfc);
  EXPECT_EQ(f->pfc.find("ERRNO"), std::string::npos) << "a denial left as errno";
  EXPECT_NE(f->pfc.find("action NOTIFY;"), std::string::npos);
}

}  // namespace
}  // namespace silk::policy
