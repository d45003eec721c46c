#include "policy/internal/compile_stitch.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <cstddef>
#include <cstdio>
#include <optional>

namespace silk::policy::internal {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// One dispatcher entry: an audit arch and the parts it leads to (for AUDIT_ARCH_X86_64:
// x86_64 below the x32 bit, x32 at or above it).
struct Entry {
  uint32_t audit;
  std::optional<size_t> low;   // part index for nr < x32 bit (or every nr if !split)
  std::optional<size_t> high;  // part index for nr >= x32 bit
  bool split = false;
};

}  // namespace

uint32_t AuditArch(ArchToken token) { return token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token; }

Result<std::vector<sock_filter>> Stitch(const std::vector<ArchProgram>& parts, uint32_t bad_arch) {
  if (parts.empty()) return Fail(ErrorCode::kInvalidInput, "no architecture to stitch");
  std::vector<Entry> entries;
  for (size_t i = 0; i < parts.size(); ++i) {
    ArchToken token = parts[i].arch;
    uint32_t audit = AuditArch(token);
    Entry* e = nullptr;
    for (auto& x : entries)
      if (x.audit == audit) e = &x;
    if (e == nullptr) {
      entries.push_back(Entry{audit, std::nullopt, std::nullopt,
                              token == SCMP_ARCH_X86_64 || token == SCMP_ARCH_X32});
      e = &entries.back();
    }
    std::optional<size_t>& slot = token == SCMP_ARCH_X32 ? e->high : e->low;
    if (slot)
      return Fail(ErrorCode::kInvalidInput,
                  std::string("architecture ") + ArchName(token) + " given twice");
    slot = i;
    if (parts[i].program.empty())
      return Fail(ErrorCode::kInternal,
                  std::string("libseccomp exported an empty program for ") + ArchName(token));
  }

  // Layout: [ld arch] [per entry: jeq, ja] [ret bad] [per split entry: ld nr, jge, ja, ja]
  // [programs]. Jump targets are recorded as absolute indices and patched at the end.
  std::vector<sock_filter> out;
  struct Patch {
    size_t at;
    std::optional<size_t> part;  // nullopt: the bad-arch return
  };
  std::vector<Patch> patches;
  std::vector<size_t> split_jump;  // index of the entry's "ja" to its split block
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  for (const auto& e : entries) {
    out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, e.audit, 0, 1));
    out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
    if (e.split) {
      split_jump.push_back(out.size() - 1);
    } else {
      patches.push_back({out.size() - 1, e.low});
    }
  }
  size_t bad = out.size();
  out.push_back(Stmt(BPF_RET | BPF_K, bad_arch));
  size_t s = 0;
  for (const auto& e : entries) {
    if (!e.split) continue;
    size_t at = split_jump[s++];
    out[at].k = static_cast<uint32_t>(out.size() - (at + 1));
    out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    out.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 1, 0));
    out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
    patches.push_back({out.size() - 1, e.low});
    out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
    patches.push_back({out.size() - 1, e.high});
  }
  std::vector<size_t> start(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    start[i] = out.size();
    out.insert(out.end(), parts[i].program.begin(), parts[i].program.end());
  }
  if (out.size() > BPF_MAXINSNS)
    return Fail(ErrorCode::kUnsupported,
                "the filter needs " + std::to_string(out.size()) + " BPF instructions for " +
                    std::to_string(parts.size()) + " architectures, more than the kernel's " +
                    std::to_string(BPF_MAXINSNS) +
                    "; list fewer architectures or merge rules with the same action");
  for (const auto& p : patches) {
    size_t target = p.part ? start[*p.part] : bad;
    // A jump to the bad-arch return goes backwards: use a copy of the return instead.
    if (target <= p.at) {
      out[p.at] = Stmt(BPF_RET | BPF_K, bad_arch);
      continue;
    }
    out[p.at].k = static_cast<uint32_t>(target - (p.at + 1));
  }
  return out;
}

std::string StitchPfc(const std::vector<ArchProgram>& parts, uint32_t bad_arch) {
  char head[256];
  snprintf(head, sizeof(head),
           "#\n# silk: one program per architecture, joined by a dispatcher on\n"
           "# seccomp_data.arch (x86_64 numbers below 0x%x, x32 at or above it);\n"
           "# any other architecture: action 0x%x\n#\n",
           kX32Bit, bad_arch);
  std::string out = head;
  for (const auto& p : parts) {
    out += "#\n# silk: section ";
    out += ArchName(p.arch);
    out += "\n#\n";
    out += p.pfc;
  }
  return out;
}

}  // namespace silk::policy::internal
