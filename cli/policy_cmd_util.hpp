// Helpers shared by the `silk policy` subcommands (policy_cmd.cpp,
// policy_algebra_cmd.cpp): the --arch/--caps/--kernel options and profile labels.
#pragma once

#include <string>

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

// Options shared by commands that resolve profiles.
struct ResolveFlags {
  std::string arch;
  std::string caps = "default";
  std::string kernel;

  void Add(po::options_description& o) {
    o.add_options()("arch", po::value(&arch),
                    "architecture to resolve for: amd64, x86, x32, arm64, SCMP_ARCH_* "
                    "(default: this machine's)")(
        "caps", po::value(&caps),
        "capabilities the box has: comma-separated CAP_* names, 'default' (Docker's "
        "default set; the default), 'none' or 'all'")(
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
