// silk policy: API profiles on the command line. Thin layer over policy/:
//   show     a profile's metadata and its effective policy on one architecture
//   lint     every problem in profile files, with file:line:column
//   diff, subset, check   the algebra (policy_algebra_cmd.cpp)
//   compile  to BPF / PFC, by silk's own generator (policy_compile_cmd.cpp)
//   import   any Docker/Podman/OCI profile -> canonical silk JSON with metadata
//   export   plain OCI JSON resolved for an architecture and capability set
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "cli/policy_cmd_util.hpp"
#include "policy/algebra.hpp"
#include "policy/builtin.hpp"
#include "policy/compile.hpp"
#include "policy/effective.hpp"
#include "policy/lineage.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "policy/syscalls.hpp"

namespace silk::cli {
namespace {

constexpr std::string_view kAllowedHelp =
    "'allowed' counts the syscalls some argument values let run (allow, log), for any\n"
    "arguments or only under argument conditions; silk regress prints the same count.";

using nlohmann::ordered_json;
using policy_cmd::AddCapSetJson;
using policy_cmd::CapSetText;
using policy_cmd::kCapsHelp;
using policy_cmd::NoticeCapSet;
using policy_cmd::ProfileLabel;
using policy_cmd::ProfileWhere;
using policy_cmd::ResolveFlags;
namespace pol = silk::policy;

// Prints `words` after `indent`, wrapped at 100 columns.
void PrintWrapped(std::ostream& os, const std::vector<std::string>& words, size_t indent) {
  size_t col = indent;
  os << std::string(indent, ' ');
  for (size_t i = 0; i < words.size(); ++i) {
    if (col > indent && col + 1 + words[i].size() > 100) {
      os << "\n" << std::string(indent, ' ');
      col = indent;
    } else if (col > indent) {
      os << ' ';
      ++col;
    }
    os << words[i];
    col += words[i].size();
  }
  os << "\n";
}

Result<pol::Profile> LoadAndResolve(const std::string& in, const pol::ResolveOptions& options) {
  pol::Profile profile = SILK_TRY(pol::LoadProfile(in));
  return WithContext(pol::Resolve(profile, options), "resolving " + in);
}

ordered_json EffectiveJson(const pol::EffectivePolicy& ep) {
  ordered_json j;
  j["arch"] = ep.arch;
  j["default"] = pol::VerdictToString(ep.default_verdict);
  ordered_json calls = ordered_json::array();
  for (const auto& [nr, sp] : ep.syscalls) {
    ordered_json c;
    c["name"] = sp.name;
    c["nr"] = nr;
    ordered_json rules = ordered_json::array();
    for (const auto& r : sp.rules) {
      ordered_json rule;
      rule["verdict"] = pol::VerdictToString(r.verdict);
      ordered_json args = ordered_json::array();
      for (const auto& a : r.args) args.push_back(pol::ConditionToString(a));
      rule["args"] = std::move(args);
      rules.push_back(std::move(rule));
    }
    c["rules"] = std::move(rules);
    calls.push_back(std::move(c));
  }
  j["syscalls"] = std::move(calls);
  return j;
}

// ---- show

int RunShow(const Args& args) {
  std::string in;
  ResolveFlags rf;
  Output out("silk policy show");
  bool raw = false;
  po::options_description o("Options");
  rf.Add(o);
  out.AddJsonFlag(o, "print the effective policy as JSON (also an error)");
  o.add_options()("raw", po::bool_switch(&raw), "print the profile as canonical JSON, unresolved");
  o.add_options()("profile", po::value(&in)->required(), "profile");
  po::positional_options_description pos;
  pos.add("profile", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk policy show PROFILE [--arch A] [--caps LIST] [--json|--raw]",
                          "Shows a profile's metadata and its effective policy on one "
                          "architecture (every syscall's verdict).\n" +
                              std::string(kAllowedHelp) + "\n" + std::string(kCapsHelp) + "\n" +
                              ProfileWhere(),
                          o, pos, args, vm, out))
    return *rc;
  if (raw && out.json()) return out.Usage("give --json or --raw, not both", "--raw");
  auto profile = pol::LoadProfile(in);
  if (!profile) return out.Fail(profile.error(), kExitFailure, "PROFILE");
  if (raw) {
    std::cout << pol::WriteProfile(*profile);
    return kExitOk;
  }
  auto opts = rf.Options();
  if (!opts) return out.Fail(opts.error(), kExitUsage, policy_cmd::OptionOf(opts.error()));
  auto resolved = pol::Resolve(*profile, *opts);
  if (!resolved) return out.Fail(resolved.error());
  std::string arch = rf.arch.empty() ? pol::ArchName(pol::NativeArch()) : rf.arch;
  auto ep = pol::MakeEffective(*resolved, arch);
  if (!ep) return out.Fail(ep.error());
  auto allowed = pol::CountAllowed(*ep);
  if (!allowed) return out.Fail(allowed.error());
  const pol::ProfileMeta& m = profile->meta;
  if (out.json()) {
    ordered_json j;
    j["name"] = m.name;
    j["extends"] = m.extends;
    if (m.generation) j["generation"] = *m.generation;
    j["horizon"] = m.horizon;
    AddCapSetJson(j, opts->caps);
    j["allowed"] = {{"total", allowed->total},
                    {"any_arguments", allowed->unconditional},
                    {"under_conditions", allowed->conditional}};
    j["effective"] = EffectiveJson(*ep);
    out.Json(j);
    return kExitOk;
  }
  std::cout << "profile " << ProfileLabel(*profile, in);
  if (!m.extends.empty()) std::cout << " (extends " << m.extends << ")";
  if (m.generation) std::cout << ", generation " << *m.generation;
  std::cout << "\n  default:  "
            << pol::VerdictToString(
                   pol::MakeVerdict(profile->default_action, profile->default_errno_ret))
            << "\n  rules:    " << profile->syscalls.size() << "\n";
  if (!m.horizon.empty()) std::cout << "  horizon:  " << m.horizon << "\n";
  const char* clone3[] = {"enosys", "allow", "deny"};
  std::cout << "  clone3:   " << clone3[static_cast<int>(m.clone3)] << "\n";
  if (!m.notes.empty()) std::cout << "  notes:    " << m.notes << "\n";
  std::cout << "effective on " << ep->arch << " with capabilities " << CapSetText(opts->caps)
            << ":\n"
            << "  allowed:  " << allowed->total << " syscalls (" << allowed->unconditional
            << " for any arguments, " << allowed->conditional << " under argument conditions)\n";
  std::map<std::string, std::vector<std::string>> by_verdict;
  std::vector<const pol::SyscallPolicy*> conditional;
  for (const auto& [nr, sp] : ep->syscalls) {
    if (sp.rules.size() == 1 && sp.rules[0].args.empty())
      by_verdict[pol::VerdictToString(sp.rules[0].verdict)].push_back(sp.name);
    else
      conditional.push_back(&sp);
  }
  for (auto& [verdict, names] : by_verdict) {
    std::sort(names.begin(), names.end());
    std::cout << "  " << verdict << " (" << names.size() << "):\n";
    PrintWrapped(std::cout, names, 4);
  }
  if (!conditional.empty()) {
    std::cout << "  conditional (" << conditional.size() << "):\n";
    for (const auto* sp : conditional) {
      std::cout << "    " << sp->name << ":\n";
      for (const auto& r : sp->rules) std::cout << "      " << pol::RuleToString(r) << "\n";
    }
  }
  std::cout << "  everything else: " << pol::VerdictToString(ep->default_verdict) << "\n";
  return kExitOk;
}

// ---- lint

int RunLint(const Args& args) {
  std::vector<std::string> files;
  bool json = false;
  ResolveFlags rf;
  Output out("silk policy lint");
  po::options_description o("Options");
  o.add_options()("json", po::bool_switch(&json), "print the problems as a JSON array");
  rf.Add(o);
  out.AddQuietFlag(o);
  o.add_options()("profile", po::value(&files)->required(), "profiles");
  po::positional_options_description pos;
  pos.add("profile", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk policy lint PROFILE... [--arch A] [--caps LIST] [--json]",
                          "Checks profiles and prints every problem as file:line:column: path: "
                          "message.\nEach profile is also compiled as `silk policy compile` "
                          "would, with the same\n--arch/--caps/--kernel (the capability set "
                          "used is named on stderr).\nExits 1 if any profile has an error.\n" +
                              std::string(kCapsHelp) + "\n" + ProfileWhere(),
                          o, pos, args, vm))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return ReportError(opts.error(), /*usage=*/true);
  if (!json) NoticeCapSet(out, opts->caps, "compiling with");
  std::vector<pol::Diagnostic> all;
  size_t errors = 0;
  for (const auto& f : files) {
    std::string text, label = f;
    auto read = ReadRegularFile(f);
    if (auto builtin = pol::BuiltinProfileText(f); builtin && f.find('/') == std::string::npos &&
                                                   !read &&
                                                   read.error().code() == ErrorCode::kNotFound) {
      text = *builtin;
      label = "<builtin:" + f + ">";
    } else {
      if (!read) {
        all.push_back(pol::Diagnostic{f, 0, 0, "", read.error().ToString()});
        ++errors;
        continue;
      }
      text = std::move(*read);
    }
    pol::ProfileCheck check = pol::CheckProfileText(text, label);
    if (check.profile) {
      // Problems only resolution and compilation find (minKernel values, names on this
      // architecture, rules too large for BPF): the same checks `compile` runs.
      if (auto compiles = pol::CheckCompiles(*check.profile, *opts); !compiles)
        check.diagnostics.push_back(
            pol::Diagnostic{label, 0, 0, "",
                            Error(compiles.error())
                                .Wrap("compiling with capabilities " + pol::CapSetName(opts->caps))
                                .ToString()});
    }
    all.insert(all.end(), check.diagnostics.begin(), check.diagnostics.end());
    errors += check.diagnostics.size() + check.omitted;
    if (check.omitted > 0)
      all.push_back(pol::Diagnostic{label, 0, 0, "",
                                    "... and " + std::to_string(check.omitted) +
                                        " more errors (only the first " +
                                        std::to_string(check.diagnostics.size()) + " are listed)"});
    if (!json && check.diagnostics.empty()) std::cout << label << ": ok\n";
  }
  if (json) {
    ordered_json j = ordered_json::array();
    for (const auto& d : all) {
      ordered_json e;
      e["file"] = d.file;
      e["line"] = d.line;
      e["column"] = d.column;
      e["path"] = d.path;
      e["message"] = d.message;
      j.push_back(std::move(e));
    }
    std::cout << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& d : all) std::cout << d.ToString() << "\n";
    if (errors > 0) std::cout << errors << (errors == 1 ? " error" : " errors") << "\n";
  }
  return errors == 0 ? kExitOk : kExitFailure;
}

