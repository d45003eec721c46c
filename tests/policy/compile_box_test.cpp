// podman-default as a compatibility box compiles it: resolved for no capabilities, plus
// the box's own rules (socket(AF_PACKET) -> notify, the keyring syscalls -> EPERM; see
// compat/internal/filter.cpp), with and without notify_denials. Podman's archMap gives
// x86_64 + x86 + x32, which libseccomp 2.5.4 miscompiles in one context; silk compiles
// each architecture alone and stitches them (policy/internal/compile_stitch.hpp).
// Kernel truth: a child installs the filter and makes native, i386 (int 0x80) and x32
// syscalls; each outcome must be what EffectivePolicy::Evaluate says.
#include <gtest/gtest.h>

#include <linux/audit.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <iostream>

#include <cerrno>
#include <csignal>

#include "policy/builtin.hpp"
#include "policy/compile.hpp"
#include "policy/install.hpp"
#include "policy/internal/bpf_emulator.hpp"
#include "policy/resolve.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

constexpr long kX32 = 0x40000000;
constexpr int kAfVsock = 40;

long Raw(long nr, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
}

long Int80(long nr, long a = 0, long b = 0, long c = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

Profile BoxProfile(const std::string& name) {
  auto profile = LoadProfile(name);
  EXPECT_TRUE(profile) << profile.error().ToString();
  ResolveOptions none;
  none.caps = {};
  auto resolved = Resolve(*profile, none);
  EXPECT_TRUE(resolved) << resolved.error().ToString();
  Profile p = *resolved;
  SyscallRule packet;
  packet.names = {"socket"};
  packet.action = Action::kNotify;
  packet.args = {ArgCondition{0, AF_PACKET, 0, ArgOp::kEqualTo}};
  p.syscalls.push_back(packet);
  SyscallRule keys;
  keys.names = {"keyctl", "add_key", "request_key"};
  keys.action = Action::kErrno;
  keys.errno_ret = EPERM;
  p.syscalls.push_back(keys);
  return p;
}

const EffectivePolicy* For(const std::vector<EffectivePolicy>& eps, const char* arch) {
  for (const auto& ep : eps)
    if (ep.arch == arch) return &ep;
  return nullptr;
}

// What the kernel returns for a call whose verdict is `v` when no supervisor listens
// (the listener fd is closed: notify gives ENOSYS); `allowed` is the result when the
// filter allows. nullopt: the verdict kills.
std::optional<long> Expect(const Verdict& v, bool notify_denials, long allowed) {
  if (Allows(v)) return allowed;
  if (notify_denials || v.action == Action::kNotify) return -ENOSYS;
  if (v.action == Action::kErrno) return -static_cast<long>(v.errno_ret);
  return std::nullopt;
}

bool KernelRuns(long (*call)()) {
  pid_t pid = fork();
  if (pid == 0) _exit(call() == getpid() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class PodmanBox : public ::testing::TestWithParam<bool> {};

TEST_P(PodmanBox, CompilesAndHoldsInTheKernelOnEveryArch) {
  const bool notify = GetParam();
  Profile p = BoxProfile("podman-default");
  auto eps = MakeEffectiveAll(p);
  ASSERT_TRUE(eps) << eps.error().ToString();
  ASSERT_EQ(eps->size(), 3u);
  auto f = Compile(*eps, {.notify_denials = notify, .pfc = true});
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_TRUE(f->has_notify);  // the packet rule
  for (const char* section : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"})
    EXPECT_NE(f->pfc.find(std::string("# silk: section ") + section), std::string::npos) << section;

  const EffectivePolicy* x64 = For(*eps, "SCMP_ARCH_X86_64");
  const EffectivePolicy* x86 = For(*eps, "SCMP_ARCH_X86");
  const EffectivePolicy* x32 = For(*eps, "SCMP_ARCH_X32");
  ASSERT_TRUE(x64 && x86 && x32);
  const bool have_int80 = KernelRuns([] { return Int80(20); });
  const bool have_x32 = KernelRuns([] { return Raw(kX32 | SYS_getpid); });

  struct Call {
    const char* what;
    const EffectivePolicy* ep;
    int nr;  // on ep's arch
    uint64_t args[6];
    long (*make)();  // performs the call in the child, returns result or -errno
    long allowed;    // expected result when allowed: 1 = any value >= 0
  };
  auto ok_if_allowed = [](bool arch_runs) { return arch_runs ? 1L : -ENOSYS; };
  std::vector<Call> calls = {
      {"socket(AF_INET)",
       x64,
       SYS_socket,
       {AF_INET, SOCK_DGRAM, 0},
       [] { return Raw(SYS_socket, AF_INET, SOCK_DGRAM, 0); },
       1},
      {"socket(AF_VSOCK)",
       x64,
       SYS_socket,
       {kAfVsock, SOCK_STREAM, 0},
       [] {
         long r = Raw(SYS_socket, kAfVsock, SOCK_STREAM, 0);
         // Without vsock support the kernel refuses the family itself.
         return r == -EAFNOSUPPORT ? 1 : r;
       },
       1},
      {"socket(AF_PACKET)",
       x64,
       SYS_socket,
       {AF_PACKET, SOCK_RAW, 0},
       [] {
         long r = Raw(SYS_socket, AF_PACKET, SOCK_RAW, 0);
         return r == -EPERM ? 1 : r;  // allowed but no CAP_NET_RAW: fine
       },
       1},
      {"socket(AF_NETLINK, NETLINK_AUDIT)",
       x64,
       SYS_socket,
       {AF_NETLINK, SOCK_RAW, 9},
       [] { return Raw(SYS_socket, AF_NETLINK, SOCK_RAW, 9); },
       1},
      {"keyctl", x64, SYS_keyctl, {0}, [] { return Raw(SYS_keyctl, 0); }, 1},
      {"getpid", x64, SYS_getpid, {0}, [] { return Raw(SYS_getpid); }, 1},
      {"kexec_load", x64, SYS_kexec_load, {0}, [] { return Raw(SYS_kexec_load); }, 1},
      {"i386 getpid", x86, 20, {0}, [] { return Int80(20); }, ok_if_allowed(have_int80)},
      {"i386 socket(AF_UNIX)",
       x86,
       359,
       {AF_UNIX, SOCK_STREAM, 0},
       [] { return Int80(359, AF_UNIX, SOCK_STREAM, 0); },
       ok_if_allowed(have_int80)},
      {"i386 kexec_load", x86, 283, {0}, [] { return Int80(283); }, ok_if_allowed(have_int80)},
      {"x32 getpid",
       x32,
       kX32 | SYS_getpid,
       {0},
       [] { return Raw(kX32 | SYS_getpid); },
       ok_if_allowed(have_x32)},
      {"x32 socket(AF_UNIX)",
       x32,
       kX32 | SYS_socket,
       {AF_UNIX, SOCK_STREAM, 0},
       [] { return Raw(kX32 | SYS_socket, AF_UNIX, SOCK_STREAM, 0); },
       ok_if_allowed(have_x32)},
      // Denials with their own errno tell the x32 program apart even on kernels
      // without x32 support (where an allowed x32 call returns ENOSYS).
      {"x32 keyctl",
       x32,
       kX32 | SYS_keyctl,
       {0},
       [] { return Raw(kX32 | SYS_keyctl, 0); },
       ok_if_allowed(have_x32)},
      {"x32 socket(AF_NETLINK, NETLINK_AUDIT)",
       x32,
       kX32 | SYS_socket,
       {AF_NETLINK, SOCK_RAW, 9},
       [] { return Raw(kX32 | SYS_socket, AF_NETLINK, SOCK_RAW, 9); },
       ok_if_allowed(have_x32)},
      {"i386 keyctl", x86, 288, {0}, [] { return Int80(288); }, ok_if_allowed(have_int80)},
      {"x32 socket(0, 0, 0xffffffff)",
       x32,
       kX32 | SYS_socket,
       {0, 0, 0xffffffff},
       [] {
         long r = Raw(kX32 | SYS_socket, 0, 0, 0xffffffff);
         return r == -EAFNOSUPPORT ? 1 : r;
       },
       ok_if_allowed(have_x32)},
  };
  sock_fprog prog = f->Fprog();
  InstallOptions opts = InstallOptionsFor(*f);
  ASSERT_TRUE(opts.new_listener);
  if (!have_int80)
    std::cout << "[ NOTE ] this kernel has no IA-32 emulation: int 0x80 faults (SIGSEGV) before "
                 "seccomp sees it, so the i386 calls are not checked here\n";
  for (const auto& c : calls) {
    // Without IA-32 emulation the kernel refuses int 0x80 itself; the filter never runs.
    if (c.ep == x86 && !have_int80) continue;
    Verdict v = c.ep->Evaluate(c.nr, c.args);
    std::optional<long> want = Expect(v, notify, c.allowed);
    pid_t pid = fork();
    if (pid == 0) {
      if (SetNoNewPrivs() != 0) _exit(99);
      int fd = InstallFilter(prog, opts);
      if (fd < 0) _exit(98);
      syscall(SYS_close, fd);  // no supervisor: notified calls get ENOSYS
      long r = c.make();
      if (r >= 0) r = 1;
      syscall(SYS_exit_group, want && r == *want ? 0 : 10 + static_cast<int>(-r % 80));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!want) {
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
          << c.what << ": profile says " << VerdictToString(v);
      continue;
    }
    ASSERT_TRUE(WIFEXITED(status)) << c.what << ": killed by " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << c.what << ": profile says " << VerdictToString(v) << ", expected " << *want
        << ", child exit " << WEXITSTATUS(status) << " (10 + errno)";
  }
}

INSTANTIATE_TEST_SUITE_P(NotifyDenials, PodmanBox, ::testing::Bool());

// The stitched program keeps argument-free allowed syscalls constant for the kernel's
// action cache (seccomp_is_const_allow) on x86_64 and i386, and argument-checked ones
// are not marked allowed.
TEST(PodmanBox, ArgumentFreeAllowedSyscallsStayConstantForTheKernelCache) {
  Profile p = BoxProfile("podman-default");
  auto eps = MakeEffectiveAll(p);
  ASSERT_TRUE(eps) << eps.error().ToString();
  for (bool notify : {false, true}) {
    auto f = Compile(*eps, {.notify_denials = notify});
    ASSERT_TRUE(f) << f.error().ToString();
    for (const auto& ep : *eps) {
      if (ep.arch == "SCMP_ARCH_X32") continue;  // the kernel caches x86_64 and i386 only
      uint32_t audit = ep.arch == "SCMP_ARCH_X86" ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
      size_t constant = 0;
      for (const auto& [nr, sp] : ep.syscalls) {
        bool unconditional_allow = sp.rules.size() == 1 && sp.rules[0].args.empty() &&
                                   sp.rules[0].verdict.action == Action::kAllow;
        bool cached = internal::KernelCachesAsAllow(f->program, audit, nr);
        EXPECT_EQ(cached, unconditional_allow) << ep.arch << " " << sp.name;
        constant += cached;
      }
      EXPECT_GT(constant, 250u) << ep.arch;
      auto arch = ParseArch(ep.arch);
      ASSERT_TRUE(arch);
      auto kexec = SyscallNumber("kexec_load", *arch);
      ASSERT_TRUE(kexec);
      EXPECT_FALSE(internal::KernelCachesAsAllow(f->program, audit, *kexec)) << ep.arch;
    }
  }
}

// gen0-sliver as a box compiles it, with and without notify_denials (the combination
// compat once had to avoid), and still holds in the kernel for a plain call.
TEST(PodmanBox, Gen0SliverWithTheBoxRulesCompiles) {
  Profile p = BoxProfile("gen0-sliver");
  for (bool notify : {false, true}) {
    auto f = CompileProfile(p, {.notify_denials = notify});
    ASSERT_TRUE(f) << (notify ? "notify: " : "") << f.error().ToString();
    sock_fprog prog = f->Fprog();
    InstallOptions opts = InstallOptionsFor(*f);
    pid_t pid = fork();
    if (pid == 0) {
      if (SetNoNewPrivs() != 0 || InstallFilter(prog, opts) < 0) _exit(99);
      syscall(SYS_exit_group, Raw(SYS_getpid) > 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

}  // namespace
}  // namespace silk::policy
