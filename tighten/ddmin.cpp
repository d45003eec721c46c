#include "tighten/ddmin.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "base/parallel.hpp"

namespace silk::tighten {
namespace {

using Subset = std::vector<size_t>;

class Tester {
 public:
  Tester(const DdminOracle& oracle, const DdminOptions& options)
      : oracle_(oracle), options_(options) {}

  // Tests `candidates` in order on `jobs` workers; returns the index of the first that
  // passes, or nullopt if none does. Each worker takes the next untested candidate as
  // soon as it is free (a slow passing run does not hold up the other workers); no
  // candidate after a known pass is started, and the answer is the lowest passing index
  // once every candidate before it has failed, as the sequential algorithm would find.
  // Candidates tested beyond it only fill the cache.
  Result<std::optional<size_t>> FirstPassing(const std::vector<Subset>& candidates) {
    std::vector<std::optional<Result<bool>>> verdicts(candidates.size());
    std::mutex mu;
    size_t stop_at = candidates.size();  // no candidate from here on needs testing
    // Errors are verdicts here (the first one in candidate order wins below), so the
    // fan-out itself never fails.
    (void)ParallelFor(static_cast<int>(options_.jobs), candidates.size(),
                      [&](size_t i) -> Result<void> {
                        {
                          std::lock_guard<std::mutex> lock(mu);
                          if (i >= stop_at) return {};
                        }
                        auto cached = Lookup(candidates[i]);
                        Result<bool> v = cached ? Result<bool>(*cached) : Test(candidates[i]);
                        std::lock_guard<std::mutex> lock(mu);
                        if (!v || *v) stop_at = std::min(stop_at, i + 1);
                        verdicts[i] = std::move(v);
                        return {};
                      });
    for (size_t i = 0; i < candidates.size() && verdicts[i]; ++i) {
      auto& v = *verdicts[i];
      if (!v) return tl::unexpected<Error>(v.error());
      if (*v) return std::optional<size_t>(i);
    }
    return std::optional<size_t>();
  }

  // Tests every candidate (cache first) on `jobs` workers; the verdicts in order.
  Result<std::vector<bool>> TestAll(const std::vector<Subset>& candidates) {
    std::vector<bool> out(candidates.size(), false);
    // FirstPassing stops at a pass; call it again for what comes after.
    size_t base = 0;
    while (base < candidates.size()) {
      std::vector<Subset> tail(candidates.begin() + static_cast<long>(base), candidates.end());
      auto hit = SILK_TRY(FirstPassing(tail));
      if (!hit) break;
      out[base + *hit] = true;
      base += *hit + 1;
    }
    return out;
  }

  Result<bool> TestOne(const Subset& s) {
    if (auto cached = Lookup(s)) return *cached;
    return Test(s);
  }

  size_t runs() const { return runs_; }
  size_t hits() const { return hits_; }
  size_t flaky() const { return flaky_; }

 private:
  std::optional<bool> Lookup(const Subset& s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(s);
    if (it == cache_.end()) return std::nullopt;
    ++hits_;
    return it->second;
  }

  Result<bool> RunOracle(const Subset& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (options_.max_oracle_runs && runs_ >= options_.max_oracle_runs)
        return Fail(ErrorCode::kTimeout, "minimisation stopped after " + std::to_string(runs_) +
                                             " oracle runs (the limit); raise the limit");
      ++runs_;
    }
    return oracle_(s);
  }

  Result<bool> Test(const Subset& s) {
    bool pass = SILK_TRY(RunOracle(s));
    if (pass) {
      for (unsigned r = 0; r < options_.confirm_runs; ++r) {
        bool again = SILK_TRY(RunOracle(s));
        if (!again) {
          pass = false;
          std::lock_guard<std::mutex> lock(mu_);
          ++flaky_;
          break;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    cache_[s] = pass;
    return pass;
  }

  const DdminOracle& oracle_;
  const DdminOptions& options_;
  std::mutex mu_;
  std::map<Subset, bool> cache_;
  size_t runs_ = 0;
  size_t hits_ = 0;
  size_t flaky_ = 0;
};

// Splits `c` into `n` contiguous parts of near-equal size (Zeller's split).
std::vector<Subset> Split(const Subset& c, size_t n) {
  std::vector<Subset> parts;
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t end = start + (c.size() - start) / (n - i);
    parts.emplace_back(c.begin() + static_cast<long>(start), c.begin() + static_cast<long>(end));
    start = end;
  }
  return parts;
}

Subset Minus(const Subset& c, const Subset& part) {
  Subset out;
  std::set_difference(c.begin(), c.end(), part.begin(), part.end(), std::back_inserter(out));
  return out;
}

}  // namespace

Result<DdminResult> Ddmin(size_t n, const DdminOracle& oracle, const DdminOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  Tester tester(oracle, options);
  Subset c(n);
  for (size_t i = 0; i < n; ++i) c[i] = i;

  if (!options.assume_full_passes) {
    bool full = SILK_TRY(tester.TestOne(c));
    if (!full)
      return Fail(ErrorCode::kInvalidInput,
                  "the oracle fails with all " + std::to_string(n) +
                      " items kept (under the unrestricted parent), so there is nothing to "
                      "preserve; fix the oracle or the parent first");
  }

  size_t granularity = 2;
  while (c.size() >= 2) {
    granularity = std::min(granularity, c.size());
    auto parts = Split(c, granularity);
    // Reduce to a subset.
    auto hit = SILK_TRY(tester.FirstPassing(parts));
    if (hit) {
      c = parts[*hit];
      granularity = 2;
      continue;
    }
    // Reduce to a complement (for n == 2 the complements are the subsets again).
    if (granularity > 2) {
      std::vector<Subset> complements;
      for (const auto& p : parts) complements.push_back(Minus(c, p));
      hit = SILK_TRY(tester.FirstPassing(complements));
      if (hit) {
        c = complements[*hit];
        granularity = std::max<size_t>(granularity - 1, 2);
        continue;
      }
    }
    if (granularity >= c.size()) break;
    granularity = std::min(granularity * 2, c.size());
  }
  if (c.size() == 1) {
    bool empty_passes = SILK_TRY(tester.TestOne({}));
    if (empty_passes) c.clear();
  }

  // 1-minimality: every single-item removal must fail (mostly answered by the cache).
  DdminResult result;
  result.one_minimal = true;
  std::vector<Subset> removals;
  for (size_t item : c) removals.push_back(Minus(c, {item}));
  for (bool pass : SILK_TRY(tester.TestAll(removals)))
    if (pass) result.one_minimal = false;

  result.kept = c;
  Subset all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  result.removed = Minus(all, c);
  result.oracle_runs = tester.runs();
  result.cache_hits = tester.hits();
  result.flaky_candidates = tester.flaky();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace silk::tighten