// ---- export

int RunExport(const Args& args) {
  std::string in, out_file;
  ResolveFlags rf;
  Output out("silk policy export");
  bool keep_meta = false;
  po::options_description o("Options");
  o.add_options()("out,o", po::value(&out_file)->required(), "output file ('-' for stdout)");
  rf.Add(o);
  out.AddQuietFlag(o);
  o.add_options()("keep-meta", po::bool_switch(&keep_meta),
                  "keep the \"silk\" metadata object (runtimes ignore it)");
  o.add_options()("profile", po::value(&in)->required(), "profile");
  po::positional_options_description pos;
  pos.add("profile", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy export PROFILE --out FILE [--arch A] [--caps LIST]",
          "Writes plain OCI seccomp JSON resolved for one architecture and capability set:\n"
          "no archMap, includes/excludes or comments left, and silk's clone3 policy and\n"
          "horizon written out as rules, so runc, crun, Docker and Podman enforce exactly\n"
          "the effective policy silk computes. The capability set used is named on stderr.\n" +
              std::string(kCapsHelp) + "\n" + ProfileWhere(),
          o, pos, args, vm, out))
    return *rc;
  auto opts = rf.Options();
  if (!opts) return out.Fail(opts.error(), kExitUsage, policy_cmd::OptionOf(opts.error()));
  auto resolved = LoadAndResolve(in, *opts);
  if (!resolved) return out.Fail(resolved.error(), kExitFailure, "PROFILE");
  auto plain = pol::MaterializeSilkRules(*resolved);
  if (!plain) return out.Fail(plain.error());
  if (auto ep = pol::MakeEffectiveAll(*plain); !ep) return out.Fail(ep.error());
  std::string text = pol::WriteProfile(*plain, {.meta = keep_meta, .comments = false});
  const std::string caps = CapSetText(opts->caps);
  if (out_file == "-") {
    std::cout << text;
    NoticeCapSet(out, opts->caps);
    return kExitOk;
  }
  if (auto w = WriteFileAtomic(out_file, text); !w)
    return out.Fail(w.error(), kExitFailure, "--out");
  out.Notice() << "wrote " << out_file << ": " << plain->syscalls.size() << " rules for "
               << Join(plain->architectures, ",") << ", capabilities " << caps << "\n";
  return kExitOk;
}

