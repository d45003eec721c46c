#include "policy/internal/compile_verify.hpp"

#include <linux/audit.h>
#include <seccomp.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>

#include "policy/internal/bpf_emulator.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy::internal {
namespace {

constexpr size_t kMaxPointsPerSyscall = 4096;
// Syscall numbers checked with zero arguments after the ABI's base: past every
// architecture's table (x86_64's ends near 470), as syscalls.cpp scans them.
constexpr int kSweep = 1100;
constexpr int kX32Bit = 0x40000000;

// The audit arch value the kernel puts in seccomp_data.arch (x32 runs on the x86_64
// audit arch; its syscall numbers carry the x32 bit).
uint32_t AuditArch(ArchToken token) { return token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token; }

// Architectures whose syscall arguments libseccomp compares as 32-bit values (the
// kernel zero-extends the registers of 32-bit tasks; x32 is 32-bit for libseccomp too).
bool ThirtyTwoBit(ArchToken token) {
  switch (token) {
    case SCMP_ARCH_X86:
    case SCMP_ARCH_X32:
    case SCMP_ARCH_ARM:
    case SCMP_ARCH_MIPS:
    case SCMP_ARCH_MIPSEL:
    case SCMP_ARCH_MIPS64N32:
    case SCMP_ARCH_MIPSEL64N32:
    case SCMP_ARCH_PPC:
    case SCMP_ARCH_S390:
    case SCMP_ARCH_PARISC:
      return true;
    default:
      return false;
  }
}

std::vector<uint64_t> Boundaries(const std::vector<const ArgCondition*>& conds) {
  std::set<uint64_t> v = {0, 1, UINT64_MAX};
  for (const ArgCondition* c : conds) {
    if (c->op == ArgOp::kMaskedEqual) {
      uint64_t m = c->value, d = c->value_two;
      v.insert(d);
      v.insert(d | ~m);
      v.insert(d ^ (m & -m));                                           // lowest mask bit flipped
      if (m) v.insert(d ^ (uint64_t{1} << (63 - __builtin_clzll(m))));  // highest
      v.insert((d + 1) & m);
    } else {
      v.insert(c->value - 1);
      v.insert(c->value);
      v.insert(c->value + 1);
    }
  }
  return {v.begin(), v.end()};
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<void> CheckPoint(const std::vector<sock_filter>& program, const EffectivePolicy& ep,
                        uint32_t audit_arch, int nr, const uint64_t args[6],
                        const CompileOptions& options) {
  uint32_t expected = FilterActionFor(ep.Evaluate(nr, args), options);
  auto got = RunSeccompBpf(program, audit_arch, nr, args);
  if (got && *got == expected) return {};
  std::string name = SyscallName(nr, SILK_TRY(ParseArch(ep.arch))).value_or(std::to_string(nr));
  std::string a;
  for (int i = 0; i < 6; ++i) a += (i ? "," : "") + Hex(args[i]);
  return Fail(ErrorCode::kUnsupported,
              "the compiled filter disagrees with the profile on " + ep.arch + " for " + name +
                  "(" + a + "): filter returns " + (got ? Hex(*got) : "nothing") +
                  ", profile says " + VerdictToString(ep.Evaluate(nr, args)) + " (" +
                  Hex(expected) +
                  "); refusing to produce a filter that differs. Restate the "
                  "argument rules of " +
                  name + " so that they do not overlap");
}

}  // namespace

Result<void> VerifyAgainstEvaluate(const std::vector<sock_filter>& program,
                                   const std::vector<EffectivePolicy>& policies,
                                   const CompileOptions& options) {
  const uint64_t zero[6] = {0, 0, 0, 0, 0, 0};
  std::set<ArchToken> covered;
  for (const auto& ep : policies) {
    ArchToken token = SILK_TRY(ParseArch(ep.arch));
    covered.insert(token);
    uint32_t audit = AuditArch(token);
    // Every number of the architecture's range, named or not (a number libseccomp's
    // table lacks must get the default too); numbers with rules are checked below.
    // The ABI's base: the x32 bit, MIPS's 4000/5000/6000, else 0; ARM's private
    // syscalls (cacheflush, set_tls, ...) live at 0xf0000.
    const int read_nr = SyscallNumber("read", token).value_or(0);
    std::vector<int> bases = {token == SCMP_ARCH_X32 ? kX32Bit : read_nr / 1000 * 1000};
    if (token == SCMP_ARCH_ARM) bases.push_back(0xf0000);
    for (int base : bases)
      for (int nr = base; nr < base + kSweep; ++nr)
        if (!ep.syscalls.count(nr)) SILK_TRY(CheckPoint(program, ep, audit, nr, zero, options));
    for (const auto& [nr, sp] : ep.syscalls) {
      std::vector<std::vector<const ArgCondition*>> by_arg(6);
      for (const auto& r : sp.rules)
        for (const auto& c : r.args) by_arg[c.index].push_back(&c);
      std::vector<std::vector<uint64_t>> values(6, std::vector<uint64_t>{0});
      size_t total = 1;
      for (int i = 0; i < 6; ++i) {
        if (by_arg[i].empty()) continue;
        values[i] = Boundaries(by_arg[i]);
        if (ThirtyTwoBit(token)) {
          for (auto& v : values[i]) v &= 0xffffffff;
          std::sort(values[i].begin(), values[i].end());
          values[i].erase(std::unique(values[i].begin(), values[i].end()), values[i].end());
        }
        total = std::min<size_t>(total * values[i].size(), SIZE_MAX / 1024);
      }
      uint64_t args[6];
      if (total <= kMaxPointsPerSyscall) {
        for (size_t k = 0; k < total; ++k) {
          size_t rest = k;
          for (int i = 0; i < 6; ++i) {
            args[i] = values[i][rest % values[i].size()];
            rest /= values[i].size();
          }
          SILK_TRY(CheckPoint(program, ep, audit, nr, args, options));
        }
      } else {
        std::mt19937_64 rng(static_cast<uint64_t>(nr));
        for (size_t k = 0; k < kMaxPointsPerSyscall; ++k) {
          for (int i = 0; i < 6; ++i) args[i] = values[i][rng() % values[i].size()];
          SILK_TRY(CheckPoint(program, ep, audit, nr, args, options));
        }
      }
    }
  }
  // Compat architectures of the native one that the program does not cover.
  uint32_t bad = SeccompAction(options.bad_arch);
  for (ArchToken compat : CompatArches(NativeArch())) {
    if (covered.count(compat)) continue;
    auto nr = SyscallNumber("getpid", compat);
    if (!nr) continue;
    auto got = RunSeccompBpf(program, AuditArch(compat), *nr, zero);
    if (!got || *got != bad)
      return Fail(ErrorCode::kInternal,
                  std::string("the filter does not refuse ") + ArchName(compat) + " syscalls");
  }
  return {};
}

}  // namespace silk::policy::internal
