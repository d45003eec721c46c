#include "cli/command.hpp"

#include <iostream>

namespace silk::cli {

int Dispatch(std::string_view prog, std::string_view about, const std::vector<Command>& commands,
             const Args& args) {
  auto print_table = [&](std::ostream& os) {
    os << "Usage: " << prog << " <command> [options]\n\n" << about << "\n\nCommands:\n";
    size_t width = 0;
    for (const auto& c : commands) width = std::max(width, c.name.size());
    for (const auto& c : commands)
      os << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
    os << "\nRun '" << prog << " <command> --help' for a command's options.\n";
  };
  if (args.empty()) {
    print_table(std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_table(std::cout);
    return kExitOk;
  }
  for (const auto& c : commands) {
    if (c.name == args[0]) return c.run(Args(args.begin() + 1, args.end()));
  }
  return UsageError(prog, "unknown command '" + args[0] + "'");
}

std::optional<int> ParseArgs(std::string_view usage, std::string_view about,
                             po::options_description options,
                             const po::positional_options_description& positional, const Args& args,
                             po::variables_map& vm) {
  options.add_options()("help,h", "show this help");
  std::string prog(usage.substr(0, usage.find(' ', usage.find(' ') + 1)));
  try {
    po::store(
        po::command_line_parser(args)
            .options(options)
            .positional(positional)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run(),
        vm);
    if (vm.count("help")) {
      std::cout << "Usage: " << usage << "\n\n" << about << "\n\n" << options;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageError(prog, e.what());
  }
  return std::nullopt;
}

std::pair<Args, Args> SplitAtDoubleDash(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--")
      return {Args(args.begin(), args.begin() + static_cast<long>(i)),
              Args(args.begin() + static_cast<long>(i) + 1, args.end())};
  }
  return {args, {}};
}

int ReportError(const Error& error, bool usage) {
  std::cerr << "silk: error: " << error.ToString() << "\n";
  return usage && error.code() == ErrorCode::kInvalidInput ? kExitUsage : kExitFailure;
}

int UsageError(std::string_view prog, std::string_view message) {
  std::cerr << "silk: " << message << "\nTry '" << prog << " --help'.\n";
  return kExitUsage;
}

}  // namespace silk::cli
