#include "policy/internal/compile_codegen.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>

namespace silk::policy::internal {
namespace {

constexpr size_t kGroup = 8;  // "jeq nr" leaves per binary-search leaf

// Where a conditional jump goes, resolved once the code after it is known.
enum class Target { kNext, kPass, kFail };

sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }

uint32_t ArgOffset(unsigned index, bool high) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint32_t half = high ? 4 : 0;
#else
  const uint32_t half = high ? 0 : 4;
#endif
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * index + half);
}

// The code of one rule: its conditions, then "ret action". A failed condition jumps past
// the return (to the next rule).
class RuleEmitter {
 public:
  RuleEmitter(std::vector<sock_filter>& out, bool high_is_zero)
      : out_(out), high_is_zero_(high_is_zero) {}

  Result<void> Condition(const ArgCondition& c) {
    const uint32_t vh = static_cast<uint32_t>(c.value >> 32), vl = static_cast<uint32_t>(c.value);
    switch (c.op) {
      case ArgOp::kEqualTo:
        High(c.index, std::nullopt);
        Jump(BPF_JEQ, vh, Target::kNext, Target::kFail);
        Low(c.index, std::nullopt);
        Jump(BPF_JEQ, vl, Target::kNext, Target::kFail);
        break;
      case ArgOp::kNotEqual:
        High(c.index, std::nullopt);
        Jump(BPF_JEQ, vh, Target::kNext, Target::kPass);
        Low(c.index, std::nullopt);
        Jump(BPF_JEQ, vl, Target::kFail, Target::kNext);
        break;
      case ArgOp::kMaskedEqual: {
        const uint64_t m = c.value, d = c.value_two;
        High(c.index, static_cast<uint32_t>(m >> 32));
        Jump(BPF_JEQ, static_cast<uint32_t>(d >> 32), Target::kNext, Target::kFail);
        Low(c.index, static_cast<uint32_t>(m));
        Jump(BPF_JEQ, static_cast<uint32_t>(d), Target::kNext, Target::kFail);
        break;
      }
      case ArgOp::kGreaterThan:
      case ArgOp::kGreaterEqual:
        High(c.index, std::nullopt);
        Jump(BPF_JGT, vh, Target::kPass, Target::kNext);
        Jump(BPF_JEQ, vh, Target::kNext, Target::kFail);
        Low(c.index, std::nullopt);
        Jump(c.op == ArgOp::kGreaterThan ? BPF_JGT : BPF_JGE, vl, Target::kNext, Target::kFail);
        break;
      case ArgOp::kLessThan:
      case ArgOp::kLessEqual:
        High(c.index, std::nullopt);
        Jump(BPF_JGT, vh, Target::kFail, Target::kNext);
        Jump(BPF_JEQ, vh, Target::kNext, Target::kPass);
        Low(c.index, std::nullopt);
        Jump(c.op == ArgOp::kLessThan ? BPF_JGE : BPF_JGT, vl, Target::kFail, Target::kNext);
        break;
    }
    SILK_TRY(Resolve(Target::kPass, out_.size()));
    known_high_.reset();
    return {};
  }

  // Ends the rule with "ret action"; failed conditions land after it.
  Result<void> Return(uint32_t action) {
    out_.push_back(Stmt(BPF_RET | BPF_K, action));
    return Resolve(Target::kFail, out_.size());
  }

 private:
  struct Fixup {
    size_t at;
    bool ja;     // BPF_JA: the target goes in k
    bool true_;  // else: jt (true) or jf (false)
    Target to;
  };

