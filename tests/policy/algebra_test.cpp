#include "policy/algebra.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <random>

#include <seccomp.h>

#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

const Verdict kAllow{Action::kAllow, 0};
const Verdict kEperm{Action::kErrno, EPERM};

EffectivePolicy Policy(Verdict def = kEperm) {
  EffectivePolicy ep;
  ep.arch = "SCMP_ARCH_X86_64";
  ep.default_verdict = def;
  return ep;
}

void Add(EffectivePolicy& ep, int nr, Verdict v, std::vector<ArgCondition> args = {}) {
  auto& sp = ep.syscalls[nr];
  sp.nr = nr;
  sp.name = SyscallName(nr, SCMP_ARCH_X86_64).value();
  sp.rules.push_back({std::move(args), v});
}

ArgCondition A(unsigned i, ArgOp op, uint64_t v, uint64_t v2 = 0) { return {i, v, v2, op}; }

TEST(Algebra, ArgumentConditionsAreComparedExactly) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow, {A(0, ArgOp::kLessEqual, 10)});
  EffectivePolicy child = Policy();
  Add(child, SYS_read, kAllow, {A(0, ArgOp::kEqualTo, 5)});
  EXPECT_TRUE(Subset(child, parent).subset);

  child = Policy();
  Add(child, SYS_read, kAllow, {A(0, ArgOp::kLessThan, 12)});
  auto r = Subset(child, parent);
  ASSERT_FALSE(r.subset);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].syscall, "read");
  EXPECT_EQ(r.violations[0].rule, 0);
  EXPECT_NE(r.violations[0].arguments.find("arg0"), std::string::npos) << r.violations[0].text;

  child = Policy();
  Add(child, SYS_read, kAllow, {A(0, ArgOp::kNotEqual, 3)});
  EXPECT_FALSE(Subset(child, parent).subset);

  // A child condition on another argument does not make it smaller in a0.
  child = Policy();
  Add(child, SYS_read, kAllow, {A(1, ArgOp::kEqualTo, 0)});
  EXPECT_FALSE(Subset(child, parent).subset);
}

TEST(Algebra, MaskedEqualAndUnionsOfRules) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow, {A(1, ArgOp::kMaskedEqual, 0xff, 0x10)});
  EffectivePolicy child = Policy();
  Add(child, SYS_read, kAllow, {A(1, ArgOp::kEqualTo, 0x110)});
  EXPECT_TRUE(Subset(child, parent).subset);
  child = Policy();
  Add(child, SYS_read, kAllow, {A(1, ArgOp::kMaskedEqual, 0xf, 0)});
  EXPECT_FALSE(Subset(child, parent).subset);

  // Two parent rules whose union is everything cover an unconditional child allow.
  parent = Policy();
  Add(parent, SYS_read, kAllow, {A(0, ArgOp::kLessThan, 5)});
  Add(parent, SYS_read, kAllow, {A(0, ArgOp::kGreaterEqual, 5)});
  child = Policy();
  Add(child, SYS_read, kAllow);
  EXPECT_TRUE(Subset(child, parent).subset);
  // A gap of one value is found.
  parent.syscalls[SYS_read].rules[1].args[0].value = 6;
  auto r = Subset(child, parent);
  ASSERT_FALSE(r.subset);
  EXPECT_EQ(r.violations[0].arguments, "arg0 == 5");
}

TEST(Algebra, MostRestrictiveRuleOfTheParentCounts) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow);
  Add(parent, SYS_read, kEperm, {A(0, ArgOp::kEqualTo, 1)});
  EffectivePolicy child = Policy();
  Add(child, SYS_read, kAllow, {A(0, ArgOp::kLessEqual, 1)});
  auto r = Subset(child, parent);
  ASSERT_FALSE(r.subset);
  EXPECT_NE(r.violations[0].text.find("errno(EPERM)"), std::string::npos) << r.violations[0].text;
  // The child may deny arg0 == 1 itself.
  Add(child, SYS_read, {Action::kKillProcess, 0}, {A(0, ArgOp::kEqualTo, 1)});
  EXPECT_TRUE(Subset(child, parent).subset);
}

TEST(Algebra, DefaultsThatAllowCount) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow);
  EffectivePolicy child = Policy(kAllow);
  auto r = Subset(child, parent);
  EXPECT_FALSE(r.subset);
  bool mentions_default = false;
  for (const auto& v : r.violations)
    mentions_default |= v.text.find("default") != std::string::npos;
  EXPECT_TRUE(mentions_default);

  // Both default-allow: the child must deny what the parent denies.
  parent = Policy(kAllow);
  Add(parent, SYS_ptrace, kEperm);
  child = Policy(kAllow);
  r = Subset(child, parent);
  ASSERT_FALSE(r.subset);
  EXPECT_EQ(r.violations[0].syscall, "ptrace");
  EXPECT_EQ(r.violations[0].rule, -1);
  Add(child, SYS_ptrace, {Action::kErrno, EACCES});
  EXPECT_TRUE(Subset(child, parent).subset);
}

