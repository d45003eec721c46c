// silk: one binary for every testbed generation. Subcommands are thin layers over
// the libraries (policy/, compat/, images/, vmm/, ...).
#include <iostream>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "cli/commands.hpp"

namespace {

constexpr std::string_view kAbout =
    "silk: a nested, self-virtualizing testbed. Slices of compatibility boxes and\n"
    "thinix VMs; API profiles that each testbed generation tightens.";

const std::vector<silk::cli::Command>& TopCommands() {
  static const std::vector<silk::cli::Command> commands = {
      {"policy", "API profiles: show, lint, diff, subset, check, compile, import, export",
       silk::cli::RunPolicy},
      {"box", "compatibility boxes: run a command in a sandbox, sweep stale boxes",
       silk::cli::BoxMain},
      {"regress", "run a workload suite under every profile of a lineage", silk::cli::RegressMain},
      {"vm", "run and list thinix VMs (libvirt)", silk::cli::VmMain},
      {"vmm", "hypervisor manager: doctor", silk::cli::VmmMain},
      {"agent", "guest side of the VM control channel (runs inside thinix)", silk::cli::AgentMain},
      {"image", "build, verify and show thinix VM images", silk::cli::ImageMain},
  };
  return commands;
}

}  // namespace

int main(int argc, char** argv) {
  silk::cli::Args args(argv + 1, argv + argc);
  // Global flags come before the subcommand.
  while (!args.empty()) {
    if (args[0] == "--version") {
      std::cout << "silk " SILK_VERSION "\n";
      return 0;
    }
    if (args[0] == "-v" || args[0] == "--verbose") {
      silk::SetLogLevel(silk::LogLevel::kDebug);
    } else if (args[0] == "-q" || args[0] == "--quiet") {
      silk::SetLogLevel(silk::LogLevel::kWarning);
    } else {
      break;
    }
    args.erase(args.begin());
  }
  return silk::cli::Dispatch("silk", kAbout, TopCommands(), args);
}
