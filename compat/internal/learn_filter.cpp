#include "compat/internal/learn_filter.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "policy/syscalls.hpp"

namespace silk::compat::internal {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000u;
constexpr size_t kMaxRanges = 96;
using Range = std::pair<uint32_t, uint32_t>;  // [first, last]

sock_filter Jump(uint16_t op, uint32_t k, size_t jt, size_t jf) {
  return BPF_JUMP(BPF_JMP | op | BPF_K, k, static_cast<uint8_t>(jt), static_cast<uint8_t>(jf));
}

// Decides ranges[lo, hi) with nr in the accumulator: allow inside a range, else notify.
// Only forward jumps; a subtree is at most a few hundred instructions, and a jump skips at
// most one subtree (the counted set is small, see syscall_counters.hpp).
std::vector<sock_filter> Search(const std::vector<Range>& ranges, size_t lo, size_t hi) {
  if (hi - lo == 1) {
    const auto [first, last] = ranges[lo];
    return {Jump(BPF_JGE, first, 0, 2),  // below: notify
            Jump(BPF_JGT, last, 1, 0),   // above: notify
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)};
  }
  const size_t mid = lo + (hi - lo) / 2;
  std::vector<sock_filter> left = Search(ranges, lo, mid);
  std::vector<sock_filter> right = Search(ranges, mid, hi);
  std::vector<sock_filter> out = {Jump(BPF_JGE, ranges[mid].first, left.size(), 0)};
  out.insert(out.end(), left.begin(), left.end());
  out.insert(out.end(), right.begin(), right.end());
  return out;
}

}  // namespace

LearningFilter::LearningFilter(std::vector<int> counted) {
  std::sort(counted.begin(), counted.end());
  counted.erase(std::unique(counted.begin(), counted.end()), counted.end());
  std::erase_if(counted,
                [](int nr) { return nr < 0 || static_cast<uint32_t>(nr) >= kX32SyscallBit; });
  const sock_filter notify = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
  if (counted.empty()) {
    insns_ = {notify};
    return;
  }
  std::vector<Range> ranges;
  for (int nr : counted) {
    const auto n = static_cast<uint32_t>(nr);
    if (!ranges.empty() && ranges.back().second + 1 == n)
      ranges.back().second = n;
    else
      ranges.push_back({n, n});
  }
  // Keeps every jump within cBPF's 8-bit offsets (a subtree of 50 ranges is ~250
  // instructions); numbers beyond stay notified, which is always correct.
  if (ranges.size() > kMaxRanges) ranges.resize(kMaxRanges);
  for (const auto& [first, last] : ranges)
    for (uint32_t n = first; n <= last; ++n) counted_.push_back(static_cast<int>(n));
  insns_ = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      Jump(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
      notify,
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      Jump(BPF_JGE, kX32SyscallBit, 0, 1),
      notify,
  };
  std::vector<sock_filter> search = Search(ranges, 0, ranges.size());
  insns_.insert(insns_.end(), search.begin(), search.end());
}

std::vector<int> CountableSyscalls(const policy::EffectivePolicy& native,
                                   const SyscallObserver& observer) {
  auto arch = policy::ParseArch(native.arch);
  if (!arch || *arch != AUDIT_ARCH_X86_64) return {};
  std::vector<int> out;
  for (const auto& name : policy::SyscallNames(*arch)) {
    auto nr = policy::SyscallNumber(name, *arch);
    // execve: the box's own call; socket: the supervisor mediates raw and packet sockets.
    if (!nr || *nr < 0 || name == "execve" || name == "socket" || !observer.CountedArguments(*nr))
      continue;
    bool allows = policy::Allows(native.default_verdict);
    if (auto it = native.syscalls.find(*nr); it != native.syscalls.end()) {
      // Allowed whatever the arguments: no rule denies, and one always matches (or the
      // default, reached when none matches, allows).
      bool unconditional = false, denies = false;
      for (const auto& rule : it->second.rules) {
        denies = denies || !policy::Allows(rule.verdict);
        unconditional = unconditional || rule.args.empty();
      }
      allows = !denies && (unconditional || allows);
    }
    if (allows) out.push_back(*nr);
  }
  return out;
}

}  // namespace silk::compat::internal
