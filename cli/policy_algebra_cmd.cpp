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

// child ⊆ parent for two loaded profiles; fills `result`.
Result<pol::SubsetResult> SubsetOf(const pol::Profile& child, const std::string& child_label,
                                   const pol::Profile& parent, const std::string& parent_label,
                                   const pol::ResolveOptions& options) {
  auto c = SILK_TRY(EffectiveAll(child, options, child_label));
  auto p = SILK_TRY(EffectiveAll(parent, options, parent_label));
  return pol::Subset(c, p);
}

}  // namespace

int RunSubset(const Args& args) {
  std::string child, parent;
  ResolveFlags rf;
  bool json = false;
  po::options_description o("Options");
  rf.Add(o);
  o.add_options()("json", po::bool_switch(&json), "print the result as JSON");
  o.add_options()("child", po::value(&child)->required(), "child")(
      "parent", po::value(&parent)->required(), "parent");
  po::positional_options_description pos;
  pos.add("child", 1).add("parent", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy subset CHILD PARENT [--arch A] [--caps LIST] [--json]",
          "Decides CHILD ⊆ PARENT semantically on every architecture CHILD covers: for every\n"
          "syscall and argument value, what CHILD allows PARENT allows too. Exits 0 when it\n"
          "is a subset, 1 otherwise, printing every reason (architecture, syscall, rule,\n"
          "arguments). Both are resolved with the same --arch/--caps.\n" +
              ProfileWhere(),
          o, pos, args, vm))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return ReportError(opts.error(), true);
  auto c = pol::LoadProfile(child);
  if (!c) return ReportError(c.error());
  auto p = pol::LoadProfile(parent);
  if (!p) return ReportError(p.error());
  std::string cl = ProfileLabel(*c, child), pl = ProfileLabel(*p, parent);
  auto result = SubsetOf(*c, cl, *p, pl, *opts);
  if (!result) return ReportError(result.error());
  if (json) {
    ordered_json j;
    j["child"] = cl;
    j["parent"] = pl;
    j["subset"] = result->subset;
    ordered_json v = ordered_json::array();
    for (const auto& x : result->violations) v.push_back(ViolationJson(x));
    j["violations"] = std::move(v);
    std::cout << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
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
  bool json = false;
  po::options_description o("Options");
  rf.Add(o);
  o.add_options()("json", po::bool_switch(&json), "print the differences as JSON");
  o.add_options()("a", po::value(&a)->required(), "a")("b", po::value(&b)->required(), "b");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy diff A B [--arch A] [--caps LIST] [--json]",
          "Compares the effective policies of two profiles (after resolution, per\n"
          "architecture): syscalls added, removed, or with changed conditions or actions.\n"
          "Like diff(1): exits 0 when they are equal, 1 when they differ.\n" +
              ProfileWhere(),
          o, pos, args, vm))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return ReportError(opts.error(), true);
  auto pa = pol::LoadProfile(a);
  if (!pa) return ReportError(pa.error());
  auto pb = pol::LoadProfile(b);
  if (!pb) return ReportError(pb.error());
  auto ea = EffectiveAll(*pa, *opts, a);
  if (!ea) return ReportError(ea.error());
  auto eb = EffectiveAll(*pb, *opts, b);
  if (!eb) return ReportError(eb.error());
  auto diff = pol::Diff(*ea, *eb);
  if (!diff) return ReportError(diff.error());
  if (json) {
    ordered_json j = ordered_json::array();
    for (const auto& d : *diff) {
      ordered_json e;
      e["kind"] = pol::DiffKindName(d.kind);
      e["arch"] = d.arch;
      e["syscall"] = d.syscall;
      e["nr"] = d.nr;
      e["before"] = d.before;
      e["after"] = d.after;
      j.push_back(std::move(e));
    }
    std::cout << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
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
  bool json = false;
  po::options_description o("Options");
  rf.Add(o);
  o.add_options()("json", po::bool_switch(&json), "print the result as JSON");
  o.add_options()("dir", po::value(&dir)->required(), "directory");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (auto rc =
          ParseArgs("silk policy check DIR [--arch A] [--caps LIST] [--json]",
                    "Loads every *.json profile in DIR as a lineage (silk.extends; parents may be\n"
                    "built-in profiles), then verifies child ⊆ parent for every pair. Prints each\n"
                    "violation; exits 0 when the whole lineage holds, 1 otherwise.",
                    o, pos, args, vm))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return ReportError(opts.error(), true);
  auto lineage = pol::LoadLineage(dir);
  if (!lineage) return ReportError(lineage.error());
  bool ok = true;
  ordered_json pairs = ordered_json::array();
  for (const auto& [child, parent] : lineage->Edges()) {
    const pol::LineageNode& c = lineage->nodes.at(child);
    const pol::LineageNode& p = lineage->nodes.at(parent);
    auto result = SubsetOf(c.profile, child, p.profile, parent, *opts);
    if (!result) return ReportError(result.error().Wrap(c.file));
    ok = ok && result->subset;
    if (json) {
      ordered_json j;
      j["child"] = child;
      j["child_file"] = c.file;
      j["parent"] = parent;
      j["subset"] = result->subset;
      ordered_json v = ordered_json::array();
      for (const auto& x : result->violations) v.push_back(ViolationJson(x));
      j["violations"] = std::move(v);
      pairs.push_back(std::move(j));
    } else if (result->subset) {
      std::cout << "ok         " << child << " ⊆ " << parent << "\n";
    } else {
      std::cout << "VIOLATION  " << child << " ⊄ " << parent << " (" << c.file
                << "): " << result->violations.size()
                << (result->violations.size() == 1 ? " reason" : " reasons") << "\n";
      for (const auto& v : result->violations) PrintViolation(std::cout, v);
    }
  }
  if (json) std::cout << pairs.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  return ok ? kExitOk : kExitFailure;
}

}  // namespace silk::cli::policy_cmd
