#include "policy/syscalls.hpp"

#include <seccomp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "base/strings.hpp"

namespace silk::policy {
namespace {

struct ArchInfo {
  ArchToken token;
  const char* name;        // SCMP_ARCH_*
  const char* short_name;  // Docker/OCI
  std::array<const char*, 4> aliases;
  int unified_offset;  // added to asm-generic numbers >= 424; -1: no unified table
};

constexpr int kX32Bit = 0x40000000;

// clang-format off
const std::array<ArchInfo, 18> kArches = {{
    {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "amd64", {"x86_64", "amd64", "x86-64", nullptr}, 0},
    {SCMP_ARCH_X86, "SCMP_ARCH_X86", "x86", {"x86", "386", "i386", "i686"}, 0},
    {SCMP_ARCH_X32, "SCMP_ARCH_X32", "x32", {"x32", nullptr, nullptr, nullptr}, kX32Bit},
    {SCMP_ARCH_ARM, "SCMP_ARCH_ARM", "arm", {"arm", "armhf", "armel", "armv7l"}, 0},
    {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "arm64", {"aarch64", "arm64", nullptr, nullptr}, 0},
    {SCMP_ARCH_MIPS, "SCMP_ARCH_MIPS", "mips", {"mips", nullptr, nullptr, nullptr}, 4000},
    {SCMP_ARCH_MIPS64, "SCMP_ARCH_MIPS64", "mips64", {"mips64", nullptr, nullptr, nullptr}, 5000},
    {SCMP_ARCH_MIPS64N32, "SCMP_ARCH_MIPS64N32", "mips64n32", {"mips64n32", nullptr, nullptr, nullptr}, 6000},
    {SCMP_ARCH_MIPSEL, "SCMP_ARCH_MIPSEL", "mipsel", {"mipsel", "mipsle", nullptr, nullptr}, 4000},
    {SCMP_ARCH_MIPSEL64, "SCMP_ARCH_MIPSEL64", "mipsel64", {"mipsel64", "mips64le", nullptr, nullptr}, 5000},
    {SCMP_ARCH_MIPSEL64N32, "SCMP_ARCH_MIPSEL64N32", "mipsel64n32", {"mipsel64n32", "mips64len32", nullptr, nullptr}, 6000},
    {SCMP_ARCH_PPC, "SCMP_ARCH_PPC", "ppc", {"ppc", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_PPC64, "SCMP_ARCH_PPC64", "ppc64", {"ppc64", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le", {"ppc64le", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_S390, "SCMP_ARCH_S390", "s390", {"s390", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x", {"s390x", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_PARISC64, "SCMP_ARCH_PARISC64", "parisc64", {"parisc64", nullptr, nullptr, nullptr}, 0},
    {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64", {"riscv64", nullptr, nullptr, nullptr}, 0},
}};

// Sources: the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl,
// include/uapi/asm-generic/unistd.h, scripts/syscall.tbl) and the release in which each
// entry was merged, as recorded by the "Linux x.y" notes on kernelnewbies.org and the
// VERSIONS sections of the man-pages. Numbers >= 424 are the unified numbers shared by
// all architectures since 5.1 (commit "y2038: add 64-bit time_t syscalls to all 32-bit
// architectures" unified the tables). Note close_range (436) was allocated before
// openat2 (437) but merged later, in 5.9.
const std::vector<HorizonEntry> kHorizon = {
    {"seccomp", {3, 17}, -1},
    {"getrandom", {3, 17}, -1},
    {"memfd_create", {3, 17}, -1},
    {"kexec_file_load", {3, 17}, -1},
    {"bpf", {3, 18}, -1},
    {"execveat", {3, 19}, -1},
    {"userfaultfd", {4, 3}, -1},
    {"membarrier", {4, 3}, -1},
    {"mlock2", {4, 4}, -1},
    {"copy_file_range", {4, 5}, -1},
    {"preadv2", {4, 6}, -1},
    {"pwritev2", {4, 6}, -1},
    {"pkey_mprotect", {4, 9}, -1},
    {"pkey_alloc", {4, 9}, -1},
    {"pkey_free", {4, 9}, -1},
    {"statx", {4, 11}, -1},
    {"io_pgetevents", {4, 18}, -1},
    {"rseq", {4, 18}, -1},
    // 5.1: 64-bit time_t variants for 32-bit architectures (403..423 there).
    {"clock_gettime64", {5, 1}, -1},
    {"clock_settime64", {5, 1}, -1},
    {"clock_adjtime64", {5, 1}, -1},
    {"clock_getres_time64", {5, 1}, -1},
    {"clock_nanosleep_time64", {5, 1}, -1},
    {"timer_gettime64", {5, 1}, -1},
    {"timer_settime64", {5, 1}, -1},
    {"timerfd_gettime64", {5, 1}, -1},
    {"timerfd_settime64", {5, 1}, -1},
    {"utimensat_time64", {5, 1}, -1},
    {"pselect6_time64", {5, 1}, -1},
    {"ppoll_time64", {5, 1}, -1},
    {"io_pgetevents_time64", {5, 1}, -1},
    {"recvmmsg_time64", {5, 1}, -1},
    {"mq_timedsend_time64", {5, 1}, -1},
    {"mq_timedreceive_time64", {5, 1}, -1},
    {"semtimedop_time64", {5, 1}, -1},
    {"rt_sigtimedwait_time64", {5, 1}, -1},
    {"futex_time64", {5, 1}, -1},
    {"sched_rr_get_interval_time64", {5, 1}, -1},
    {"pidfd_send_signal", {5, 1}, 424},
    {"io_uring_setup", {5, 1}, 425},
    {"io_uring_enter", {5, 1}, 426},
    {"io_uring_register", {5, 1}, 427},
    {"open_tree", {5, 2}, 428},
    {"move_mount", {5, 2}, 429},
    {"fsopen", {5, 2}, 430},
    {"fsconfig", {5, 2}, 431},
    {"fsmount", {5, 2}, 432},
    {"fspick", {5, 2}, 433},
    {"pidfd_open", {5, 3}, 434},
    {"clone3", {5, 3}, 435},
    {"openat2", {5, 6}, 437},
    {"pidfd_getfd", {5, 6}, 438},
    {"faccessat2", {5, 8}, 439},
    {"close_range", {5, 9}, 436},
    {"process_madvise", {5, 10}, 440},
    {"epoll_pwait2", {5, 11}, 441},
    {"mount_setattr", {5, 12}, 442},
    {"landlock_create_ruleset", {5, 13}, 444},
    {"landlock_add_rule", {5, 13}, 445},
    {"landlock_restrict_self", {5, 13}, 446},
    {"quotactl_fd", {5, 14}, 443},
    {"memfd_secret", {5, 14}, 447},
    {"process_mrelease", {5, 15}, 448},
    {"futex_waitv", {5, 16}, 449},
    {"set_mempolicy_home_node", {5, 17}, 450},
    {"cachestat", {6, 5}, 451},
    {"fchmodat2", {6, 6}, 452},
    {"map_shadow_stack", {6, 6}, 453},
    {"futex_wake", {6, 7}, 454},
    {"futex_wait", {6, 7}, 455},
    {"futex_requeue", {6, 7}, 456},
    {"statmount", {6, 8}, 457},
    {"listmount", {6, 8}, 458},
    {"lsm_get_self_attr", {6, 8}, 459},
    {"lsm_set_self_attr", {6, 8}, 460},
    {"lsm_list_modules", {6, 8}, 461},
    {"mseal", {6, 10}, 462},
    {"setxattrat", {6, 13}, 463},
    {"getxattrat", {6, 13}, 464},
    {"listxattrat", {6, 13}, 465},
    {"removexattrat", {6, 13}, 466},
    {"open_tree_attr", {6, 15}, 467},
    {"file_getattr", {6, 17}, 468},
    {"file_setattr", {6, 17}, 469},
};
// clang-format on

const ArchInfo* FindArch(ArchToken token) {
  for (const auto& a : kArches)
    if (a.token == token) return &a;
  return nullptr;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const HorizonEntry* FindHorizon(std::string_view name) {
  for (const auto& e : kHorizon)
    if (name == e.name) return &e;
  return nullptr;
}

// The unified-number fallback for syscalls libseccomp does not know.
std::optional<int> UnifiedNumber(std::string_view name, ArchToken arch) {
  const ArchInfo* info = FindArch(arch);
  const HorizonEntry* h = FindHorizon(name);
  if (info == nullptr || h == nullptr || h->unified_nr < 0 || info->unified_offset < 0)
    return std::nullopt;
  // map_shadow_stack exists only where shadow stacks do (x86_64; arm64 uses its own).
  if (std::string_view(h->name) == "map_shadow_stack" && arch != SCMP_ARCH_X86_64)
    return std::nullopt;
  return h->unified_nr + info->unified_offset;
}

struct ArchTable {
  std::map<std::string, int, std::less<>> by_name;
  std::map<int, std::string> by_nr;
  std::vector<std::string> names;
};

const ArchTable& TableFor(ArchToken arch) {
  static std::mutex mu;
  static std::map<ArchToken, ArchTable> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto it = tables.find(arch);
  if (it != tables.end()) return it->second;
  ArchTable& t = tables[arch];
  const ArchInfo* info = FindArch(arch);
  if (info == nullptr) return t;
  // Syscall numbers start at the ABI's offset (x32 bit, MIPS o32/n64/n32 bases); ARM
  // has its private syscalls (cacheflush, set_tls, ...) at 0xf0000.
  std::vector<int> bases = {std::max(info->unified_offset, 0)};
  if (arch == SCMP_ARCH_ARM) bases.push_back(0xf0000);
  for (int base : bases) {
    for (int i = 0; i < 1100; ++i) {
      int nr = base + i;
      char* name = seccomp_syscall_resolve_num_arch(arch, nr);
      if (name == nullptr) continue;
      // Keep the first name for a number; libseccomp has no aliases per number.
      if (!t.by_nr.count(nr)) t.by_nr[nr] = name;
      t.by_name.emplace(name, nr);
      std::free(name);
    }
  }
  for (const auto& e : kHorizon) {
    if (t.by_name.count(e.name)) continue;
    if (auto nr = UnifiedNumber(e.name, arch); nr && !t.by_nr.count(*nr)) {
      t.by_name.emplace(e.name, *nr);
      t.by_nr[*nr] = e.name;
    }
  }
  for (const auto& [name, nr] : t.by_name) t.names.push_back(name);
  return t;
}

}  // namespace

Result<ArchToken> ParseArch(std::string_view name) {
  std::string lower = Lower(name);
  if (lower == "native") return NativeArch();
  for (const auto& a : kArches) {
    if (lower == Lower(a.name)) return a.token;
    for (const char* alias : a.aliases)
      if (alias != nullptr && lower == alias) return a.token;
  }
  std::vector<std::string> candidates;
  for (const auto& a : kArches) {
    candidates.push_back(a.name);
    for (const char* alias : a.aliases)
      if (alias != nullptr) candidates.push_back(alias);
  }
  std::string msg = "unknown architecture \"" + std::string(name) + "\"";
  msg += DidYouMean(name, candidates);
  msg += " (use a name like SCMP_ARCH_X86_64, x86_64, amd64, x86, x32, arm64)";
  return Fail(ErrorCode::kInvalidInput, msg);
}

const char* ArchName(ArchToken arch) {
  const ArchInfo* a = FindArch(arch);
  return a ? a->name : "SCMP_ARCH_UNKNOWN";
}

const char* ArchShortName(ArchToken arch) {
  const ArchInfo* a = FindArch(arch);
  return a ? a->short_name : "unknown";
}

ArchToken NativeArch() { return seccomp_arch_native(); }

std::vector<ArchToken> CompatArches(ArchToken native) {
  switch (native) {
    case SCMP_ARCH_X86_64:
      return {SCMP_ARCH_X86, SCMP_ARCH_X32};
    case SCMP_ARCH_AARCH64:
      return {SCMP_ARCH_ARM};
    case SCMP_ARCH_S390X:
      return {SCMP_ARCH_S390};
    case SCMP_ARCH_PPC64:
      return {SCMP_ARCH_PPC};
    default:
      return {};
  }
}

std::vector<std::string> KnownArchNames() {
  std::vector<std::string> out;
  for (const auto& a : kArches) out.push_back(a.name);
  return out;
}

std::optional<int> SyscallNumber(std::string_view name, ArchToken arch) {
  const ArchTable& t = TableFor(arch);
  auto it = t.by_name.find(name);
  if (it == t.by_name.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> SyscallName(int nr, ArchToken arch) {
  const ArchTable& t = TableFor(arch);
  auto it = t.by_nr.find(nr);
  if (it == t.by_nr.end()) return std::nullopt;
  return it->second;
}

const std::vector<std::string>& SyscallNames(ArchToken arch) { return TableFor(arch).names; }

const std::vector<std::string>& AllSyscallNames() {
  static const std::vector<std::string> all = [] {
    std::set<std::string> names;
    for (const auto& a : kArches)
      for (const auto& n : SyscallNames(a.token)) names.insert(n);
    return std::vector<std::string>(names.begin(), names.end());
  }();
  return all;
}

bool LibseccompKnows(std::string_view name, ArchToken arch) {
  std::string n(name);
  return seccomp_syscall_resolve_name_arch(arch, n.c_str()) >= 0;
}

Result<KernelVersion> ParseKernelVersion(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidInput, "invalid kernel version \"" + std::string(text) +
                                              "\": expected MAJOR.MINOR, e.g. \"6.1\"");
  };
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0) return bad();
  size_t end = dot + 1;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == dot + 1) return bad();
  auto major = ParseUint(text.substr(0, dot), 1000);
  auto minor = ParseUint(text.substr(dot + 1, end - dot - 1), 1000);
  if (!major || !minor) return bad();
  return KernelVersion{static_cast<int>(*major), static_cast<int>(*minor)};
}

std::string KernelVersionToString(KernelVersion v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

const std::vector<HorizonEntry>& HorizonTable() { return kHorizon; }

std::optional<KernelVersion> SyscallIntroduced(std::string_view name) {
  const HorizonEntry* h = FindHorizon(name);
  if (h == nullptr) return std::nullopt;
  return h->introduced;
}

}  // namespace silk::policy
