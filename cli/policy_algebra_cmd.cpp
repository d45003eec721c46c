// silk policy subset|diff|check: the algebra (policy/algebra.hpp) on the command line.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/policy_cmd_util.hpp"
#include "policy/algebra.hpp"
#include "policy/effective.hpp"
#include "policy/lineage.hpp"

namespace silk::cli::policy_cmd {
namespace {

using nlohmann::ordered_json;

// ---- subset, diff, check: the algebra over effective policies

// The effective policies of a profile on every architecture it covers after resolution.
Result<std::vector<pol::EffectivePolicy>> EffectiveAll(const pol::Profile& profile,
                                                       const pol::ResolveOptions& options,
                                                       const std::string& label) {
  pol::Profile resolved =
      SILK_TRY(WithContext(pol::Resolve(profile, options), "resolving " + label));
  return WithContext(pol::MakeEffectiveAll(resolved), label);
}

ordered_json ViolationJson(const pol::SubsetViolation& v) {
  ordered_json j;
  j["arch"] = v.arch;
  j["syscall"] = v.syscall;
  j["nr"] = v.nr;
  j["rule"] = v.rule;
  j["arguments"] = v.arguments;
  j["text"] = v.text;
  return j;
}

void PrintViolation(std::ostream& os, const pol::SubsetViolation& v) {
  os << "  " << v.text << "\n";  // names the architecture, syscall, rule and arguments
}

}  // namespace

int RunSubset(const Args& args) {
  std::string child, parent;
  ResolveFlags rf;
  Output out("silk policy subset");
  po::options_description o("Options");
  rf.Add(o);
  out.AddJsonFlag(o, "print the result as JSON (also an error)");
  out.AddQuietFlag(o);
  o.add_options()("child", po::value(&child)->required(), "child")(
      "parent", po::value(&parent)->required(), "parent");
  po::positional_options_description pos;
  pos.add("child", 1).add("parent", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy subset CHILD PARENT [--arch A] [--caps LIST] [--json]",
          "Decides CHILD ⊆ PARENT semantically on every architecture CHILD covers: for every\n"
          "syscall and argument value, what CHILD allows PARENT allows too, printing every\n"
          "reason it is not (architecture, syscall, rule, arguments). Both are resolved with\n"
          "the same --arch/--caps (the capability set used is named on stderr).\n"
          "Exit status, as cmp(1): 0 subset, 1 not a subset, 2 trouble (usage, a missing\n"
          "file, a bad profile).\n" +
              std::string(kCapsHelp) + "\n" + ProfileWhere(),
          o, pos, args, vm, out))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return out.Fail(opts.error(), kExitTrouble, OptionOf(opts.error()));
  auto c = pol::LoadProfile(child);
  if (!c) return out.Fail(c.error(), kExitTrouble, "CHILD");
  auto p = pol::LoadProfile(parent);
  if (!p) return out.Fail(p.error(), kExitTrouble, "PARENT");
  std::string cl = ProfileLabel(*c, child), pl = ProfileLabel(*p, parent);
  NoticeCapSet(out, opts->caps);
  auto result = pol::SubsetOfResolved(*c, cl, *p, pl, *opts);
  if (!result) return out.Fail(result.error(), kExitTrouble);
  if (out.json()) {
    ordered_json j;
    j["child"] = cl;
    j["parent"] = pl;
    AddCapSetJson(j, opts->caps);
    j["subset"] = result->subset;
    ordered_json v = ordered_json::array();
    for (const auto& x : result->violations) v.push_back(ViolationJson(x));
    j["violations"] = std::move(v);
    out.Json(j);
  } else if (result->subset) {
    std::cout << cl << " ⊆ " << pl << "\n";
  } else {
    std::cout << cl << " ⊄ " << pl << ": " << result->violations.size()
              << (result->violations.size() == 1 ? " reason" : " reasons") << "\n";
    for (const auto& v : result->violations) PrintViolation(std::cout, v);
  }
  return result->subset ? kExitOk : kExitFailure;
}

