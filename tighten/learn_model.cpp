#include "tighten/learn_model.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "policy/algebra.hpp"
#include "policy/resolve.hpp"

namespace silk::tighten {
namespace {

// clone(2) namespace flags (CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|
// CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET), the mask Docker and Podman use.
constexpr uint64_t kCloneNamespaceMask = 0x7E020000;
// ioctl requests, prctl options and fcntl commands are C ints: the kernel looks at the
// low 32 bits only, so conditions mask the rest.
constexpr uint64_t kLow32 = 0xffffffffull;
// socket(2) type: the low bits are the type, the rest SOCK_NONBLOCK/SOCK_CLOEXEC.
constexpr uint64_t kSocketTypeMask = 0xf;

policy::ArgCondition Eq(unsigned index, uint64_t value) {
  return policy::ArgCondition{index, value, 0, policy::ArgOp::kEqualTo};
}
policy::ArgCondition Masked(unsigned index, uint64_t mask, uint64_t value) {
  return policy::ArgCondition{index, mask, value & mask, policy::ArgOp::kMaskedEqual};
}

// The distinct values of key-tuple position `pos` under `mask`.
std::set<uint64_t> Values(const ObservedSyscall& o, size_t pos, uint64_t mask) {
  std::set<uint64_t> out;
  for (const auto& t : o.key_args) out.insert(t[pos] & mask);
  return out;
}

// Conditioned allow rules for one observed syscall, or empty for "allow it plainly".
std::vector<std::vector<policy::ArgCondition>> ConditionsFor(const ObservedSyscall& o,
                                                             const ProposeOptions& opt) {
  std::vector<std::vector<policy::ArgCondition>> out;
  if (!opt.arg_conditions || o.args_overflow || o.key_args.empty()) return out;
  const auto& idx = KeyArgIndices(o.name);
  if (o.name == "clone") {
    bool any_ns = false;
    for (const auto& t : o.key_args) any_ns = any_ns || (t[0] & kCloneNamespaceMask);
    if (!any_ns) return {{Masked(idx[0], kCloneNamespaceMask, 0)}};
    if (o.key_args.size() > opt.max_values) return {};
    for (const auto& t : o.key_args) out.push_back({Eq(idx[0], t[0])});
    return out;
  }
  if (o.name == "socket") {
    std::set<std::pair<uint64_t, uint64_t>> pairs;
    for (const auto& t : o.key_args) pairs.insert({t[0] & kLow32, t[1] & kSocketTypeMask});
    if (pairs.size() <= opt.max_values) {
      for (const auto& [family, type] : pairs)
        out.push_back({Eq(idx[0], family), Masked(idx[1], kSocketTypeMask, type)});
      return out;
    }
    auto families = Values(o, 0, kLow32);
    if (families.size() > opt.max_values) return {};
    for (uint64_t f : families) out.push_back({Eq(idx[0], f)});
    return out;
  }
  // ioctl request, prctl option, fcntl command: one masked EQ per value.
  auto values = Values(o, 0, kLow32);
  if (values.size() > opt.max_values) return {};
  for (uint64_t v : values) out.push_back({Masked(idx[0], kLow32, v)});
  return out;
}

// Does condition `c` hold for argument value `v`?
bool Holds(const policy::ArgCondition& c, uint64_t v) {
  switch (c.op) {
    case policy::ArgOp::kNotEqual:
      return v != c.value;
    case policy::ArgOp::kLessThan:
      return v < c.value;
    case policy::ArgOp::kLessEqual:
      return v <= c.value;
    case policy::ArgOp::kEqualTo:
      return v == c.value;
    case policy::ArgOp::kGreaterEqual:
      return v >= c.value;
    case policy::ArgOp::kGreaterThan:
      return v > c.value;
    case policy::ArgOp::kMaskedEqual:
      return (v & c.value) == c.value_two;
  }
  return false;
}

bool IsAllow(policy::Action a);

// Conjunctions of each proposed condition set with each allow rule of the parent.
// A parent condition on an argument our set pins with EQ is decided here (dropped when
// it holds, the pair skipped when it does not); a pair that would compare one argument
// twice otherwise is skipped (allowing less is always safe). Returns empty when nothing
// usable remains (the caller then copies the parent's rules).
std::vector<std::vector<policy::ArgCondition>> Narrow(
    const std::vector<std::vector<policy::ArgCondition>>& conds,
    const std::vector<const policy::SyscallRule*>& parent_rules) {
  std::vector<std::vector<policy::ArgCondition>> out;
  for (const auto& c : conds) {
    std::vector<std::vector<policy::ArgCondition>> mine;
    bool whole = false;  // c itself is inside one parent allow rule
    for (const policy::SyscallRule* r : parent_rules) {
      if (!IsAllow(r->action)) continue;
      std::vector<policy::ArgCondition> conj = c;
      bool possible = true, usable = true;
      for (const auto& pc : r->args) {
        auto same = std::find_if(
            c.begin(), c.end(), [&](const policy::ArgCondition& x) { return x.index == pc.index; });
        if (same == c.end()) {
          conj.push_back(pc);
        } else if (same->op == policy::ArgOp::kEqualTo) {
          possible = possible && Holds(pc, same->value);
        } else {
          usable = false;
        }
      }
      if (!possible || !usable) continue;
      if (conj.size() == c.size()) whole = true;
      std::sort(conj.begin(), conj.end());
      if (std::find(mine.begin(), mine.end(), conj) == mine.end()) mine.push_back(conj);
    }
    if (whole) mine = {c};
    out.insert(out.end(), mine.begin(), mine.end());
  }
  if (out.empty() && !conds.empty()) return {};
  return out;
}

bool Names(const policy::SyscallRule& r, const std::string& name) {
  return std::find(r.names.begin(), r.names.end(), name) != r.names.end();
}

bool IsAllow(policy::Action a) { return a == policy::Action::kAllow || a == policy::Action::kLog; }

}  // namespace

const std::vector<unsigned>& KeyArgIndices(const std::string& name) {
  static const std::map<std::string, std::vector<unsigned>> kKeys = {
      {"socket", {0, 1}}, {"clone", {0}}, {"ioctl", {1}}, {"prctl", {0}}, {"fcntl", {1}},
  };
  static const std::vector<unsigned> kNone;
  auto it = kKeys.find(name);
  return it == kKeys.end() ? kNone : it->second;
}

void Observations::AddAllowed(const std::string& arch, int nr, const std::string& name,
                              const uint64_t args[6]) {
  ++total;
  auto& o = by_arch[arch][nr];
  if (o.name.empty()) o.name = name;
  ++o.count;
  const auto& idx = KeyArgIndices(name);
  if (idx.empty() || o.args_overflow) return;
  std::vector<uint64_t> tuple;
  tuple.reserve(idx.size());
  for (unsigned i : idx) tuple.push_back(args[i]);
  o.key_args.insert(std::move(tuple));
  if (o.key_args.size() > kMaxKeyTuples) {
    o.key_args.clear();
    o.args_overflow = true;
  }
}

void Observations::AddCounted(const std::string& arch, int nr, const std::string& name,
                              uint64_t count) {
  total += count;
  auto& o = by_arch[arch][nr];
  if (o.name.empty()) o.name = name;
  o.count += count;
}

void Observations::AddCountedArguments(const std::string& arch, int nr, const std::string& name,
                                       const std::vector<uint64_t>& tuple, bool complete) {
  auto& o = by_arch[arch][nr];
  if (o.name.empty()) o.name = name;
  if (!complete || tuple.size() != KeyArgIndices(name).size()) o.args_overflow = true;
  if (o.args_overflow) {
    o.key_args.clear();
    return;
  }
  o.key_args.insert(tuple);
  if (o.key_args.size() > kMaxKeyTuples) {
    o.key_args.clear();
    o.args_overflow = true;
  }
}

void Observations::AddDenied(const std::string& arch, int nr, const std::string& name,
                             const uint64_t args[6], pid_t pid, const policy::Verdict& verdict) {
  ++total;
  // Aggregated by syscall and key arguments: the other registers of a call often hold
  // leftovers (vhangup() takes none), which would make every call distinct.
  const auto& idx = KeyArgIndices(name);
  for (auto& d : denied) {
    if (d.arch != arch || d.nr != nr) continue;
    if (std::all_of(idx.begin(), idx.end(), [&](unsigned i) { return d.args[i] == args[i]; })) {
      ++d.count;
      return;
    }
  }
  DeniedAttempt d;
  d.arch = arch;
  d.name = name;
  d.nr = nr;
  std::copy(args, args + 6, d.args.begin());
  d.pid = pid;
  d.count = 1;
  d.verdict = verdict;
  denied.push_back(d);
}

void Observations::Merge(const Observations& other) {
  total += other.total;
  pids.insert(other.pids.begin(), other.pids.end());
  for (const auto& [arch, calls] : other.by_arch) {
    for (const auto& [nr, o] : calls) {
      auto& mine = by_arch[arch][nr];
      if (mine.name.empty()) mine.name = o.name;
      mine.count += o.count;
      mine.args_overflow = mine.args_overflow || o.args_overflow;
      if (!mine.args_overflow) mine.key_args.insert(o.key_args.begin(), o.key_args.end());
      if (mine.key_args.size() > kMaxKeyTuples) {
        mine.key_args.clear();
        mine.args_overflow = true;
      }
      if (mine.args_overflow) mine.key_args.clear();
    }
  }
  for (const auto& d : other.denied) {
    bool merged = false;
    const auto& idx = KeyArgIndices(d.name);
    for (auto& mine : denied) {
      if (mine.arch == d.arch && mine.nr == d.nr &&
          std::all_of(idx.begin(), idx.end(),
                      [&](unsigned i) { return mine.args[i] == d.args[i]; })) {
        mine.count += d.count;
        merged = true;
        break;
      }
    }
    if (!merged) denied.push_back(d);
  }
}

size_t Observations::DistinctAllowed() const {
  std::set<std::string> names;
  for (const auto& [arch, calls] : by_arch)
    for (const auto& [nr, o] : calls) names.insert(o.name);
  return names.size();
}

const std::vector<std::string>& LibcFloorSyscalls() {
  static const std::vector<std::string> floor = {
      "brk",           "madvise",        "mprotect",
      "mremap",        "munmap",                             // malloc
      "futex",         "sched_yield",                        // locks
      "rt_sigreturn",  "rt_sigprocmask", "restart_syscall",  // signals
      "sysinfo",                                             // qsort
      "clock_gettime", "gettimeofday",   "time",  // when the clock source has no vDSO path
      "exit",          "exit_group",              // the end
  };
  return floor;
}

Result<Proposal> ProposeProfile(const Observations& obs, const policy::Profile& parent,
                                const ProposeOptions& options) {
  Proposal out;
  policy::Profile& p = out.profile;
  p.default_action = parent.default_action;
  p.default_errno_ret = parent.default_errno_ret;
  p.architectures = parent.architectures;
  p.flags = parent.flags;
  p.listener_path = parent.listener_path;
  p.listener_metadata = parent.listener_metadata;
  p.meta.name = options.name;
  p.meta.extends = parent.meta.name;
  p.meta.generation = parent.meta.generation ? *parent.meta.generation + 1 : 1;
  p.meta.notes = options.notes;
  p.meta.horizon = parent.meta.horizon;
  p.meta.clone3 = parent.meta.clone3;

  // Observed names, merged over the parent's architectures (rules are by name).
  std::map<std::string, ObservedSyscall> seen;
  for (const auto& [arch, calls] : obs.by_arch) {
    if (!parent.architectures.empty() &&
        std::find(parent.architectures.begin(), parent.architectures.end(), arch) ==
            parent.architectures.end())
      continue;
    for (const auto& [nr, o] : calls) {
      auto& s = seen[o.name];
      if (s.name.empty()) s.name = o.name;
      s.count += o.count;
      s.args_overflow = s.args_overflow || o.args_overflow;
      s.key_args.insert(o.key_args.begin(), o.key_args.end());
    }
  }

  // Not observed, but added when the parent allows them; true when `name` was added.
  auto add_unobserved = [&](const std::string& name) {
    if (seen.count(name)) return false;
    bool parent_allows = IsAllow(parent.default_action);
    for (const auto& r : parent.syscalls)
      parent_allows = parent_allows || (IsAllow(r.action) && Names(r, name));
    if (parent_allows) seen[name].name = name;
    return parent_allows;
  };
  for (const auto& name : options.runtime_syscalls) add_unobserved(name);
  std::vector<std::string> floor_added;
  if (options.libc_floor)
    for (const auto& name : LibcFloorSyscalls())
      if (add_unobserved(name)) floor_added.push_back(name);

  // A syscall the parent decides only through one plain allow rule (no conditions, no
  // other rule naming it) may get our argument conditions: any narrowing of an
  // unconditional allow is a subset. Otherwise the parent's own rules for it are copied
  // verbatim, which keeps exactly the parent's decisions for that syscall.
  std::vector<std::string> plain;
  for (const auto& [name, o] : seen) {
    std::vector<const policy::SyscallRule*> rules;
    for (const auto& r : parent.syscalls)
      if (Names(r, name)) rules.push_back(&r);
    const bool parent_plain_allow =
        (rules.size() == 1 && IsAllow(rules[0]->action) && rules[0]->args.empty()) ||
        (rules.empty() && IsAllow(parent.default_action));
    auto conds = ConditionsFor(o, options);
    if (!parent_plain_allow) {
      // Our conditions AND each of the parent's allow rules, with the parent's denials
      // kept as they are: under "most restrictive matching rule wins" that allows a
      // subset of what the parent allows. Without conditions of our own: a copy.
      auto narrowed = Narrow(conds, rules);
      for (const policy::SyscallRule* r : rules) {
        if (!narrowed.empty() && IsAllow(r->action)) continue;
        policy::SyscallRule copy = *r;
        copy.names = {name};
        p.syscalls.push_back(std::move(copy));
      }
      if (!narrowed.empty()) out.conditioned.push_back(name);
      for (auto& c : narrowed) {
        policy::SyscallRule r;
        r.names = {name};
        r.action = policy::Action::kAllow;
        r.args = std::move(c);
        p.syscalls.push_back(std::move(r));
      }
      continue;
    }
    if (conds.empty()) {
      plain.push_back(name);
      continue;
    }
    out.conditioned.push_back(name);
    for (auto& c : conds) {
      policy::SyscallRule r;
      r.names = {name};
      r.action = policy::Action::kAllow;
      r.args = std::move(c);
      p.syscalls.push_back(std::move(r));
    }
  }
  if (!plain.empty()) {
    policy::SyscallRule r;
    r.names = plain;
    r.action = policy::Action::kAllow;
    r.comment = "learned";
    p.syscalls.insert(p.syscalls.begin(), std::move(r));
  }
  // The parent's explicit denials of syscalls we did not see stay as they are (same
  // errno), so the child never answers a call differently from the parent except by
  // denying what the parent allowed.
  for (const auto& r : parent.syscalls) {
    if (IsAllow(r.action)) continue;
    policy::SyscallRule copy = r;
    copy.names.clear();
    for (const auto& n : r.names)
      if (!seen.count(n)) copy.names.push_back(n);
    if (!copy.names.empty()) p.syscalls.push_back(std::move(copy));
  }
  // ⊆ parent by construction; the algebra checks it, and a failure is a bug in silk.
  if (auto sub = CheckSubsetOf(p, parent, "learned profile"); !sub)
    return Fail(ErrorCode::kInternal, sub.error().message());
  out.floor_added = std::move(floor_added);
  return out;
}

// Effective policies of every architecture of `p`, resolving per architecture first
// when it carries includes/excludes (ToProfile writes per-arch rules that way).
Result<std::vector<policy::EffectivePolicy>> EffectiveAll(const policy::Profile& p) {
  if (!policy::NeedsResolve(p)) return policy::MakeEffectiveAll(p);
  std::vector<policy::EffectivePolicy> out;
  for (const auto& arch : p.architectures) {
    policy::ResolveOptions o;
    o.arch = arch;
    o.caps = {};
    policy::Profile r = SILK_TRY(policy::Resolve(p, o));
    out.push_back(SILK_TRY(policy::MakeEffective(r, arch)));
  }
  return out;
}

Result<void> CheckSubsetOf(const policy::Profile& child, const policy::Profile& parent,
                           const std::string& what) {
  auto c = SILK_TRY(EffectiveAll(child));
  auto p = SILK_TRY(EffectiveAll(parent));
  policy::SubsetResult r = policy::Subset(c, p);
  if (r.subset) return {};
  std::string msg =
      what + " '" + child.meta.name + "' is not a subset of '" + parent.meta.name + "':";
  for (const auto& v : r.violations) msg += "\n  " + v.text;
  return Fail(ErrorCode::kDenied, msg);
}

Result<policy::Profile> MergeLearned(const policy::Profile& a, const policy::Profile& b,
                                     const policy::Profile& parent) {
  auto ea = SILK_TRY(EffectiveAll(a));
  auto eb = SILK_TRY(EffectiveAll(b));
  auto ep = SILK_TRY(EffectiveAll(parent));
  std::vector<policy::EffectivePolicy> merged;
  for (const auto& x : ea) {
    auto y = std::find_if(eb.begin(), eb.end(), [&](const auto& e) { return e.arch == x.arch; });
    auto z = std::find_if(ep.begin(), ep.end(), [&](const auto& e) { return e.arch == x.arch; });
    if (y == eb.end() || z == ep.end())
      return Fail(ErrorCode::kInvalidInput,
                  "merge: " + x.arch + " is not covered by both profiles and the parent");
    auto u = SILK_TRY(policy::Union(x, *y));
    merged.push_back(SILK_TRY(policy::Intersect(u, *z)));
  }
  policy::Profile out = SILK_TRY(policy::ToProfile(merged));
  out.meta.name = a.meta.name;
  out.meta.extends = a.meta.extends;
  out.meta.generation = a.meta.generation;
  out.meta.notes = a.meta.notes + "; merged with " + b.meta.name;
  return out;
}

std::string DeniedAttemptToString(const DeniedAttempt& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s(%#llx, %#llx, %#llx, %#llx, ...) pid %d x%llu -> %s",
                d.name.c_str(), (unsigned long long)d.args[0], (unsigned long long)d.args[1],
                (unsigned long long)d.args[2], (unsigned long long)d.args[3], int(d.pid),
                (unsigned long long)d.count, policy::VerdictToString(d.verdict).c_str());
  return buf;
}

}  // namespace silk::tighten