  // A <- the high half of args[index] (masked), or its value if it is known statically.
  void High(unsigned index, std::optional<uint32_t> mask) {
    if (high_is_zero_) {
      known_high_ = 0;  // 0 & mask == 0
      return;
    }
    out_.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, ArgOffset(index, true)));
    if (mask) out_.push_back(Stmt(BPF_ALU | BPF_AND | BPF_K, *mask));
  }
  void Low(unsigned index, std::optional<uint32_t> mask) {
    known_high_.reset();
    out_.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, ArgOffset(index, false)));
    if (mask) out_.push_back(Stmt(BPF_ALU | BPF_AND | BPF_K, *mask));
  }

  void Jump(uint16_t op, uint32_t k, Target t, Target f) {
    if (known_high_) {
      uint32_t a = *known_high_;
      bool cond = op == BPF_JEQ ? a == k : op == BPF_JGT ? a > k : a >= k;
      Target to = cond ? t : f;
      if (to == Target::kNext) return;
      out_.push_back(Stmt(BPF_JMP | BPF_JA, 0));
      fixups_.push_back({out_.size() - 1, true, true, to});
      return;
    }
    out_.push_back(sock_filter{static_cast<uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k});
    if (t != Target::kNext) fixups_.push_back({out_.size() - 1, false, true, t});
    if (f != Target::kNext) fixups_.push_back({out_.size() - 1, false, false, f});
  }

  Result<void> Resolve(Target which, size_t target) {
    std::vector<Fixup> rest;
    for (const auto& fx : fixups_) {
      if (fx.to != which) {
        rest.push_back(fx);
        continue;
      }
      size_t off = target - (fx.at + 1);
      if (fx.ja) {
        out_[fx.at].k = static_cast<uint32_t>(off);
      } else if (off > 255) {
        return Fail(ErrorCode::kUnsupported,
                    "a rule's argument conditions need a jump longer than classic BPF's "
                    "8-bit offsets; split the rule");
      } else if (fx.true_) {
        out_[fx.at].jt = static_cast<uint8_t>(off);
      } else {
        out_[fx.at].jf = static_cast<uint8_t>(off);
      }
    }
    fixups_ = std::move(rest);
    return {};
  }

  std::vector<sock_filter>& out_;
  bool high_is_zero_;
  std::optional<uint32_t> known_high_;
  std::vector<Fixup> fixups_;
};

// A syscall's rules in the order the program tests them, with their filter actions;
// trailing rules that return the default action are dropped (falling through does the
// same), and nothing after an unconditional rule is reachable.
std::vector<std::pair<const EffectiveRule*, uint32_t>> Ordered(const SyscallPolicy& sp,
                                                               const CompileOptions& options,
                                                               uint32_t default_action) {
  std::vector<const EffectiveRule*> rules;
  for (const auto& r : sp.rules) rules.push_back(&r);
  std::stable_sort(rules.begin(), rules.end(), [](const EffectiveRule* a, const EffectiveRule* b) {
    return MoreRestrictive(a->verdict, b->verdict);
  });
  std::vector<std::pair<const EffectiveRule*, uint32_t>> out;
  for (const EffectiveRule* r : rules) {
    out.push_back({r, FilterActionFor(r->verdict, options)});
    if (r->args.empty()) break;
  }
  while (!out.empty() && out.back().second == default_action) out.pop_back();
  return out;
}

bool HighIsZero(ArchToken arch) { return arch == SCMP_ARCH_X86; }

}  // namespace

Result<ArchCode> GenerateArch(const EffectivePolicy& ep, ArchToken arch,
                              const CompileOptions& options) {
  ArchCode code;
  const uint32_t def = FilterActionFor(ep.default_verdict, options);
  code.has_notify = def == SECCOMP_RET_USER_NOTIF;

  // Leaves: a return value, or an argument block (index into `blocks`).
  struct Leaf {
    uint32_t nr;
    bool block;
    uint32_t value;  // action, or block index
  };
  std::vector<Leaf> leaves;
  std::vector<std::vector<std::pair<const EffectiveRule*, uint32_t>>> blocks;
  std::vector<const std::string*> block_names;
  for (const auto& [nr, sp] : ep.syscalls) {
    auto rules = Ordered(sp, options, def);
    if (rules.empty()) continue;
    for (const auto& r : rules)
      if (r.second == SECCOMP_RET_USER_NOTIF) code.has_notify = true;
    if (rules.size() == 1 && rules[0].first->args.empty()) {
      leaves.push_back({static_cast<uint32_t>(nr), false, rules[0].second});
    } else {
      leaves.push_back({static_cast<uint32_t>(nr), true, static_cast<uint32_t>(blocks.size())});
      blocks.push_back(std::move(rules));
      block_names.push_back(&sp.name);
    }
  }

  std::vector<sock_filter>& out = code.program;
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  std::vector<std::pair<size_t, uint32_t>> block_jumps;  // (ja index, block)
  // Binary search over groups of leaves [lo, hi).
  size_t groups = (leaves.size() + kGroup - 1) / kGroup;
  auto emit = [&](auto& self, size_t lo, size_t hi) -> void {
    if (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      out.push_back(sock_filter{BPF_JMP | BPF_JGE | BPF_K, 0, 1, leaves[mid * kGroup].nr});
      size_t ja = out.size();
      out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
      self(self, lo, mid);
      out[ja].k = static_cast<uint32_t>(out.size() - (ja + 1));
      self(self, mid, hi);
      return;
    }
    size_t first = lo * kGroup, last = std::min(leaves.size(), first + kGroup);
    // Tail after the jeq leaves: ret default, then one instruction per distinct target.
    std::vector<std::pair<bool, uint32_t>> targets;
    for (size_t i = first; i < last; ++i) {
      std::pair<bool, uint32_t> t{leaves[i].block, leaves[i].value};
      if (std::find(targets.begin(), targets.end(), t) == targets.end()) targets.push_back(t);
    }
    size_t n = last - first;
    for (size_t i = first; i < last; ++i) {
      std::pair<bool, uint32_t> t{leaves[i].block, leaves[i].value};
      size_t ti = std::find(targets.begin(), targets.end(), t) - targets.begin();
      size_t jt = (n - (i - first) - 1) + 1 + ti;  // past the remaining jeqs and ret default
      out.push_back(
          sock_filter{BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint8_t>(jt), 0, leaves[i].nr});
    }
    out.push_back(Stmt(BPF_RET | BPF_K, def));
    for (const auto& [block, value] : targets) {
      if (block) {
        block_jumps.push_back({out.size(), value});
        out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
      } else {
        out.push_back(Stmt(BPF_RET | BPF_K, value));
      }
    }
  };
  if (groups == 0) {
    out.push_back(Stmt(BPF_RET | BPF_K, def));
  } else {
    emit(emit, 0, groups);
  }

  std::vector<size_t> block_start(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    block_start[b] = out.size();
    for (const auto& [rule, action] : blocks[b]) {
      RuleEmitter e(out, HighIsZero(arch));
      for (const auto& c : rule->args)
        SILK_TRY(WithContext(e.Condition(c), "syscall " + *block_names[b]));
      SILK_TRY(e.Return(action));
    }
    out.push_back(Stmt(BPF_RET | BPF_K, def));
  }
  for (const auto& [at, b] : block_jumps)
    out[at].k = static_cast<uint32_t>(block_start[b] - (at + 1));
  return code;
}