TEST(Algebra, DifferingErrnosAreADiffNotAViolation) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow, {A(0, ArgOp::kEqualTo, 0)});
  EffectivePolicy child = Policy({Action::kErrno, EACCES});
  Add(child, SYS_read, kAllow, {A(0, ArgOp::kEqualTo, 0)});
  EXPECT_TRUE(Subset(child, parent).subset);
  auto d = Diff(parent, child);
  ASSERT_TRUE(d);
  ASSERT_FALSE(d->empty());
  EXPECT_EQ((*d)[0].syscall, "");
  EXPECT_TRUE(Diff(parent, parent)->empty());
}

TEST(Algebra, NotifyIsMaybeAllowed) {
  EffectivePolicy parent = Policy();
  Add(parent, SYS_read, kAllow);
  EffectivePolicy child = Policy();
  Add(child, SYS_read, {Action::kNotify, 0});
  EXPECT_TRUE(Subset(child, parent).subset);
  EXPECT_FALSE(Subset(parent, child).subset);  // allow is not within notify
  EXPECT_TRUE(Subset(child, child).subset);
}

TEST(Algebra, DiffKinds) {
  EffectivePolicy a = Policy();
  Add(a, SYS_read, kAllow);
  EffectivePolicy b = Policy();
  Add(b, SYS_read, kAllow, {A(0, ArgOp::kEqualTo, 0)});
  Add(b, SYS_ptrace, kAllow);
  auto d = Diff(a, b).value();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].kind, DiffEntry::Kind::kChanged);
  EXPECT_EQ(d[0].before, "allow");
  EXPECT_EQ(d[0].after, "allow if arg0 == 0; else errno(EPERM)");
  EXPECT_EQ(d[1].kind, DiffEntry::Kind::kAdded);
  // Semantically equal rule sets written differently are no diff.
  EffectivePolicy c = Policy();
  Add(c, SYS_read, kAllow, {A(0, ArgOp::kLessThan, 5)});
  Add(c, SYS_read, kAllow, {A(0, ArgOp::kGreaterEqual, 5)});
  EXPECT_TRUE(Diff(a, c)->empty());
}

// Random policies over a few syscalls with argument rules.
ArgCondition RandomCond(std::mt19937_64& rng) {
  static const uint64_t kVals[] = {0, 1, 2, 5, 8, 0xff, 0x100, UINT64_MAX};
  ArgCondition c;
  c.index = rng() % 2;
  c.op = static_cast<ArgOp>(rng() % 7);
  c.value = kVals[rng() % 8];
  if (c.op == ArgOp::kMaskedEqual) c.value_two = c.value & kVals[rng() % 8];
  return c;
}

Verdict RandomVerdict(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
    case 1:
      return kAllow;
    case 2:
      return {Action::kNotify, 0};
    case 3:
      return {Action::kErrno, static_cast<uint32_t>(1 + rng() % 3)};
    default:
      return {Action::kKillProcess, 0};
  }
}

EffectivePolicy RandomPolicy(std::mt19937_64& rng) {
  EffectivePolicy p = Policy(rng() % 4 == 0 ? kAllow : kEperm);
  for (int nr : {0, 1, 2, 3}) {
    int n = rng() % 4;
    for (int i = 0; i < n; ++i) {
      std::vector<ArgCondition> conds;
      int k = rng() % 3;
      for (int j = 0; j < k; ++j) conds.push_back(RandomCond(rng));
      Add(p, nr, RandomVerdict(rng), conds);
    }
  }
  return p;
}

uint64_t RandomArg(std::mt19937_64& rng) {
  static const uint64_t kVals[] = {0, 1, 2,    3,    4,     5,     6,         7,
                                   8, 9, 0xfe, 0xff, 0x100, 0x101, UINT64_MAX};
  return rng() % 4 ? kVals[rng() % 15] : rng();
}

int Class(const Verdict& v) { return Allows(v) ? 2 : v.action == Action::kNotify ? 1 : 0; }

// Q derived from P by moves that can only take permissions away.
EffectivePolicy Shrink(const EffectivePolicy& p, std::mt19937_64& rng) {
  EffectivePolicy q = p;
  if (Allows(q.default_verdict) && rng() % 3 == 0) q.default_verdict = kEperm;
  for (auto& [nr, sp] : q.syscalls) {
    for (auto it = sp.rules.begin(); it != sp.rules.end();) {
      // Only allow rules may be dropped or narrowed: a notify rule that overlaps an allow
      // rule wins over it, so removing it would let more through.
      if (Class(it->verdict) == 2 && rng() % 4 == 0) {
        it = sp.rules.erase(it);
        continue;
      }
      if (Class(it->verdict) == 2 && rng() % 4 == 0) it->args.push_back(RandomCond(rng));
      if (it->verdict.action == Action::kAllow && rng() % 5 == 0)
        it->verdict = {Action::kNotify, 0};
      ++it;
    }
    if (rng() % 3 == 0) sp.rules.push_back({{RandomCond(rng)}, {Action::kErrno, 7}});
  }
  // Dropping every rule of a syscall hands it to the default, which may allow more.
  for (auto& [nr, sp] : q.syscalls)
    if (sp.rules.empty()) sp.rules.push_back({{}, {Action::kErrno, 9}});
  return q;
}

