// Helpers shared by the `silk policy` subcommands (policy_cmd.cpp,
// policy_algebra_cmd.cpp): the --arch/--caps/--kernel options and profile labels.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "cli/command.hpp"
#include "policy/builtin.hpp"
#include "policy/profile.hpp"
#include "policy/resolve.hpp"

namespace silk::cli::policy_cmd {

namespace pol = silk::policy;

inline constexpr std::string_view kProfileHelp =
    "PROFILE is a file or a built-in profile name (" /* names appended at run time */;

inline std::string ProfileWhere() {
  return std::string(kProfileHelp) + Join(pol::BuiltinProfileNames(), ", ") + ").";
}

// The resolving commands' word on capabilities, for their --help.
inline constexpr std::string_view kCapsHelp =
    "Capabilities: a profile is resolved for none unless --caps says otherwise, as a box\n"
    "has none (`silk box run --cap` adds some); --caps default gives Docker's 14.";

// Options shared by commands that resolve profiles. Capabilities default to none, as a
// compatibility box has none (`silk box run` adds only what --cap names), so that what
// these commands print is what a box enforces.
struct ResolveFlags {
  std::string arch;
  std::string caps = "none";
  std::string kernel;

  void Add(po::options_description& o) {
    o.add_options()("arch", po::value(&arch),
                    "architecture to resolve for: amd64, x86, x32, arm64, SCMP_ARCH_* "
                    "(default: this machine's)")(
        "caps", po::value(&caps),
        "capabilities to resolve for: 'none' (the default: a box has none), 'default' "
        "(Docker's 14 default capabilities), 'all', or comma-separated CAP_* names")(
        "kernel", po::value(&kernel), "kernel version for minKernel rules (default: running)");
  }

  Result<pol::ResolveOptions> Options() const {
    pol::ResolveOptions o;
    o.arch = arch;
    if (!arch.empty()) SILK_TRY(WithContext(pol::ParseArch(arch), "--arch"));
    o.caps = SILK_TRY(WithContext(pol::ParseCapList(caps), "--caps"));
    if (!kernel.empty())
      o.kernel = SILK_TRY(WithContext(pol::ParseKernelVersion(kernel), "--kernel"));
    return o;
  }
};

// Which capability set a profile was resolved for, as a person reads it: "none (a box's
// default; --caps default for Docker's)", "default (Docker's 14)", "all", or the list.
inline std::string CapSetText(const std::vector<std::string>& caps) {
  const std::string name = pol::CapSetName(caps);
  if (name == "none") return "none (a box's default; --caps default for Docker's)";
  if (name == "default") return "default (Docker's " + std::to_string(caps.size()) + ")";
  return name;
}

// Names the capability set on stderr ("silk policy diff: resolved with capabilities
// none (...)"), unless quiet or --json (whose document carries it, AddCapSetJson).
inline void NoticeCapSet(const Output& out, const std::vector<std::string>& caps,
                         std::string_view what = "resolved with") {
  if (!out.json())
    out.Notice() << out.prog() << ": " << what << " capabilities " << CapSetText(caps) << "\n";
}

// The capability set as --json output carries it: "caps" (the names) and "cap_set"
// (what --caps reads back: "none", "default", "all" or the list).
inline void AddCapSetJson(nlohmann::ordered_json& j, const std::vector<std::string>& caps) {
  j["caps"] = caps;
  j["cap_set"] = pol::CapSetName(caps);
}

// The option an error of ResolveFlags::Options() is about ("--arch"), or "".
inline std::string OptionOf(const Error& e) {
  return !e.context().empty() && e.context().front().rfind("--", 0) == 0 ? e.context().front() : "";
}

inline std::string ProfileLabel(const pol::Profile& p, const std::string& fallback) {
  return p.meta.name.empty() ? fallback : p.meta.name;
}

int RunSubset(const Args& args);
int RunDiff(const Args& args);
int RunCheck(const Args& args);

}  // namespace silk::cli::policy_cmd
