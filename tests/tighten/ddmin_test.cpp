// ddmin on synthetic oracles: the result is the needed set, 1-minimal, deterministic
// for any number of workers, with a cache, a flaky check and ddmin's log behaviour.
#include "tighten/ddmin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>

namespace silk::tighten {
namespace {

// Passes when every item of `needed` is kept.
DdminOracle NeedsAll(std::set<size_t> needed, std::atomic<size_t>* calls = nullptr) {
  return [needed, calls](const std::vector<size_t>& kept) -> Result<bool> {
    if (calls) ++*calls;
    for (size_t x : needed)
      if (!std::binary_search(kept.begin(), kept.end(), x)) return false;
    return true;
  };
}

TEST(Ddmin, FindsExactlyTheNeededItems) {
  std::set<size_t> needed = {3, 17, 18, 64, 99};
  auto r = Ddmin(100, NeedsAll(needed));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(std::set<size_t>(r->kept.begin(), r->kept.end()), needed);
  EXPECT_EQ(r->removed.size(), 95u);
  EXPECT_TRUE(r->one_minimal);
  EXPECT_EQ(r->flaky_candidates, 0u);
}

TEST(Ddmin, EmptyResultWhenNothingIsNeeded) {
  auto r = Ddmin(10, NeedsAll({}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->kept.empty());
  EXPECT_TRUE(r->one_minimal);
}

TEST(Ddmin, RefusesWhenTheFullSetFails) {
  auto r = Ddmin(10, [](const std::vector<size_t>&) -> Result<bool> { return false; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("nothing to preserve"), std::string::npos);
}

TEST(Ddmin, OracleErrorsAbort) {
  auto r = Ddmin(10, [](const std::vector<size_t>& kept) -> Result<bool> {
    if (kept.size() < 10) return Fail(ErrorCode::kNotFound, "oracle vanished");
    return true;
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST(Ddmin, DeterministicForAnyNumberOfWorkers) {
  // An oracle with alternatives: either {1,2} or {5} or {40..44} suffices.
  auto oracle = [](const std::vector<size_t>& k) -> Result<bool> {
    auto has = [&](size_t x) { return std::binary_search(k.begin(), k.end(), x); };
    bool all40 = true;
    for (size_t x = 40; x < 45; ++x) all40 = all40 && has(x);
    return (has(1) && has(2)) || has(5) || all40;
  };
  auto one = Ddmin(64, oracle, {.jobs = 1});
  auto four = Ddmin(64, oracle, {.jobs = 4});
  ASSERT_TRUE(one && four);
  EXPECT_EQ(one->kept, four->kept);
  EXPECT_TRUE(one->one_minimal);
  EXPECT_TRUE(four->one_minimal);
}

TEST(Ddmin, CacheAvoidsRetesting) {
  std::atomic<size_t> calls = 0;
  auto r = Ddmin(32, NeedsAll({0, 31}, &calls), {.confirm_runs = 0});
  ASSERT_TRUE(r);
  EXPECT_EQ(calls.load(), r->oracle_runs);
  // The 1-minimality proof re-asks candidates ddmin already tested.
  EXPECT_GT(r->cache_hits, 0u);
}

TEST(Ddmin, FlakyPassIsNotBelieved) {
  // The oracle needs item 7, but passes spuriously on every third call.
  std::atomic<size_t> calls = 0;
  auto oracle = [&](const std::vector<size_t>& k) -> Result<bool> {
    size_t c = ++calls;
    if (std::binary_search(k.begin(), k.end(), size_t{7})) return true;
    return c % 3 == 0;
  };
  auto r = Ddmin(16, oracle, {.confirm_runs = 2});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(std::binary_search(r->kept.begin(), r->kept.end(), size_t{7}));
  EXPECT_GT(r->flaky_candidates, 0u);
}

TEST(Ddmin, RunLimitStops) {
  auto r = Ddmin(64, NeedsAll({1, 9, 33}), {.max_oracle_runs = 5});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
}

// ddmin needs O(k log n) runs for k independent needed items among n: print the
// numbers and check the growth in n is logarithmic, not linear.
TEST(Ddmin, OracleRunsGrowLogarithmicallyInN) {
  std::mt19937 rng(42);
  size_t prev = 0;
  for (size_t n : {64, 256, 1024}) {
    std::set<size_t> needed;
    while (needed.size() < 4) needed.insert(rng() % n);
    auto r = Ddmin(n, NeedsAll(needed), {.confirm_runs = 0});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kept.size(), 4u);
    std::printf("n=%zu k=4 oracle runs=%zu\n", n, r->oracle_runs);
    // Each 4x step in n adds a bounded number of runs (linear growth would be 4x).
    if (prev) {
      EXPECT_LT(r->oracle_runs, prev * 3 / 2);
    }
    prev = r->oracle_runs;
  }
}

}  // namespace
}  // namespace silk::tighten
