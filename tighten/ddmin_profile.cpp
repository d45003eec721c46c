#include "tighten/ddmin_profile.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <set>

#include "base/parallel.hpp"

namespace silk::tighten {
namespace {

bool IsAllow(policy::Action a) { return a == policy::Action::kAllow || a == policy::Action::kLog; }

// Runs the oracle once, and again `confirm` times if it passed; a pass must hold in all.
Result<bool> Confirmed(const ProfileOracle& oracle, const policy::Profile& candidate,
                       unsigned confirm, size_t* runs) {
  for (unsigned i = 0; i <= confirm; ++i) {
    ++*runs;
    if (!SILK_TRY(oracle(candidate))) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> AllowedNames(const policy::Profile& profile) {
  std::set<std::string> names;
  for (const auto& r : profile.syscalls)
    if (IsAllow(r.action)) names.insert(r.names.begin(), r.names.end());
  return {names.begin(), names.end()};
}

policy::Profile RestrictProfile(const policy::Profile& profile,
                                const std::vector<std::string>& kept,
                                const std::vector<std::string>& enosys) {
  const std::set<std::string> keep(kept.begin(), kept.end());
  const std::set<std::string> as_enosys(enosys.begin(), enosys.end());
  std::vector<std::string> removed_enosys, removed_eperm;
  for (const auto& n : AllowedNames(profile)) {
    if (keep.count(n)) continue;
    (as_enosys.count(n) ? removed_enosys : removed_eperm).push_back(n);
  }
  policy::Profile out = profile;
  out.syscalls.clear();
  for (const auto& r : profile.syscalls) {
    policy::SyscallRule copy = r;
    if (IsAllow(r.action)) {
      std::erase_if(copy.names, [&](const std::string& n) { return !keep.count(n); });
      if (copy.names.empty()) continue;
    }
    out.syscalls.push_back(std::move(copy));
  }
  // Explicit rules even where the default action would give the same errno: an unnamed
  // syscall may get ENOSYS from the horizon or the clone3 policy instead.
  auto deny = [&](const std::vector<std::string>& names, uint32_t err, const char* comment) {
    if (names.empty()) return;
    policy::SyscallRule r;
    r.names = names;
    r.action = policy::Action::kErrno;
    r.errno_ret = err;
    r.comment = comment;
    out.syscalls.push_back(std::move(r));
  };
  deny(removed_enosys, ENOSYS, "minimised: denied with ENOSYS (a fallback exists)");
  deny(removed_eperm, EPERM, "minimised: denied with EPERM");
  out.meta.extends = profile.meta.name;
  // A name of its own: a profile may not extend itself (callers rename the result).
  if (!profile.meta.name.empty()) out.meta.name = profile.meta.name + "-restricted";
  out.meta.generation = profile.meta.generation ? *profile.meta.generation + 1 : 1;
  return out;
}

Result<MinimizeResult> MinimizeProfile(const policy::Profile& profile, const ProfileOracle& oracle,
                                       const MinimizeOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> allowed = AllowedNames(profile);
  std::vector<std::string> names, pinned;
  for (const auto& n : allowed) {
    bool pin = std::find(options.pinned.begin(), options.pinned.end(), n) != options.pinned.end();
    (pin ? pinned : names).push_back(n);
  }
  auto pick = [&](const std::vector<size_t>& idx) {
    std::vector<std::string> out = pinned;
    for (size_t i : idx) out.push_back(names[i]);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto pick_removed = [&](const std::vector<size_t>& idx) {
    std::vector<std::string> out;
    for (size_t i : idx) out.push_back(names[i]);
    return out;
  };

  // Phase 1: which syscalls must stay allowed (removed ones get ENOSYS).
  DdminOptions d1 = options.ddmin;
  auto phase1 = SILK_TRY(Ddmin(
      names.size(),
      [&](const std::vector<size_t>& kept) -> Result<bool> {
        auto k = pick(kept);
        std::vector<std::string> all_removed;
        std::set<std::string> ks(k.begin(), k.end());
        for (const auto& n : names)
          if (!ks.count(n)) all_removed.push_back(n);
        return oracle(RestrictProfile(profile, k, all_removed));
      },
      d1));

  MinimizeResult result;
  result.kept = pick(phase1.kept);
  std::vector<std::string> removed = pick_removed(phase1.removed);
  result.oracle_runs = phase1.oracle_runs;
  result.cache_hits = phase1.cache_hits;
  result.flaky_candidates = phase1.flaky_candidates;
  result.one_minimal = phase1.one_minimal;
  result.removed_enosys = removed;

  // Phase 2: which removed syscalls need ENOSYS rather than EPERM. Usually none or a
  // few (clone3), so all-EPERM is tried first.
  bool all_eperm = false;
  if (options.choose_eperm && !removed.empty()) {
    all_eperm = SILK_TRY(Confirmed(oracle, RestrictProfile(profile, result.kept, {}),
                                   options.ddmin.confirm_runs, &result.oracle_runs));
    if (all_eperm) {
      result.removed_enosys.clear();
      result.removed_eperm = removed;
    }
  }
  if (options.choose_eperm && !removed.empty() && !all_eperm) {
    DdminOptions d2 = options.ddmin;
    d2.assume_full_passes = true;  // every removal as ENOSYS is phase 1's result
    if (d2.max_oracle_runs)
      d2.max_oracle_runs =
          d2.max_oracle_runs > result.oracle_runs ? d2.max_oracle_runs - result.oracle_runs : 1;
    auto phase2 = SILK_TRY(Ddmin(
        removed.size(),
        [&](const std::vector<size_t>& enosys_idx) -> Result<bool> {
          std::vector<std::string> enosys;
          for (size_t i : enosys_idx) enosys.push_back(removed[i]);
          return oracle(RestrictProfile(profile, result.kept, enosys));
        },
        d2));
    result.removed_enosys.clear();
    for (size_t i : phase2.kept) result.removed_enosys.push_back(removed[i]);
    for (size_t i : phase2.removed) result.removed_eperm.push_back(removed[i]);
    result.oracle_runs += phase2.oracle_runs;
    result.cache_hits += phase2.cache_hits;
    result.flaky_candidates += phase2.flaky_candidates;
  }

  // Phase 1 proved each kept syscall necessary with every removal denied as ENOSYS;
  // when phase 2 changed modes, prove it again for the profile actually written. A
  // removal that passes there (confirmed) is taken, and the proof runs again: the
  // workload may need less with EPERM answers, and a phase-1 verdict may have been a
  // spurious failure (a timeout on a loaded machine). So the result is 1-minimal for
  // the profile as written, not merely checked.
  while (result.one_minimal && !result.removed_eperm.empty()) {
    std::vector<std::string> items;  // kept minus pinned
    for (const auto& k : result.kept)
      if (std::find(pinned.begin(), pinned.end(), k) == pinned.end()) items.push_back(k);
    std::vector<size_t> runs(items.size(), 0), flaky(items.size(), 0);
    std::atomic<size_t> first_pass{items.size()};  // the lowest item whose removal passed
    auto proof = ParallelFor(
        static_cast<int>(options.ddmin.jobs), items.size(), [&](size_t i) -> Result<void> {
          if (first_pass.load() < i) return {};  // a lower one already passed
          std::vector<std::string> kept = result.kept;
          std::erase(kept, items[i]);
          std::vector<std::string> enosys = result.removed_enosys;
          enosys.push_back(items[i]);
          const policy::Profile candidate = RestrictProfile(profile, kept, enosys);
          ++runs[i];
          bool pass = SILK_TRY(oracle(candidate));
          // As in ddmin, a pass is believed only when confirm_runs re-runs agree; a
          // disagreement is flaky and counts as failing.
          for (unsigned c = 0; pass && c < options.ddmin.confirm_runs; ++c) {
            ++runs[i];
            if (!SILK_TRY(oracle(candidate))) {
              ++flaky[i];
              pass = false;
            }
          }
          if (pass) {
            size_t cur = first_pass.load();
            while (i < cur && !first_pass.compare_exchange_weak(cur, i)) {
            }
          }
          return {};
        });
    for (size_t i = 0; i < items.size(); ++i) {
      result.oracle_runs += runs[i];
      result.flaky_candidates += flaky[i];
    }
    SILK_TRY(std::move(proof));
    if (first_pass.load() >= items.size()) break;  // every removal fails: 1-minimal
    const std::string taken = items[first_pass.load()];
    std::erase(result.kept, taken);
    result.removed_enosys.push_back(taken);
    std::sort(result.removed_enosys.begin(), result.removed_enosys.end());
    result.removed_by_proof.push_back(taken);
  }

  result.profile = RestrictProfile(profile, result.kept, result.removed_enosys);
  result.profile.meta.name = options.name;
  result.profile.meta.notes = options.notes;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace silk::tighten