TEST(AlgebraProperty, DerivedSubsetsAreSubsetsAndSupersetsAreNot) {
  std::mt19937_64 rng(42);
  int supersets = 0;
  for (int round = 0; round < 60; ++round) {
    EffectivePolicy p = RandomPolicy(rng);
    EffectivePolicy q = Shrink(p, rng);
    auto r = Subset(q, p);
    EXPECT_TRUE(r.subset) << "round " << round << ": " << r.violations[0].text;
    EXPECT_TRUE(Subset(p, p).subset);

    // A strict superset: allow a point that P denies.
    for (int tries = 0; tries < 20; ++tries) {
      int nr = rng() % 5;
      uint64_t args[6] = {RandomArg(rng), RandomArg(rng), 0, 0, 0, 0};
      if (Class(p.Evaluate(nr, args)) == 2) continue;
      EffectivePolicy s = p;
      if (!s.syscalls.count(nr)) {
        s.syscalls[nr].nr = nr;
        s.syscalls[nr].name = SyscallName(nr, SCMP_ARCH_X86_64).value();
      }
      // Remove the denials at that point, then allow it.
      auto& rules = s.syscalls[nr].rules;
      std::erase_if(rules, [&](const EffectiveRule& rule) {
        return Class(rule.verdict) < 2 &&
               std::all_of(rule.args.begin(), rule.args.end(),
                           [&](const ArgCondition& c) { return ConditionHolds(c, args[c.index]); });
      });
      rules.push_back({{A(0, ArgOp::kEqualTo, args[0]), A(1, ArgOp::kEqualTo, args[1])}, kAllow});
      if (Class(s.Evaluate(nr, args)) != 2) continue;  // the default still denies: skip
      ++supersets;
      EXPECT_FALSE(Subset(s, p).subset) << "round " << round;
      EXPECT_TRUE(Subset(p, s).subset || !Subset(p, s).violations.empty());
      break;
    }

    // Soundness against Evaluate on random points.
    auto rq = Subset(q, p);
    for (int k = 0; k < 30 && rq.subset; ++k) {
      int nr = rng() % 5;
      uint64_t args[6] = {RandomArg(rng), RandomArg(rng), 0, 0, 0, 0};
      int cq = Class(q.Evaluate(nr, args)), cp = Class(p.Evaluate(nr, args));
      EXPECT_TRUE(cq == 0 || (cq == 2 && cp == 2) || (cq == 1 && cp >= 1))
          << "round " << round << " nr " << nr;
    }
  }
  EXPECT_GT(supersets, 20);
}

TEST(AlgebraProperty, IntersectUnionAndToProfileArePointwise) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 15; ++round) {
    EffectivePolicy a = RandomPolicy(rng), b = RandomPolicy(rng);
    auto i = Intersect(a, b);
    auto u = Union(a, b);
    ASSERT_TRUE(i && u);
    for (int k = 0; k < 100; ++k) {
      int nr = rng() % 5;
      uint64_t args[6] = {RandomArg(rng), RandomArg(rng), 0, 0, 0, 0};
      Verdict va = a.Evaluate(nr, args), vb = b.Evaluate(nr, args);
      EXPECT_EQ(i->Evaluate(nr, args), MoreRestrictive(va, vb) ? va : vb);
      EXPECT_EQ(u->Evaluate(nr, args), MoreRestrictive(va, vb) ? vb : va);
    }
    for (auto [x, y] : {std::pair{&*i, &a}, {&*i, &b}, {&a, &*u}, {&b, &*u}}) {
      auto r = Subset(*x, *y);
      // "Too complex to compare" is the conservative answer, allowed; a proper
      // counterexample is not.
      for (const auto& v : r.violations)
        EXPECT_NE(v.text.find("too complex"), std::string::npos)
            << "round " << round << ": " << v.text;
    }

    // Back to a profile and forward again: no semantic difference. (Syscalls 0..3 are
    // read, write, open, close on x86_64.)
    auto prof = ToProfile({a});
    ASSERT_TRUE(prof) << prof.error().ToString();
    auto again = MakeEffective(*prof, a.arch);
    ASSERT_TRUE(again) << again.error().ToString();
    auto d = Diff(a, *again);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->empty()) << (*d)[0].syscall << ": " << (*d)[0].before << " vs " << (*d)[0].after;
  }
}

}  // namespace
}  // namespace silk::policy
