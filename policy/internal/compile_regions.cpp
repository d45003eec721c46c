#include "policy/internal/compile_regions.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "policy/effective.hpp"

namespace silk::policy::internal {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

// A ternary pattern: the values x with (x & mask) == value (value is within mask).
struct Pattern {
  uint64_t mask;
  uint64_t value;
  friend bool operator==(const Pattern&, const Pattern&) = default;
};

// An alternative for one argument: a single comparison, or none (unconstrained).
using Alt = std::optional<ArgCondition>;

std::vector<Pattern> IntervalPatterns(uint64_t lo, uint64_t hi) {
  std::vector<Pattern> out;
  while (true) {
    // The largest aligned block starting at lo that stays within [lo, hi].
    int k = 0;
    while (k < 63) {
      uint64_t size = uint64_t{1} << (k + 1);
      if ((lo & (size - 1)) != 0 || hi - lo < size - 1) break;
      ++k;
    }
    if (k == 63 && lo == 0 && hi == kMax) return {{0, 0}};
    uint64_t block_mask = (k == 0) ? 0 : ((uint64_t{1} << k) - 1);
    out.push_back({~block_mask, lo});
    uint64_t last = lo | block_mask;
    if (last >= hi) break;
    lo = last + 1;
  }
  return out;
}

std::vector<Pattern> PatternsOf(const ArgCondition& c) {
  uint64_t v = c.value;
  switch (c.op) {
    case ArgOp::kEqualTo:
      return {{kMax, v}};
    case ArgOp::kNotEqual: {
      std::vector<Pattern> out;
      for (int i = 0; i < 64; ++i) {
        uint64_t bit = uint64_t{1} << i;
        out.push_back({bit, ~v & bit});
      }
      return out;
    }
    case ArgOp::kLessThan:
      return v == 0 ? std::vector<Pattern>{} : IntervalPatterns(0, v - 1);
    case ArgOp::kLessEqual:
      return IntervalPatterns(0, v);
    case ArgOp::kGreaterThan:
      return v == kMax ? std::vector<Pattern>{} : IntervalPatterns(v + 1, kMax);
    case ArgOp::kGreaterEqual:
      return IntervalPatterns(v, kMax);
    case ArgOp::kMaskedEqual:
      if (c.value_two & ~c.value) return {};
      return {{c.value, c.value_two}};
  }
  return {};
}

std::optional<Pattern> Intersect(const Pattern& p, const Pattern& q) {
  if ((p.value ^ q.value) & p.mask & q.mask) return std::nullopt;
  return Pattern{p.mask | q.mask, p.value | q.value};
}

// p is contained in q.
bool Within(const Pattern& p, const Pattern& q) {
  return (q.mask & ~p.mask) == 0 && (p.value & q.mask) == q.value;
}

std::vector<Pattern> IntersectLists(const std::vector<Pattern>& a, const std::vector<Pattern>& b) {
  std::vector<Pattern> out;
  for (const auto& p : a)
    for (const auto& q : b)
      if (auto r = Intersect(p, q)) out.push_back(*r);
  // Drop patterns contained in another (keeps the union, shrinks the list).
  std::vector<Pattern> kept;
  for (size_t i = 0; i < out.size(); ++i) {
    bool redundant = false;
    for (size_t j = 0; j < out.size() && !redundant; ++j) {
      if (i == j || !Within(out[i], out[j])) continue;
      redundant = !(out[i] == out[j]) || j < i;
    }
    if (!redundant) kept.push_back(out[i]);
  }
  return kept;
}

Alt PatternToAlt(unsigned index, const Pattern& p) {
  if (p.mask == 0) return std::nullopt;
  if (p.mask == kMax) return ArgCondition{index, p.value, 0, ArgOp::kEqualTo};
  return ArgCondition{index, p.mask, p.value, ArgOp::kMaskedEqual};
}

// Depth-first search for one value pattern satisfying every condition of `cs`.
bool PatternSearch(const std::vector<std::vector<Pattern>>& alts, size_t i, const Pattern& acc) {
  if (i == alts.size()) return true;
  for (const auto& p : alts[i])
    if (auto r = Intersect(acc, p); r && PatternSearch(alts, i + 1, *r)) return true;
  return false;
}

bool SatisfiableByPatterns(const std::vector<ArgCondition>& cs) {
  std::vector<std::vector<Pattern>> alts;
  for (const auto& c : cs) alts.push_back(PatternsOf(c));
  // Most constrained first: fewer alternatives prune more.
  std::sort(alts.begin(), alts.end(),
            [](const auto& x, const auto& y) { return x.size() < y.size(); });
  return PatternSearch(alts, 0, Pattern{0, 0});
}

std::vector<Alt> ByPatterns(unsigned index, const std::vector<ArgCondition>& cs) {
  std::vector<Pattern> acc = {{0, 0}};
  for (const auto& c : cs) {
    acc = IntersectLists(acc, PatternsOf(c));
    if (acc.empty()) return {};
  }
  std::vector<Alt> out;
  for (const auto& p : acc) out.push_back(PatternToAlt(index, p));
  return out;
}

// Alternatives (a union) equivalent to the conjunction `cs` on argument `index`; empty
// if unsatisfiable.
std::vector<Alt> NormalizeArg(unsigned index, std::vector<ArgCondition> cs) {
  std::sort(cs.begin(), cs.end());
  cs.erase(std::unique(cs.begin(), cs.end()), cs.end());
  for (const auto& c : cs)
    if (c.op == ArgOp::kMaskedEqual && (c.value_two & ~c.value)) return {};
  for (const auto& c : cs) {
    if (c.op != ArgOp::kEqualTo) continue;
    for (const auto& o : cs)
      if (!ConditionHolds(o, c.value)) return {};
    return {c};
  }
  if (cs.empty()) return {std::nullopt};
  if (cs.size() == 1) {
    const auto& c = cs[0];
    if (c.op == ArgOp::kMaskedEqual && c.value == 0) return {std::nullopt};
    if ((c.op == ArgOp::kLessThan && c.value == 0) ||
        (c.op == ArgOp::kGreaterThan && c.value == kMax))
      return {};
    return {c};
  }
  bool ranges = std::all_of(cs.begin(), cs.end(),
                            [](const ArgCondition& c) { return c.op != ArgOp::kMaskedEqual; });
  if (ranges) {
    uint64_t lo = 0, hi = kMax;
    std::vector<uint64_t> holes;
    for (const auto& c : cs) {
      switch (c.op) {
        case ArgOp::kLessThan:
          if (c.value == 0) return {};
          hi = std::min(hi, c.value - 1);
          break;
        case ArgOp::kLessEqual:
          hi = std::min(hi, c.value);
          break;
        case ArgOp::kGreaterThan:
          if (c.value == kMax) return {};
          lo = std::max(lo, c.value + 1);
          break;
        case ArgOp::kGreaterEqual:
          lo = std::max(lo, c.value);
          break;
        case ArgOp::kNotEqual:
          holes.push_back(c.value);
          break;
        default:
          break;
      }
    }
    if (lo > hi) return {};
    std::erase_if(holes, [&](uint64_t h) { return h < lo || h > hi; });
    std::sort(holes.begin(), holes.end());
    holes.erase(std::unique(holes.begin(), holes.end()), holes.end());
    if (lo == 0 && hi == kMax && holes.size() == 1)
      return {ArgCondition{index, holes[0], 0, ArgOp::kNotEqual}};
    // The interval minus the holes: the pieces between holes, each as one comparison
    // where one suffices, else as aligned blocks.
    std::vector<Alt> out;
    auto piece = [&](uint64_t a, uint64_t b) {
      if (a == b) {
        out.push_back(ArgCondition{index, a, 0, ArgOp::kEqualTo});
      } else if (a == 0 && b == kMax) {
        out.push_back(std::nullopt);
      } else if (a == 0) {
        out.push_back(ArgCondition{index, b, 0, ArgOp::kLessEqual});
      } else if (b == kMax) {
        out.push_back(ArgCondition{index, a, 0, ArgOp::kGreaterEqual});
      } else {
        for (const auto& p : IntervalPatterns(a, b)) out.push_back(PatternToAlt(index, p));
      }
    };
    uint64_t start = lo;
    bool open = true;  // [start, ...] still to be emitted
    for (uint64_t h : holes) {
      if (h > start) piece(start, h - 1);
      if (h == kMax) {
        open = false;
        break;
      }
      start = h + 1;
    }
    if (open && start <= hi) piece(start, hi);
    return out;
  } else {
    bool masked = std::all_of(cs.begin(), cs.end(),
                              [](const ArgCondition& c) { return c.op == ArgOp::kMaskedEqual; });
    if (masked) {
      Pattern acc{0, 0};
      for (const auto& c : cs) {
        auto r = Intersect(acc, Pattern{c.value, c.value_two});
        if (!r) return {};
        acc = *r;
      }
      return {PatternToAlt(index, acc)};
    }
  }
  return ByPatterns(index, cs);
}

std::map<unsigned, std::vector<ArgCondition>> ByArg(const Term& t) {
  std::map<unsigned, std::vector<ArgCondition>> out;
  for (const auto& c : t) out[c.index].push_back(c);
  return out;
}

// The complement of one condition, as a union of single conditions.
std::vector<ArgCondition> Negate(const ArgCondition& c) {
  ArgCondition n = c;
  switch (c.op) {
    case ArgOp::kEqualTo:
      n.op = ArgOp::kNotEqual;
      return {n};
    case ArgOp::kNotEqual:
      n.op = ArgOp::kEqualTo;
      return {n};
    case ArgOp::kLessThan:
      n.op = ArgOp::kGreaterEqual;
      return {n};
    case ArgOp::kLessEqual:
      n.op = ArgOp::kGreaterThan;
      return {n};
    case ArgOp::kGreaterThan:
      n.op = ArgOp::kLessEqual;
      return {n};
    case ArgOp::kGreaterEqual:
      n.op = ArgOp::kLessThan;
      return {n};
    case ArgOp::kMaskedEqual: {
      if (c.value_two & ~c.value) return {ArgCondition{c.index, 0, 0, ArgOp::kMaskedEqual}};
      // Disjoint, by the lowest masked bit that differs: "bits below i as in v, bit i
      // not". Subtracting k values then costs O(k x mask bits) terms (the complement
      // of k leaves of a binary trie), where overlapping "bit i differs" terms
      // multiplied with every further subtraction.
      std::vector<ArgCondition> out;
      uint64_t below = 0;
      for (int i = 0; i < 64; ++i) {
        uint64_t bit = uint64_t{1} << i;
        if (!(c.value & bit)) continue;
        out.push_back(ArgCondition{c.index, below | bit,
                                   (c.value_two & below) | (~c.value_two & bit),
                                   ArgOp::kMaskedEqual});
        below |= bit;
      }
      return out;
    }
  }
  return {};
}

Term Concat(const Term& a, const Term& b) {
  Term out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Drops conditions of `t` that repeat and merges the conditions on one argument into a
// single comparison where one suffices; keeps terms readable and small.
Term Simplify(Term t) {
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  Term out;
  size_t i = 0;
  while (i < t.size()) {
    size_t j = i;
    while (j < t.size() && t[j].index == t[i].index) ++j;
    if (j - i == 1) {
      out.push_back(t[i]);
    } else {
      std::vector<ArgCondition> cs(t.begin() + i, t.begin() + j);
      bool cheap = std::none_of(cs.begin(), cs.end(),
                                [](const ArgCondition& c) { return c.op == ArgOp::kMaskedEqual; });
      std::vector<Alt> alts = cheap ? NormalizeArg(t[i].index, cs) : std::vector<Alt>{};
      if (alts.size() == 1) {
        if (alts[0]) out.push_back(*alts[0]);
      } else {
        out.insert(out.end(), cs.begin(), cs.end());
      }
    }
    i = j;
  }
  return out;
}

}  // namespace

namespace {
// x != v as (x < v) or (x > v): libseccomp 2.5 merges an NE node with an EQ node of the
// same datum (it implements NE as EQ with swapped branches) and can drop the whole
// NE chain when it is added after the EQ chain; two range chains do not trigger that.
std::vector<Term> WithoutNotEqual(const Term& term) {
  std::vector<Term> out = {{}};
  for (const auto& c : term) {
    std::vector<ArgCondition> alts;
    if (c.op != ArgOp::kNotEqual) {
      alts.push_back(c);
    } else {
      if (c.value != 0) alts.push_back({c.index, c.value, 0, ArgOp::kLessThan});
      if (c.value != UINT64_MAX) alts.push_back({c.index, c.value, 0, ArgOp::kGreaterThan});
    }
    std::vector<Term> next;
    for (const auto& prefix : out) {
      for (const auto& alt : alts) {
        Term t = prefix;
        t.push_back(alt);
        next.push_back(std::move(t));
      }
    }
    out = std::move(next);
  }
  return out;
}

}  // namespace

// The rules of one syscall as disjoint regions, most restrictive verdict first.
Result<std::vector<std::pair<Verdict, std::vector<Term>>>> Regions(const SyscallPolicy& sp,
                                                                   size_t limit) {
  std::vector<Verdict> verdicts;
  for (const auto& r : sp.rules)
    if (std::find(verdicts.begin(), verdicts.end(), r.verdict) == verdicts.end())
      verdicts.push_back(r.verdict);
  std::sort(verdicts.begin(), verdicts.end(), MoreRestrictive);

  std::vector<std::pair<Verdict, std::vector<Term>>> out;
  std::vector<Term> stronger;  // terms of more restrictive verdicts
  for (const auto& v : verdicts) {
    std::vector<Term> region;
    for (const auto& r : sp.rules)
      if (r.verdict == v) region.push_back(r.args);
    std::vector<Term> own = region;
    for (const auto& s : stronger) {
      region = Subtract(region, s);
      if (region.size() > limit)
        return Fail(ErrorCode::kUnsupported,
                    "syscall " + sp.name + ": overlapping rules need more than " +
                        std::to_string(limit) + " libseccomp rules; simplify them");
    }
    stronger.insert(stronger.end(), own.begin(), own.end());
    // Disjoint within the verdict too: libseccomp 2.5's tree insertion can loop on
    // overlapping chains with range comparisons (seen with LT/GE mixes), and redundant
    // chains only cost instructions.
    std::vector<Term> disjoint;
    for (const auto& t : region) {
      std::vector<Term> rest = {t};
      for (const auto& d : disjoint) rest = Subtract(rest, d);
      disjoint.insert(disjoint.end(), rest.begin(), rest.end());
      if (disjoint.size() > limit)
        return Fail(ErrorCode::kUnsupported,
                    "syscall " + sp.name + ": overlapping rules need more than " +
                        std::to_string(limit) + " libseccomp rules; simplify them");
    }
    out.emplace_back(v, std::move(disjoint));
  }
  return out;
}

bool Satisfiable(const Term& t) {
  for (auto& [index, cs] : ByArg(t)) {
    bool ranges = std::all_of(cs.begin(), cs.end(), [](const ArgCondition& c) {
      return c.op != ArgOp::kMaskedEqual && c.op != ArgOp::kEqualTo;
    });
    if (!ranges) {
      if (!SatisfiableByPatterns(cs)) return false;
      continue;
    }
    // An interval minus some holes is empty only if the holes fill it.
    uint64_t lo = 0, hi = kMax;
    std::vector<uint64_t> holes;
    for (const auto& c : cs) {
      if (c.op == ArgOp::kLessThan) {
        if (c.value == 0) return false;
        hi = std::min(hi, c.value - 1);
      } else if (c.op == ArgOp::kLessEqual) {
        hi = std::min(hi, c.value);
      } else if (c.op == ArgOp::kGreaterThan) {
        if (c.value == kMax) return false;
        lo = std::max(lo, c.value + 1);
      } else if (c.op == ArgOp::kGreaterEqual) {
        lo = std::max(lo, c.value);
      } else {
        holes.push_back(c.value);
      }
    }
    if (lo > hi) return false;
    std::erase_if(holes, [&](uint64_t h) { return h < lo || h > hi; });
    std::sort(holes.begin(), holes.end());
    holes.erase(std::unique(holes.begin(), holes.end()), holes.end());
    if (hi - lo < holes.size()) return false;  // hi - lo + 1 values, all holes
  }
  return true;
}

Result<std::vector<Term>> Expressible(const Term& t, size_t limit) {
  std::vector<Term> out = {{}};
  for (auto& [index, cs] : ByArg(t)) {
    std::vector<Alt> alts = NormalizeArg(index, cs);
    if (alts.empty()) return std::vector<Term>{};
    if (out.size() * alts.size() > limit)
      return Fail(ErrorCode::kUnsupported,
                  "argument conditions on arg" + std::to_string(index) + " need more than " +
                      std::to_string(limit) +
                      " libseccomp rules to compile exactly; simplify them");
    std::vector<Term> next;
    for (const auto& prefix : out) {
      for (const auto& alt : alts) {
        Term n = prefix;
        if (alt) n.push_back(*alt);
        next.push_back(std::move(n));
      }
    }
    out = std::move(next);
  }
  return out;
}

std::vector<Term> Subtract(const std::vector<Term>& a, const Term& b) {
  std::vector<Term> out;
  for (const auto& ta : a) {
    if (!Satisfiable(Concat(ta, b))) {
      out.push_back(ta);
      continue;
    }
    Term prefix = ta;
    for (const auto& cb : b) {
      for (const auto& neg : Negate(cb)) {
        Term t = prefix;
        t.push_back(neg);
        if (Satisfiable(t)) out.push_back(Simplify(std::move(t)));
      }
      prefix.push_back(cb);
    }
  }
  return out;
}

Result<std::vector<Chain>> SyscallChains(const SyscallPolicy& sp,
                                         uint32_t (*action_of)(const Verdict&, bool),
                                         bool notify_denials, uint32_t default_action,
                                         size_t limit) {
  auto regions = SILK_TRY(Regions(sp, limit));
  std::vector<Chain> chains;
  for (const auto& [verdict, terms] : regions) {
    uint32_t action = action_of(verdict, notify_denials);
    if (action == default_action || terms.empty()) continue;
    bool unconditional =
        std::any_of(terms.begin(), terms.end(), [](const Term& t) { return t.empty(); });
    if (unconditional) {
      chains.push_back({action, {}});
      continue;
    }
    for (const auto& term : terms) {
      auto pieces = SILK_TRY(Expressible(term, limit));
      for (const auto& piece : pieces)
        for (auto& simple : WithoutNotEqual(piece)) chains.push_back({action, std::move(simple)});
      if (chains.size() > limit)
        return Fail(ErrorCode::kUnsupported,
                    "the argument conditions need more than " + std::to_string(limit) +
                        " libseccomp rules to compile exactly; use fewer overlapping rules");
    }
  }
  return chains;
}

}  // namespace silk::policy::internal