int RunDiff(const Args& args) {
  std::string a, b;
  ResolveFlags rf;
  Output out("silk policy diff");
  po::options_description o("Options");
  rf.Add(o);
  out.AddJsonFlag(o, "print the differences as JSON (also an error)");
  out.AddQuietFlag(o);
  o.add_options()("a", po::value(&a)->required(), "a")("b", po::value(&b)->required(), "b");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy diff A B [--arch A] [--caps LIST] [--json]",
          "Compares the effective policies of two profiles (after resolution, per\n"
          "architecture): syscalls added, removed, or with changed conditions or actions.\n"
          "Both are resolved with the same --arch/--caps (the capability set used is named\n"
          "on stderr). With --json: {\"caps\", \"cap_set\", \"differences\": [...]}.\n"
          "Exit status, as diff(1): 0 equal, 1 different, 2 trouble (usage, a missing file,\n"
          "a bad profile).\n" +
              std::string(kCapsHelp) + "\n" + ProfileWhere(),
          o, pos, args, vm, out))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return out.Fail(opts.error(), kExitTrouble, OptionOf(opts.error()));
  auto pa = pol::LoadProfile(a);
  if (!pa) return out.Fail(pa.error(), kExitTrouble, "A");
  auto pb = pol::LoadProfile(b);
  if (!pb) return out.Fail(pb.error(), kExitTrouble, "B");
  NoticeCapSet(out, opts->caps);
  auto ea = EffectiveAll(*pa, *opts, a);
  if (!ea) return out.Fail(ea.error(), kExitTrouble, "A");
  auto eb = EffectiveAll(*pb, *opts, b);
  if (!eb) return out.Fail(eb.error(), kExitTrouble, "B");
  auto diff = pol::Diff(*ea, *eb);
  if (!diff) return out.Fail(diff.error(), kExitTrouble);
  if (out.json()) {
    ordered_json differences = ordered_json::array();
    for (const auto& d : *diff) {
      ordered_json e;
      e["kind"] = pol::DiffKindName(d.kind);
      e["arch"] = d.arch;
      e["syscall"] = d.syscall;
      e["nr"] = d.nr;
      e["before"] = d.before;
      e["after"] = d.after;
      differences.push_back(std::move(e));
    }
    ordered_json j;
    AddCapSetJson(j, opts->caps);
    j["differences"] = std::move(differences);
    out.Json(j);
  } else {
    for (const auto& d : *diff) {
      std::cout << pol::DiffKindName(d.kind) << " " << d.arch << " "
                << (d.syscall.empty() ? "(default)" : d.syscall) << ":";
      if (d.kind != pol::DiffEntry::Kind::kAdded) std::cout << "\n  - " << d.before;
      if (d.kind != pol::DiffEntry::Kind::kRemoved) std::cout << "\n  + " << d.after;
      std::cout << "\n";
    }
  }
  return diff->empty() ? kExitOk : kExitFailure;
}

int RunCheck(const Args& args) {
  std::string dir;
  ResolveFlags rf;
  Output out("silk policy check");
  po::options_description o("Options");
  rf.Add(o);
  out.AddJsonFlag(o, "print the result as JSON (also an error)");
  out.AddQuietFlag(o);
  o.add_options()("dir", po::value(&dir)->required(), "directory");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy check DIR [--arch A] [--caps LIST] [--json]",
          "Loads every *.json profile in DIR as a lineage (silk.extends; parents may be\n"
          "built-in profiles), then verifies child ⊆ parent for every pair and prints each\n"
          "violation.\n"
          "Every profile is resolved with the same --arch/--caps (the capability set used is\n"
          "named on stderr). With --json: {\"caps\", \"cap_set\", \"pairs\": [...]}.\n"
          "Exit status, as cmp(1): 0 the whole lineage holds, 1 a child is not a subset of\n"
          "its parent, 2 trouble: usage, DIR missing or holding no profile, a profile that\n"
          "does not parse, a parent that does not exist, a cycle.\n" +
              std::string(kCapsHelp),
          o, pos, args, vm, out))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return out.Fail(opts.error(), kExitTrouble, OptionOf(opts.error()));
  auto lineage = pol::LoadLineage(dir);
  if (!lineage) return out.Fail(lineage.error(), kExitTrouble, "DIR");
  NoticeCapSet(out, opts->caps);
  auto checks = pol::CheckLineage(*lineage, *opts);
  if (!checks) return out.Fail(checks.error(), kExitTrouble);
  bool ok = true;
  ordered_json pairs = ordered_json::array();
  for (const auto& e : *checks) {
    ok = ok && e.result.subset;
    if (out.json()) {
      ordered_json j;
      j["child"] = e.child;
      j["child_file"] = e.child_file;
      j["parent"] = e.parent;
      j["subset"] = e.result.subset;
      ordered_json v = ordered_json::array();
      for (const auto& x : e.result.violations) v.push_back(ViolationJson(x));
      j["violations"] = std::move(v);
      pairs.push_back(std::move(j));
    } else if (e.result.subset) {
      std::cout << "ok         " << e.child << " ⊆ " << e.parent << "\n";
    } else {
      std::cout << "VIOLATION  " << e.child << " ⊄ " << e.parent << " (" << e.child_file
                << "): " << e.result.violations.size()
                << (e.result.violations.size() == 1 ? " reason" : " reasons") << "\n";
      for (const auto& v : e.result.violations) PrintViolation(std::cout, v);
    }
  }
  if (out.json()) {
    ordered_json j;
    AddCapSetJson(j, opts->caps);
    j["pairs"] = std::move(pairs);
    out.Json(j);
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace silk::cli::policy_cmd