// ---- import

// The parent a profile names in silk.extends: a built-in profile, or the profile of that
// name (silk.name, else the file name) among the *.json files in `dir` other than
// `self`. Errors: kNotFound naming both places and the nearest names.
Result<pol::Profile> FindParent(const std::string& name, const std::string& dir,
                                const std::string& self) {
  if (auto builtin = pol::BuiltinProfile(name)) return *builtin;
  namespace fs = std::filesystem;
  std::vector<std::string> candidates = pol::BuiltinProfileNames();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->path().extension() != ".json" || !it->is_regular_file(entry_ec)) continue;
    if (fs::equivalent(it->path(), self, entry_ec)) continue;
    auto p = pol::ReadProfileFile(it->path().string());
    if (!p) continue;  // not a profile of this lineage; `silk policy check` reports it
    const std::string n = p->meta.name.empty() ? it->path().stem().string() : p->meta.name;
    if (n == name) return *p;
    candidates.push_back(n);
  }
  return Fail(ErrorCode::kNotFound,
              "--extends names '" + name +
                  "', which is neither a built-in profile nor a profile in " + dir +
                  DidYouMean(name, candidates) +
                  "; import the parent into that directory first, so the child can be checked "
                  "against it");
}

int RunImport(const Args& args) {
  std::string in, out_file, name, extends, horizon, clone3, notes;
  int generation = -1;
  Output out("silk policy import");
  po::options_description o("Options");
  o.add_options()("out,o", po::value(&out_file)->required(), "output file ('-' for stdout)")(
      "name", po::value(&name), "silk profile name (default: kept, or the file name)")(
      "extends", po::value(&extends),
      "the parent profile's name: a built-in profile or a profile in the --out directory; "
      "the profile must be a subset of it")("generation", po::value(&generation),
                                            "testbed generation this profile is for")(
      "horizon", po::value(&horizon), "kernel version whose syscall table the profile knows")(
      "clone3", po::value(&clone3),
      "clone3 policy when the profile does not name clone3: "
      "enosys, allow or deny")("notes", po::value(&notes), "how the profile was made");
  out.AddQuietFlag(o);
  o.add_options()("profile", po::value(&in)->required(), "profile");
  po::positional_options_description pos;
  pos.add("profile", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy import FILE --out FILE [--name N] [--extends P] [--generation G]",
          "Reads a Docker, Podman or OCI seccomp profile, validates it strictly, attaches\n"
          "silk metadata and writes canonical silk JSON (still usable by every runtime).\n"
          "A profile that names a parent (--extends, or silk.extends in FILE) must be a\n"
          "subset of it, resolved as a box resolves it (no capabilities); otherwise nothing\n"
          "is written and every reason is printed (exit 1).",
          o, pos, args, vm, out))
    return *rc;
  auto profile = pol::ReadProfileFile(in);
  if (!profile) return out.Fail(profile.error(), kExitFailure, "FILE");
  pol::ProfileMeta& m = profile->meta;
  if (vm.count("name")) m.name = name;
  if (m.name.empty()) {
    std::string base = in.substr(in.find_last_of('/') + 1);
    m.name = base.substr(0, base.rfind(".json"));
  }
  if (vm.count("extends")) m.extends = extends;
  if (vm.count("generation")) {
    if (generation < 0) return out.Usage("--generation must be >= 0", "--generation");
    m.generation = generation;
  }
  if (vm.count("horizon")) m.horizon = horizon;
  if (vm.count("notes")) m.notes = notes;
  if (vm.count("clone3")) {
    if (clone3 == "enosys")
      m.clone3 = pol::Clone3Policy::kEnosys;
    else if (clone3 == "allow")
      m.clone3 = pol::Clone3Policy::kAllow;
    else if (clone3 == "deny")
      m.clone3 = pol::Clone3Policy::kDeny;
    else
      return out.Usage("--clone3 must be enosys, allow or deny", "--clone3");
  }
  if (auto problems = pol::ValidateProfile(*profile, "--name/--extends/--horizon");
      !problems.empty())
    return out.Fail(pol::DiagnosticsError(problems), kExitUsage);
  if (!m.extends.empty()) {
    // Lineage integrity: the child is checked against the parent it names.
    const std::string dir =
        out_file == "-" ? "." : std::filesystem::path(out_file).parent_path().string();
    auto parent = FindParent(m.extends, dir.empty() ? "." : dir, out_file);
    if (!parent) return out.Fail(parent.error(), kExitFailure, "--extends");
    auto sub =
        pol::SubsetOfResolved(*profile, m.name, *parent, m.extends, pol::BoxResolveOptions());
    if (!sub) return out.Fail(sub.error());
    if (!sub->subset) {
      std::string msg = in + ": profile '" + m.name + "' names parent '" + m.extends +
                        "' but is not a subset of it: " + std::to_string(sub->violations.size()) +
                        (sub->violations.size() == 1 ? " reason" : " reasons");
      for (const auto& v : sub->violations) msg += "\n  " + v.text;
      msg += "\nnothing written; remove what the parent does not allow, or name another parent";
      return out.Fail(Error(ErrorCode::kDenied, msg), kExitFailure, "--extends");
    }
  }
  std::string text = pol::WriteProfile(*profile);
  if (out_file == "-") {
    std::cout << text;
    return kExitOk;
  }
  if (auto w = WriteFileAtomic(out_file, text); !w)
    return out.Fail(w.error(), kExitFailure, "--out");
  out.Notice() << "wrote " << out_file << ": profile " << m.name << ", " << profile->syscalls.size()
               << " rules\n";
  return kExitOk;
}

}  // namespace