namespace {

std::string ActionText(uint32_t action) {
  char buf[32];
  switch (action & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS:
      return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD:
      return "KILL";
    case SECCOMP_RET_TRAP:
      return "TRAP";
    case SECCOMP_RET_ERRNO:
      snprintf(buf, sizeof(buf), "ERRNO(%u)", action & SECCOMP_RET_DATA);
      return buf;
    case SECCOMP_RET_TRACE:
      snprintf(buf, sizeof(buf), "TRACE(%u)", action & SECCOMP_RET_DATA);
      return buf;
    case SECCOMP_RET_LOG:
      return "LOG";
    case SECCOMP_RET_USER_NOTIF:
      return "NOTIFY";
    case SECCOMP_RET_ALLOW:
      return "ALLOW";
  }
  snprintf(buf, sizeof(buf), "0x%x", action);
  return buf;
}

const char* OpText(ArgOp op) {
  switch (op) {
    case ArgOp::kNotEqual:
      return "!=";
    case ArgOp::kLessThan:
      return "<";
    case ArgOp::kLessEqual:
      return "<=";
    case ArgOp::kEqualTo:
      return "==";
    case ArgOp::kGreaterEqual:
      return ">=";
    case ArgOp::kGreaterThan:
      return ">";
    case ArgOp::kMaskedEqual:
      return "&";
  }
  return "?";
}

}  // namespace

std::string ArchPfc(const EffectivePolicy& ep, ArchToken arch, const CompileOptions& options) {
  const uint32_t def = FilterActionFor(ep.default_verdict, options);
  std::string out;
  char buf[256];
  snprintf(buf, sizeof(buf), "# filter for arch %s (%u)\nif ($arch == %u)\n", ArchShortName(arch),
           arch, arch);
  out += buf;
  for (const auto& [nr, sp] : ep.syscalls) {
    auto rules = Ordered(sp, options, def);
    if (rules.empty()) continue;
    snprintf(buf, sizeof(buf), "  # filter for syscall \"%s\" (%d)\n  if ($syscall == %d)\n",
             sp.name.c_str(), nr, nr);
    out += buf;
    for (const auto& [rule, action] : rules) {
      std::string indent = "    ";
      for (const auto& c : rule->args) {
        if (c.op == ArgOp::kMaskedEqual) {
          snprintf(buf, sizeof(buf), "%sif (($a%u & 0x%llx) == 0x%llx)\n", indent.c_str(), c.index,
                   static_cast<unsigned long long>(c.value),
                   static_cast<unsigned long long>(c.value_two));
        } else {
          snprintf(buf, sizeof(buf), "%sif ($a%u %s 0x%llx)\n", indent.c_str(), c.index,
                   OpText(c.op), static_cast<unsigned long long>(c.value));
        }
        out += buf;
        indent += "  ";
      }
      out += indent + "action " + ActionText(action) + ";\n";
    }
  }
  out += "  # default action\n  action " + ActionText(def) + ";\n";
  return out;
}

}  // namespace silk::policy::internal