int RunPolicy(const Args& args) {
  using policy_cmd::RunCheck;
  using policy_cmd::RunDiff;
  using policy_cmd::RunSubset;
  static const std::vector<Command> commands = {
      {"show", "a profile's metadata and effective policy on one architecture", RunShow},
      {"lint", "every problem in profiles, with file:line:column (exit 1 on any)", RunLint},
      {"diff", "effective policies of two profiles (exit 0 iff equal, like diff(1))", RunDiff},
      {"subset", "CHILD ⊆ PARENT, with every reason it is not (exit 0 iff subset)", RunSubset},
      {"check", "every parent/child pair of a lineage directory", RunCheck},
      {"compile", "to seccomp BPF or PFC text (silk's generator; libseccomp's for comparison)",
       RunPolicyCompile},
      {"import", "Docker/Podman/OCI profile -> canonical silk JSON with metadata", RunImport},
      {"export", "plain OCI JSON resolved for an architecture and capability set", RunExport},
      {"learn", "record what a command or suite uses -> a profile ⊆ PARENT", RunPolicyLearn},
      {"minimize", "ddmin a profile against an oracle run in boxes (1-minimal)", RunPolicyMinimize},
      {"tighten", "next generation: PARENT ∩ learned-for-SUITE [minimised]", RunPolicyTighten},
  };
  return Dispatch("silk policy", "API profiles: seccomp profiles in the OCI format with a lineage.",
                  commands, args);
}

}  // namespace silk::cli
